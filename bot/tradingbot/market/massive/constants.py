"""Where Massive (formerly Polygon.io) serves its data: the WebSocket hosts of each feed and the REST base.

The REST base's default is the contract's (``MASSIVE_REST_URL``); the WebSocket host follows the feed a
plan entitles (``MASSIVE_FEED``) unless ``MASSIVE_WS_URL`` points elsewhere (a local server in tests).
"""

from __future__ import annotations

from typing import Literal

from tradingbot_contract import env

Feed = Literal["realtime", "delayed"]
"""Real-time data, or the 15-minute delayed feed of cheaper plans."""
WEBSOCKET_HOSTS: dict[Feed, str] = {"realtime": "wss://socket.massive.com", "delayed": "wss://delayed.massive.com"}
"""Each feed's WebSocket base; the stocks and options clusters are paths below it."""
REST_URL = str(env.MASSIVE_REST_URL.default)
"""The REST API's base URL."""


def stream_urls(feed: Feed = "realtime", base: str | None = None) -> tuple[str, str]:
    """The stocks and options WebSocket URLs of ``feed``, or below ``base`` when it is given."""
    root = (base or WEBSOCKET_HOSTS[feed]).rstrip("/")
    return f"{root}/stocks", f"{root}/options"
