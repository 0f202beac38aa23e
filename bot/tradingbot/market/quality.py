"""When market data may be traded on: the one place that judges a quote's validity and freshness.

**Validity.** A quote is usable only when it is two-sided and sane: bid > 0, ask > bid, both finite,
and the spread within ``abs + rel x mid``. The option defaults (``$0.20 + 4 %`` of the mid: $0.24 wide at
a $1 mid, $0.40 at $5, $0.60 at $10, $1.00 at $20) follow the widest quotes the exchanges allowed their
market makers (CBOE's former rule 8.7 bid-ask differentials: $0.25 under $2, $0.40 to $5, $0.50 to
$10, $0.80 to $20, $1 above); real SPY, QQQ and AAPL contracts near the money trade far tighter (a cent
to a few cents), so a wider quote is a stub or a broken feed. Underlyings (``$0.05 + 0.2 %``) quote a
cent wide in these names; the cap only refuses stubs such as 0 x 50.

**Freshness.** Judged by when data *arrived* here (a monotonic clock), not only by what it claims: an
instrument is fresh only while its newest valid quote arrived within ``max_data_age_s``, and its
exchange time is neither more than ``future_tolerance_s`` ahead of our clock nor older than
``max_data_age_s``. A future stamp therefore buys nothing: once arrivals stop, the data ages out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tradingbot.market.types import OptionChain


@dataclass(frozen=True, slots=True)
class SpreadLimit:
    """The widest acceptable spread: ``abs_usd + rel x mid`` (USD per share)."""

    abs_usd: float
    rel: float

    def allows(self, bid: float, ask: float) -> bool:
        """Whether the spread of (bid, ask) is within the limit."""
        return ask - bid <= self.abs_usd + self.rel * (bid + ask) / 2 + 1e-9


@dataclass(frozen=True, slots=True)
class DataRules:
    """What the bot trades on. Seconds and USD."""

    max_data_age_s: float = 120.0
    future_tolerance_s: float = 5.0
    option_spread: SpreadLimit = SpreadLimit(0.20, 0.04)
    stock_spread: SpreadLimit = SpreadLimit(0.05, 0.002)

    def __post_init__(self) -> None:
        if not (self.max_data_age_s > 0 and self.future_tolerance_s >= 0):
            raise ValueError("the data age limit must be positive and the future tolerance not negative")
        for limit in (self.option_spread, self.stock_spread):
            if not (limit.abs_usd >= 0 and limit.rel >= 0):
                raise ValueError("spread limits must not be negative")


def quote_problem(bid: float, ask: float, limit: SpreadLimit) -> str | None:
    """Why (bid, ask) cannot be traded on or marked at, or ``None`` when it can."""
    if not (math.isfinite(bid) and math.isfinite(ask)):
        return "no quote"
    if bid <= 0:
        return "one-sided: no bid"
    if ask <= bid:
        return f"crossed or locked ({bid:.2f} x {ask:.2f})"
    if not limit.allows(bid, ask):
        return f"too wide ({bid:.2f} x {ask:.2f})"
    return None


def staleness(exchange_ms: int, arrival_age_s: float, now_ms: int, rules: DataRules) -> str | None:
    """Why data stamped ``exchange_ms`` that arrived ``arrival_age_s`` seconds ago is not fresh at
    ``now_ms`` (our clock), or ``None`` when it is."""
    if not arrival_age_s <= rules.max_data_age_s:  # NaN (never arrived) is stale too
        return "no data arrived" if math.isnan(arrival_age_s) else f"last data arrived {arrival_age_s:.0f} s ago"
    ahead_s = (exchange_ms - now_ms) / 1000
    if ahead_s > rules.future_tolerance_s:
        return f"stamped {ahead_s:.0f} s in the future"
    if -ahead_s > rules.max_data_age_s:
        return f"stamped {-ahead_s:.0f} s ago"
    return None


def tradable_quote(chain: OptionChain | None, ticker: str, limit: SpreadLimit) -> tuple[float, float] | None:
    """A held or listed contract's (bid, ask), USD, when it may be traded on or marked at, else ``None``."""
    quote = chain.bid_ask(ticker) if chain is not None else None
    if quote is None or quote_problem(quote[0], quote[1], limit) is not None:
        return None
    return quote
