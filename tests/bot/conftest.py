"""Fixtures for the bot's tests: tiny seeded markets and a hand-built static market."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date

import msgspec
import numpy as np
import pytest

from tradingbot.market.clock import MS_PER_MINUTE, session_open_ms
from tradingbot.market.occ import format_occ
from tradingbot.market.types import (
    MarketSnapshot,
    OptionChain,
    OptionContract,
    StockQuote,
    SymbolSnapshot,
)


class StaticSource:
    """A market that never moves: each advance repeats the snapshot one minute later (tests can edit it)."""

    def __init__(self, snapshot: MarketSnapshot) -> None:
        self.snapshot = snapshot

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(self.snapshot.symbols)

    def current(self) -> MarketSnapshot:
        return self.snapshot

    def advance(self) -> MarketSnapshot:
        later = self.snapshot.timestamp_ms + MS_PER_MINUTE
        self.snapshot = MarketSnapshot(
            later,
            {
                s: replace(
                    v,
                    quote=msgspec.structs.replace(v.quote, timestamp_ms=later),
                    chain=replace(v.chain, timestamp_ms=later),
                )
                for s, v in self.snapshot.symbols.items()
            },
        )
        return self.snapshot

    def status(self) -> None:
        """No feed: the data is always there."""
        return None

    def close(self) -> None:
        """Nothing to release."""


def static_chain(
    symbol: str,
    spot: float,
    timestamp_ms: int,
    expiries: tuple[date, ...],
    strikes: tuple[float, ...],
    bid: float,
    ask: float,
) -> OptionChain:
    """A chain where every contract is quoted ``bid``/``ask``, with plausible Greeks."""
    contracts = tuple(
        OptionContract(format_occ(symbol, e, kind, k), symbol, kind, k, e)
        for e in expiries
        for kind in ("call", "put")
        for k in strikes
    )
    n = len(contracts)
    return OptionChain(
        underlying=symbol,
        timestamp_ms=timestamp_ms,
        underlying_price=spot,
        contracts=contracts,
        index={c.ticker: i for i, c in enumerate(contracts)},
        strike=np.array([c.strike for c in contracts]),
        is_call=np.array([c.contract_type == "call" for c in contracts]),
        expiration_ordinal=np.array([c.expiration.toordinal() for c in contracts], dtype=np.int64),
        bid=np.full(n, bid),
        ask=np.full(n, ask),
        implied_volatility=np.full(n, 0.2),
        delta=np.where([c.contract_type == "call" for c in contracts], 0.5, -0.5),
        gamma=np.full(n, 0.05),
        theta=np.full(n, -0.1),
        vega=np.full(n, 0.2),
    )


def static_snapshot(spot: float = 100.0, bid: float = 1.10, ask: float = 1.20) -> MarketSnapshot:
    """SPY at ``spot`` on Monday 2026-01-05 10:00 ET, every option quoted ``bid``/``ask``."""
    now = session_open_ms(date(2026, 1, 5)) + 30 * MS_PER_MINUTE
    expiries = (date(2026, 1, 9), date(2026, 1, 16), date(2026, 1, 23), date(2026, 2, 6))
    strikes = tuple(float(k) for k in range(80, 121))
    chain = static_chain("SPY", spot, now, expiries, strikes, bid, ask)
    quote = StockQuote("SPY", spot - 0.01, 10, spot + 0.01, 10, now)
    return MarketSnapshot(now, {"SPY": SymbolSnapshot(quote, None, chain)})


@pytest.fixture
def static_market() -> Callable[..., StaticSource]:
    """Factory of a :class:`StaticSource` around :func:`static_snapshot`."""

    def make(**kwargs: float) -> StaticSource:
        return StaticSource(static_snapshot(**kwargs))

    return make
