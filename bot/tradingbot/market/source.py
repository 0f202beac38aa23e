"""The one interface every market-data source offers the trading environment, and the vendor-neutral
feed status and errors it reports."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from tradingbot.market.types import MarketSnapshot


class FeedError(Exception):
    """The market feed cannot start or cannot go on (a refused key, a plan without access)."""


class ReplayFinishedError(Exception):
    """The recording has no more data."""


@dataclass(frozen=True)
class FeedStatus:
    """For ``/ready`` and ``/status``: whether the feed is up, and its newest data (wall-clock seconds)."""

    connected: bool
    last_event_unix: float | None
    reconnects: int
    detail: dict[str, Any]


class MarketSource(Protocol):
    """A source of market snapshots, one per decision step, for a fixed list of underlyings."""

    @property
    def symbols(self) -> tuple[str, ...]:
        """The underlyings every snapshot covers, in a stable order."""
        ...

    def current(self) -> MarketSnapshot:
        """The latest snapshot, without advancing time."""
        ...

    def advance(self) -> MarketSnapshot:
        """Move to the next decision instant and return its snapshot."""
        ...

    def status(self) -> FeedStatus | None:
        """The feed's connection and newest data; ``None`` for a source whose data is always there (the
        simulator)."""
        ...

    def close(self) -> None:
        """Release what the source holds (a feed's thread, a recording); the source is not used afterwards."""
        ...
