"""Expiry and settlement: positions expiring today are sold at the bid before the cut-off; positions past
their expiry's close are settled at intrinsic value from the underlying's last trustworthy price on or
before that close (a valid quote's mid, or a later trade), less the shares' half-spread an exercise or
assignment would cost to unwind; under $0.01 in the money is worthless. A position whose underlying has
no trustworthy price yet waits and settles once there is one. Prices in USD, times in epoch ms.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from tradingbot.env.portfolio import Fill, Portfolio
from tradingbot.market.clock import SESSION_MINUTES, eastern, session_close_ms, session_minute
from tradingbot.market.pricing import intrinsic_value
from tradingbot.market.quality import SpreadLimit, tradable_quote
from tradingbot.market.types import OptionChain

REFERENCE_DAYS = 10
"""Sessions of settlement prices kept per underlying."""


@dataclass(frozen=True, slots=True)
class Reference:
    """An underlying's last trustworthy price (a valid quote's mid, or a later trade), for settlement."""

    price: float
    source: str
    timestamp_ms: int
    half_spread: float = 0.0
    """Half the quote's width, USD: what selling (or buying) delivered shares costs against the mid."""


class SettlementPrices:
    """Each underlying's last trustworthy price of each recent session (at most ``REFERENCE_DAYS``)."""

    def __init__(self) -> None:
        self._days: dict[str, dict[date, Reference]] = {}

    def remember(self, symbol: str, reference: Reference) -> None:
        """Keep ``reference`` as its day's settlement price if it is that day's latest before the close."""
        day = eastern(reference.timestamp_ms).date()
        days = self._days.setdefault(symbol, {})
        known = days.get(day)
        if reference.timestamp_ms <= session_close_ms(day) and (
            known is None or reference.timestamp_ms >= known.timestamp_ms
        ):
            days[day] = reference
            for old in sorted(days)[:-REFERENCE_DAYS]:  # bounded: a few sessions back
                del days[old]

    def at_close_of(self, symbol: str, expiration: date) -> Reference | None:
        """The underlying's last trustworthy price at or before ``expiration``'s close."""
        days = self._days.get(symbol, {})
        before = [day for day in days if day <= expiration]
        return days[max(before)] if before else None


def expire_positions(
    portfolio: Portfolio,
    chains: dict[str, OptionChain | None],
    prices: SettlementPrices,
    now_ms: int,
    cutoff_minutes: float,
    spread_limit: SpreadLimit,
) -> list[Fill]:
    """Sell today's expiring positions at the bid once ``cutoff_minutes`` before the close have come (0:
    hold them to settlement); settle expired ones at intrinsic value. ``chains``: each underlying's chain
    now (``None``: not to be traded on)."""
    today = eastern(now_ms).date()
    past_cutoff = cutoff_minutes > 0 and session_minute(now_ms) >= SESSION_MINUTES - cutoff_minutes
    fills = []
    for symbol, chain in chains.items():
        for position in list(portfolio.positions.values()):
            contract = position.contract
            if contract.underlying != symbol:
                continue
            if now_ms >= session_close_ms(contract.expiration):
                reference = prices.at_close_of(symbol, contract.expiration)
                if reference is None:  # no trustworthy price yet: it settles once there is one
                    continue
                value = intrinsic_value(reference.price, contract.strike, contract.contract_type == "call")
                source = (
                    f"intrinsic of {symbol} {reference.source} {reference.price:.2f} "
                    f"at {eastern(reference.timestamp_ms):%Y-%m-%d %H:%M} ET"
                )
                if value > 0 and reference.half_spread > 0:
                    value = max(value - reference.half_spread, 0.0)
                    source += f" less the shares' half-spread {reference.half_spread:.3f}"
                settle = value if value >= 0.01 else 0.0
                fills.append(portfolio.settle(contract.ticker, settle, now_ms, source))
            elif past_cutoff and contract.expiration == today:
                quote = tradable_quote(chain, contract.ticker, spread_limit)
                if quote is not None:
                    fills.append(portfolio.sell(contract.ticker, position.quantity, quote[0], now_ms))
    return fills
