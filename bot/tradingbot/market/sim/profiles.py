"""How each simulated underlying behaves: volatility, jumps, dividends, option pricing and quoting.

A profile holds the parameters the simulator draws one underlying from; the figures are chosen so
that the statistics :mod:`tradingbot.market.sim.calibration` measures land inside their published target
bands (``docs/market-calibration.md`` gives the sources). SPY, QQQ and AAPL have their own profiles;
any other ticker gets :data:`GENERIC`, a liquid single name, at a deterministic price.

Units: volatilities, rates, yields and returns are annual decimal fractions (volatility of log
returns, annualised over 252 trading days); spreads are full bid-ask widths in USD per share.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class UnderlyingProfile:
    """The parameters of one simulated underlying and its option class."""

    price: float
    """Starting price, USD."""
    long_run_vol: float
    """Root-mean-square annualised volatility of the diffusion (jumps and earnings come on top)."""
    vol_of_vol: float
    """Stationary standard deviation of log volatility (0: constant volatility)."""
    vol_half_life_days: float
    """Half-life of a volatility shock, trading days."""
    leverage: float
    """Correlation of a return shock with the same step's volatility shock (negative: sell-offs raise volatility)."""
    overnight_share: float
    """Share of a day's diffusive variance in the overnight gap (close to next open)."""
    jumps_per_year: float
    """Expected number of jumps a year (Poisson), drawn for the whole market at once."""
    jump_mean: float
    """Mean log return of a jump."""
    jump_sd: float
    """Standard deviation of a jump's log return."""
    earnings_per_year: int
    """Quarterly earnings gaps (4) for single names, 0 for index funds."""
    earnings_sd: float
    """Standard deviation of the log return of an earnings-night gap."""
    dividend_yield: float
    """Continuous dividend yield (no discrete ex-dividend drops)."""
    expected_return: float
    """Expected annual total return (price drift plus dividend yield)."""
    implied_vol_lift: float
    """How far above the model's long-run level (in log volatility) option prices expect volatility to revert:
    a term premium that puts the implied term structure in contango most of the time."""
    volatility_premium: float
    """At-the-money implied volatility over the expected volatility to expiry (above 1: a variance risk premium)."""
    skew: float
    """Implied volatility slope per unit of standardised moneyness ln(K/F) / (ATM vol x sqrt(T)); negative: put skew."""
    smile: float
    """Implied volatility curvature per squared unit of standardised moneyness."""
    spread_fixed: float
    """Fixed part of an option's quoted width, USD."""
    spread_proportional: float
    """Part of an option's quoted width proportional to its value."""
    penny: bool
    """Quoted in cents at every price (the penny interval programme); otherwise in 5 cents from $3."""
    daily_expiries: bool
    """Monday-to-Friday expiries (SPY, QQQ); otherwise weekly Fridays and monthlies."""


SPY = UnderlyingProfile(
    price=600.0,
    long_run_vol=0.155,
    vol_of_vol=0.42,
    vol_half_life_days=30.0,
    leverage=-0.7,
    overnight_share=0.3,
    jumps_per_year=4.0,
    jump_mean=-0.012,
    jump_sd=0.02,
    earnings_per_year=0,
    earnings_sd=0.0,
    dividend_yield=0.013,
    expected_return=0.08,
    implied_vol_lift=0.22,
    volatility_premium=1.12,
    skew=-0.22,
    smile=0.18,
    spread_fixed=0.01,
    spread_proportional=0.003,
    penny=True,
    daily_expiries=True,
)

QQQ = replace(
    SPY,
    price=520.0,
    long_run_vol=0.21,
    vol_of_vol=0.42,
    overnight_share=0.3,
    dividend_yield=0.006,
    expected_return=0.1,
    volatility_premium=1.07,
    skew=-0.2,
    smile=0.16,
    spread_proportional=0.004,
)

AAPL = UnderlyingProfile(
    price=230.0,
    long_run_vol=0.25,
    vol_of_vol=0.35,
    vol_half_life_days=25.0,
    leverage=-0.4,
    overnight_share=0.25,
    jumps_per_year=3.0,
    jump_mean=-0.01,
    jump_sd=0.03,
    earnings_per_year=4,
    earnings_sd=0.04,
    dividend_yield=0.0045,
    expected_return=0.1,
    implied_vol_lift=0.1,
    volatility_premium=1.03,
    skew=-0.12,
    smile=0.15,
    spread_fixed=0.02,
    spread_proportional=0.008,
    penny=True,
    daily_expiries=False,
)

GENERIC = replace(
    AAPL,
    long_run_vol=0.32,
    vol_of_vol=0.35,
    leverage=-0.35,
    jump_sd=0.035,
    earnings_sd=0.07,
    dividend_yield=0.01,
    volatility_premium=1.0,
    skew=-0.08,
    smile=0.12,
    spread_fixed=0.03,
    spread_proportional=0.03,
    penny=False,
)
"""A liquid single name without its own profile."""

PROFILES = {"SPY": SPY, "QQQ": QQQ, "AAPL": AAPL}
KNOWN_PRICES = {"SPY": 600.0, "QQQ": 520.0, "AAPL": 230.0, "IWM": 220.0, "MSFT": 420.0, "NVDA": 140.0}
"""Starting prices (USD) for familiar tickers; others get a deterministic price from their name."""
STRIKE_SPACINGS = (0.5, 1.0, 2.5, 5.0, 10.0)


def starting_price(symbol: str) -> float:
    """A deterministic starting price for ``symbol``, USD."""
    if symbol in KNOWN_PRICES:
        return KNOWN_PRICES[symbol]
    return 40.0 + (zlib.crc32(symbol.encode()) % 36_000) / 100.0


def strike_spacing(price: float) -> float:
    """The listed strike increment (USD) nearest 1 % of ``price`` (in ratio)."""
    return min(STRIKE_SPACINGS, key=lambda spacing: abs(math.log(spacing / (0.01 * price))))


def profile_for(symbol: str) -> UnderlyingProfile:
    """``symbol``'s own profile, or :data:`GENERIC` at the symbol's starting price."""
    if symbol in PROFILES:
        return PROFILES[symbol]
    return replace(GENERIC, price=starting_price(symbol))


def profile_kind(symbol: str) -> str:
    """The calibration target set that applies to ``symbol``: its own, or ``generic``."""
    return symbol if symbol in PROFILES else "generic"
