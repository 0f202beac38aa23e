"""Calibration targets of the simulated market and the statistics that measure it.

:data:`TARGETS` holds, per calibration profile (``SPY``, ``QQQ``, ``AAPL``, ``generic``), the band each
statistic of a long simulated sample must fall in; ``docs/market-calibration.md`` gives their sources.
:func:`measure` runs a preset for a number of trading days and computes every statistic from what a
trader sees: the underlying's prices (closes, opens, each step) and the option chain's quotes, Greeks
and implied volatilities.

Units: volatilities as annual decimal fractions, spreads in USD per share or as a fraction of the mid,
half-lives in trading days, shares and ratios as plain numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from tradingbot.market.clock import eastern
from tradingbot.market.pricing import RISK_FREE_RATE
from tradingbot.market.sim.profiles import profile_kind
from tradingbot.market.sim.simulator import PRESETS, MarketSimulator, SimulatorConfig
from tradingbot.market.types import FloatArray, OptionChain

STEPS_PER_DAY = 26
"""Steps per session of the daily sample (15-minute steps; daily statistics do not depend on it)."""
MIDDAY_STEP = 10
"""The step whose chain is sampled each day (12:00 ET at 26 steps a day)."""
INTRADAY_DAYS = 20
"""Sessions of minute steps sampled for the opening-spread statistic."""


@dataclass(frozen=True, slots=True)
class Band:
    """A target range for one statistic."""

    low: float
    high: float
    unit: str
    meaning: str

    def holds(self, value: float) -> bool:
        """Whether ``value`` lies in the band (a NaN never does)."""
        return self.low <= value <= self.high


STATISTICS: dict[str, tuple[str, str]] = {
    "realised_vol": ("annual", "s.d. of daily close-to-close log returns x sqrt(252)"),
    "iv30_mean": ("annual", "mean 30-day ATM implied volatility (VIX-like)"),
    "iv30_median": ("annual", "median 30-day ATM implied volatility"),
    "iv30_p90_over_median": ("ratio", "90th percentile of 30-day IV over its median"),
    "iv_half_life_days": ("trading days", "half-life of 30-day ATM IV shocks (AR(1) of log IV)"),
    "vrp_points": ("annual", "mean 30-day IV minus the next 21 days' realised vol"),
    "iv_over_realised_share": ("share", "days the 30-day IV exceeds the next 21 days' realised vol"),
    "contango_share": ("share", "days the ~90-day ATM IV is above the 30-day"),
    "inverted_in_stress": ("share", "inverted term structure on the top-decile IV days"),
    "put_skew_30d": ("annual", "25-delta put IV minus ATM IV, ~30 days"),
    "call_skew_30d": ("annual", "25-delta call IV minus ATM IV, ~30 days"),
    "overnight_share": ("share", "share of daily variance from close to open"),
    "excess_kurtosis": ("", "excess kurtosis of daily log returns"),
    "implied_dividend": ("annual", "dividend yield implied by ATM put-call parity, ~60 days"),
    "atm_spread": ("USD", "median midday width of ATM calls, 1-10 days"),
    "atm_spread_share": ("of mid", "median midday width / mid of ATM calls, 1-10 days"),
    "open_spread_ratio": ("ratio", "ATM spread at 09:31-09:40 over midday"),
    "stress_spread_ratio": ("ratio", "ATM spread (share of mid) on top-decile IV days over calm days"),
    "expiries_within_week": ("expiries", "expiries listed within 7 calendar days"),
}
"""Every statistic :func:`statistics` measures: its unit and meaning."""

_EVERY_CLASS = {
    "iv_half_life_days": (8.0, 80.0),
    "inverted_in_stress": (0.4, 1.0),
    "open_spread_ratio": (1.3, 3.5),
    "stress_spread_ratio": (1.02, 3.5),
    "excess_kurtosis": (1.0, 40.0),
}
_INDEX_FUND = _EVERY_CLASS | {
    "iv_over_realised_share": (0.65, 0.93),
    "contango_share": (0.65, 0.93),
    "overnight_share": (0.2, 0.45),
    "expiries_within_week": (5.0, 6.0),
}
_SINGLE_NAME = _EVERY_CLASS | {
    "contango_share": (0.4, 0.9),  # earnings months invert it
    "expiries_within_week": (1.0, 2.0),
}
_RANGES: dict[str, dict[str, tuple[float, float]]] = {
    "SPY": _INDEX_FUND
    | {
        "realised_vol": (0.13, 0.20),
        "iv30_mean": (0.16, 0.23),
        "iv30_median": (0.14, 0.21),
        "iv30_p90_over_median": (1.3, 2.1),
        "vrp_points": (0.015, 0.06),
        "put_skew_30d": (0.02, 0.08),
        "call_skew_30d": (-0.04, 0.005),
        "implied_dividend": (0.010, 0.016),
        "atm_spread": (0.01, 0.06),
        "atm_spread_share": (0.001, 0.015),
    },
    "QQQ": _INDEX_FUND
    | {
        "realised_vol": (0.17, 0.27),
        "iv30_mean": (0.20, 0.29),
        "iv30_median": (0.18, 0.27),
        "iv30_p90_over_median": (1.25, 2.0),
        "vrp_points": (0.01, 0.06),
        "put_skew_30d": (0.015, 0.08),
        "call_skew_30d": (-0.04, 0.01),
        "implied_dividend": (0.004, 0.009),
        "atm_spread": (0.01, 0.10),
        "atm_spread_share": (0.001, 0.02),
    },
    "AAPL": _SINGLE_NAME
    | {
        "realised_vol": (0.22, 0.36),
        "iv30_mean": (0.23, 0.37),
        "iv30_median": (0.21, 0.35),
        "iv30_p90_over_median": (1.15, 2.0),
        "vrp_points": (0.0, 0.06),
        "iv_over_realised_share": (0.5, 0.93),
        "put_skew_30d": (0.005, 0.06),
        "call_skew_30d": (-0.03, 0.02),
        "overnight_share": (0.25, 0.6),
        "implied_dividend": (0.003, 0.007),
        "atm_spread": (0.02, 0.15),
        "atm_spread_share": (0.003, 0.04),
    },
    "generic": _SINGLE_NAME
    | {
        "realised_vol": (0.2, 0.5),
        "iv30_mean": (0.22, 0.5),
        "iv30_median": (0.2, 0.48),
        "iv30_p90_over_median": (1.15, 2.0),
        "vrp_points": (-0.01, 0.06),
        "iv_over_realised_share": (0.45, 0.93),
        "put_skew_30d": (0.0, 0.06),
        "call_skew_30d": (-0.03, 0.03),
        "overnight_share": (0.25, 0.65),
        "implied_dividend": (0.0, 0.02),
        "atm_spread": (0.05, 0.8),
        "atm_spread_share": (0.01, 0.1),
    },
}

TARGETS: dict[str, dict[str, Band]] = {
    kind: {name: Band(*ranges[name], *STATISTICS[name]) for name in STATISTICS} for kind, ranges in _RANGES.items()
}
"""Per calibration profile, the band of every statistic (see ``docs/market-calibration.md`` for the sources)."""


@dataclass(frozen=True, slots=True)
class Surface:
    """One expiry's at-the-money and 25-delta implied volatilities and its ATM call quote."""

    days: int
    """Calendar days to expiry."""
    atm_iv: float
    put25_iv: float
    call25_iv: float
    atm_bid: float
    atm_ask: float
    implied_dividend: float


@dataclass(slots=True)
class Sample:
    """One underlying's daily observations over a simulated run."""

    closes: list[float] = field(default_factory=list)
    first_steps: list[float] = field(default_factory=list)
    """Log return from the previous close to the first step of the day (the gap and one step)."""
    step_returns: list[float] = field(default_factory=list)
    iv30: list[float] = field(default_factory=list)
    iv_long: list[float] = field(default_factory=list)
    put_skew: list[float] = field(default_factory=list)
    call_skew: list[float] = field(default_factory=list)
    dividend: list[float] = field(default_factory=list)
    spread: list[float] = field(default_factory=list)
    spread_share: list[float] = field(default_factory=list)
    within_week: list[float] = field(default_factory=list)
    open_ratio: list[float] = field(default_factory=list)
    surfaces: list[list[Surface]] = field(default_factory=list)
    """Each day's smile points (ATM and 25-delta IVs per expiry) at 12:00."""
    last_chain: OptionChain | None = None
    """The option chain at 12:00 of the last day."""


def surfaces(chain: OptionChain, today: date) -> list[Surface]:
    """Per listed expiry after today: the smile points the statistics use, read from the chain's quotes."""
    spot = chain.underlying_price
    result = []
    for ordinal in np.unique(chain.expiration_ordinal):
        days = int(ordinal - today.toordinal())
        if days < 1:
            continue
        expiry = chain.expiration_ordinal == ordinal
        calls, puts = np.flatnonzero(expiry & chain.is_call), np.flatnonzero(expiry & ~chain.is_call)
        atm_call = calls[np.argmin(np.abs(chain.strike[calls] - spot))]
        atm_put = puts[np.argmin(np.abs(chain.strike[puts] - chain.strike[atm_call]))]
        put25 = puts[np.argmin(np.abs(chain.delta[puts] + 0.25))]
        call25 = calls[np.argmin(np.abs(chain.delta[calls] - 0.25))]
        years = days / 365.25
        strike = chain.strike[atm_call]
        parity = (chain.bid[atm_call] + chain.ask[atm_call] - chain.bid[atm_put] - chain.ask[atm_put]) / 2
        forward_value = parity + strike * math.exp(-RISK_FREE_RATE * years)
        dividend = -math.log(forward_value / spot) / years if forward_value > 0 else math.nan
        result.append(
            Surface(
                days=days,
                atm_iv=float(chain.implied_volatility[atm_call]),
                put25_iv=float(chain.implied_volatility[put25]),
                call25_iv=float(chain.implied_volatility[call25]),
                atm_bid=float(chain.bid[atm_call]),
                atm_ask=float(chain.ask[atm_call]),
                implied_dividend=dividend,
            )
        )
    return result


def iv_at(points: list[Surface], days: float) -> float:
    """ATM implied volatility at ``days`` calendar days, interpolating total variance linearly in time."""
    x = np.array([p.days for p in points], dtype=np.float64)
    variance = np.array([p.atm_iv**2 * p.days for p in points])
    return float(math.sqrt(np.interp(days, x, variance) / days))


def nearest_surface(points: list[Surface], days: float) -> Surface:
    """The expiry nearest ``days`` calendar days away."""
    return min(points, key=lambda p: abs(p.days - days))


def _sample_day(series: Sample, chain: OptionChain, today: date) -> None:
    points = surfaces(chain, today)
    series.surfaces.append(points)
    series.last_chain = chain
    series.iv30.append(iv_at(points, 30))
    series.iv_long.append(nearest_surface(points, 90).atm_iv)
    month, week, quarter = nearest_surface(points, 30), nearest_surface(points, 7), nearest_surface(points, 60)
    series.put_skew.append(month.put25_iv - month.atm_iv)
    series.call_skew.append(month.call25_iv - month.atm_iv)
    series.dividend.append(quarter.implied_dividend)
    width = week.atm_ask - week.atm_bid
    series.spread.append(width)
    series.spread_share.append(width / ((week.atm_ask + week.atm_bid) / 2))
    ahead = np.unique(chain.expiration_ordinal) - today.toordinal()
    series.within_week.append(float(np.count_nonzero((ahead >= 0) & (ahead <= 7))))


def _simulator(preset: str, symbols: tuple[str, ...], seed: int, steps_per_day: int) -> MarketSimulator:
    return MarketSimulator(SimulatorConfig(symbols, seed=seed, steps_per_day=steps_per_day, **PRESETS[preset]))


def sample(preset: str, symbols: tuple[str, ...], days: int, seed: int = 0) -> dict[str, Sample]:
    """Observe ``days`` simulated trading days of ``preset`` (plus :data:`INTRADAY_DAYS` minute-step sessions)."""
    sim = _simulator(preset, symbols, seed, STEPS_PER_DAY)
    series = {s: Sample() for s in symbols}
    sim.skip(STEPS_PER_DAY)  # to the first close
    previous = {s: sim.spot(s) for s in symbols}
    for _ in range(days):
        sim.skip(1)
        for s in symbols:
            series[s].first_steps.append(math.log(sim.spot(s) / previous[s]))
        last = {s: sim.spot(s) for s in symbols}
        for step in range(2, STEPS_PER_DAY + 1):
            sim.skip(1)
            for s in symbols:
                spot = sim.spot(s)
                series[s].step_returns.append(math.log(spot / last[s]))
                last[s] = spot
            if step == MIDDAY_STEP:
                snapshot = sim.current()
                today = eastern(snapshot.timestamp_ms).date()
                for s in symbols:
                    _sample_day(series[s], snapshot.symbols[s].chain, today)
        for s in symbols:
            series[s].closes.append(sim.spot(s))
            previous[s] = sim.spot(s)
    _sample_openings(preset, symbols, seed, series)
    return series


def _sample_openings(preset: str, symbols: tuple[str, ...], seed: int, series: dict[str, Sample]) -> None:
    """Minute steps: the ATM width of the ~7-day call at 09:31-09:40 against 12:00, per session."""
    sim = _simulator(preset, symbols, seed + 1, 390)
    for _ in range(INTRADAY_DAYS):
        opening: dict[str, list[float]] = {s: [] for s in symbols}
        for _minute in range(10):
            snapshot = sim.advance()
            today = eastern(snapshot.timestamp_ms).date()
            for s in symbols:
                week = nearest_surface(surfaces(snapshot.symbols[s].chain, today), 7)
                opening[s].append(week.atm_ask - week.atm_bid)
        sim.skip(150 - 10)
        snapshot = sim.current()
        today = eastern(snapshot.timestamp_ms).date()
        for s in symbols:
            week = nearest_surface(surfaces(snapshot.symbols[s].chain, today), 7)
            series[s].open_ratio.append(float(np.mean(opening[s])) / (week.atm_ask - week.atm_bid))
        sim.skip(390 - 150)


def _half_life(values: FloatArray) -> float:
    x, y = values[:-1] - values.mean(), values[1:] - values.mean()
    phi = float(np.dot(x, y) / np.dot(x, x))
    return math.log(0.5) / math.log(phi) if 0 < phi < 1 else math.inf


def statistics(series: Sample) -> dict[str, float]:
    """Every calibration statistic of one underlying's sample."""
    closes = np.array(series.closes)
    returns = np.diff(np.log(closes))
    steps = np.array(series.step_returns)
    first = np.array(series.first_steps)
    step_var = float(np.mean(steps**2))
    overnight_var = max(float(np.mean(first**2)) - step_var, 0.0)
    daily_var = overnight_var + step_var * STEPS_PER_DAY
    iv30, iv_long = np.array(series.iv30), np.array(series.iv_long)
    horizon = 21
    forward = np.array([np.sqrt(np.mean(returns[t : t + horizon] ** 2) * 252) for t in range(len(returns) - horizon)])
    iv_now = iv30[1 : 1 + len(forward)]
    stressed = iv30 >= np.quantile(iv30, 0.9)
    calm = iv30 <= np.median(iv30)
    shares = np.array(series.spread_share)
    return {
        "realised_vol": float(np.std(returns) * math.sqrt(252)),
        "iv30_mean": float(iv30.mean()),
        "iv30_median": float(np.median(iv30)),
        "iv30_p90_over_median": float(np.quantile(iv30, 0.9) / np.median(iv30)),
        "iv_half_life_days": _half_life(np.log(iv30)),
        "vrp_points": float(np.mean(iv_now - forward)),
        "iv_over_realised_share": float(np.mean(iv_now > forward)),
        "contango_share": float(np.mean(iv_long > iv30)),
        "inverted_in_stress": float(np.mean(iv_long[stressed] < iv30[stressed])),
        "put_skew_30d": float(np.median(series.put_skew)),
        "call_skew_30d": float(np.median(series.call_skew)),
        "overnight_share": overnight_var / daily_var,
        "excess_kurtosis": float(np.mean((returns - returns.mean()) ** 4) / np.var(returns) ** 2 - 3.0),
        "implied_dividend": float(np.nanmedian(series.dividend)),
        "atm_spread": float(np.median(series.spread)),
        "atm_spread_share": float(np.median(shares)),
        "open_spread_ratio": float(np.median(series.open_ratio)),
        "stress_spread_ratio": float(np.median(shares[stressed]) / np.median(shares[calm])),
        "expiries_within_week": float(np.median(series.within_week)),
    }


def measure(preset: str, symbols: tuple[str, ...], days: int, seed: int = 0) -> dict[str, dict[str, float]]:
    """Every statistic of every symbol over ``days`` simulated trading days of ``preset``."""
    return {symbol: statistics(s) for symbol, s in sample(preset, symbols, days, seed).items()}


def targets_for(symbol: str) -> dict[str, Band]:
    """The target bands that apply to ``symbol``."""
    return TARGETS[profile_kind(symbol)]
