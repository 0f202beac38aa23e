"""The one interface every market-data source offers the trading environment."""

from __future__ import annotations

from typing import Protocol

from tradingbot.market.types import MarketSnapshot


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
