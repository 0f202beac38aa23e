"""The bot's HTTP server (aiohttp, same event loop as the trading loop): /health, /ready, /status,
/metrics and /trades.

Handlers only read the latest published :class:`~tradingbot.service.status.BotStatus` and the metrics registry
(both safe to read while the trader steps in its worker thread), so a probe never waits for a step.
``/trades`` reads the trade journal through a connection of its own in a thread, a bounded page at a
time: it shows only what the journal committed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from tradingbot.books.journal import PAGE_LIMIT, JournalError
from tradingbot.query import bounded_integer
from tradingbot.service.metrics import BotMetrics
from tradingbot.service.status import BotStatus, health, readiness


class ServerStartError(RuntimeError):
    """The HTTP server could not bind its address (e.g. the port is taken): set HTTP_HOST/HTTP_PORT."""


def make_app(
    status: Callable[[], BotStatus],
    metrics: BotMetrics,
    stall_s: float,
    max_data_age_s: float,
    clock: Callable[[], float] = time.time,
    trades: Callable[[int, int], list[dict[str, Any]]] | None = None,
) -> web.Application:
    """The routes over a status source; ``trades(after, limit)`` reads a page of the journal (blocking)."""

    async def get_health(_: web.Request) -> web.Response:
        ok, body = health(status(), clock(), stall_s)
        return web.json_response(body, status=200 if ok else 503)

    async def get_ready(_: web.Request) -> web.Response:
        ok, body = readiness(status(), clock(), max_data_age_s)
        return web.json_response(body, status=200 if ok else 503)

    async def get_status(_: web.Request) -> web.Response:
        current = status()
        now = clock()
        document: dict[str, Any] = dict(current.document)
        document["uptime_s"] = round(now - current.started, 3)
        document["heartbeat_age_s"] = None if current.heartbeat is None else round(now - current.heartbeat, 3)
        feed = dict(document.get("feed", {}))
        feed["last_event_age_s"] = (
            None if current.last_market_data is None else round(now - current.last_market_data, 3)
        )
        document["feed"] = feed
        return web.json_response(document)

    async def get_metrics(_: web.Request) -> web.Response:
        response = web.Response(body=metrics.exposition())
        response.content_type = CONTENT_TYPE_LATEST.split(";")[0]
        response.charset = "utf-8"
        return response

    async def get_trades(request: web.Request) -> web.Response:
        if trades is None:
            return web.json_response({"error": "this bot keeps no trade journal"}, status=404)
        try:
            after = bounded_integer(request.query.get("after", "0"), "after", 0, 2**62)
            limit = bounded_integer(request.query.get("limit", str(DEFAULT_PAGE)), "limit", 1, PAGE_LIMIT)
        except ValueError as error:
            return web.json_response({"error": str(error)}, status=400)
        try:
            page = await asyncio.get_running_loop().run_in_executor(None, trades, after, limit)
        except JournalError as error:
            return web.json_response({"error": f"the trade journal cannot be read: {error}"}, status=503)
        next_after = page[-1]["seq"] if len(page) == limit else None
        return web.json_response({"trades": page, "after": after, "limit": limit, "next_after": next_after})

    app = web.Application()
    app.router.add_get("/health", get_health)
    app.router.add_get("/ready", get_ready)
    app.router.add_get("/status", get_status)
    app.router.add_get("/metrics", get_metrics)
    app.router.add_get("/trades", get_trades)
    return app


DEFAULT_PAGE = 100
"""Fills per ``/trades`` page unless ``limit`` says otherwise (at most ``PAGE_LIMIT``)."""


@asynccontextmanager
async def serving(app: web.Application, host: str, port: int) -> AsyncIterator[int]:
    """Serve ``app`` on ``host:port`` (port 0: any free port) until the block ends; yields the bound port."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        try:
            await site.start()
        except OSError as error:
            raise ServerStartError(f"cannot listen on {host}:{port}: {error.strerror or error}") from error
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        yield int(sockets[0].getsockname()[1]) if sockets else port
    finally:
        await runner.cleanup()
