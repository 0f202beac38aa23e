"""A seeded option-market simulator calibrated to real index and single-name options.

Each underlying (see :mod:`tradingbot.market.sim.profiles`) follows a log price with stochastic
volatility: log volatility mean-reverts (its half-life in trading days) with shocks correlated
negatively with returns (the leverage effect) and across underlyings, plus Poisson jumps that also
lift volatility, quarterly earnings gaps for single names, an overnight gap carrying its share of the
day's variance, a continuous dividend yield and a constant expected return. Return shocks, overnight
gaps and jumps are correlated across underlyings (a market factor); earnings gaps are each name's own.
An optional hidden regime chain adds drift (the ``trending`` preset's planted edge).

Implied volatility is priced, not copied: the at-the-money level of each expiry is the model's
expected volatility to that expiry (mean reversion makes the term structure rise when volatility is
low and invert when it is high, and earnings add a bump to the expiries that span them), times the
profile's variance risk premium, times a slowly mean-reverting richness factor common to the market.
A skew and smile in standardised moneyness complete the surface. Contracts are valued with
Black-Scholes-Merton in trading time (:mod:`tradingbot.market.sim.expiries`), never below intrinsic value
(a lower bound for American exercise; the early-exercise premium is left out), and quoted by
:mod:`tradingbot.market.sim.quoting`.

Time is market time: ``steps_per_day`` steps per 390-minute regular session, weekdays only; options
expire at 16:00 ET on their expiry date and are delisted the next day. The same config and seed give
an identical stream, whether or not the intermediate snapshots were looked at.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

import numpy as np

from tradingbot.market.clock import (
    MS_PER_MINUTE,
    MS_PER_YEAR,
    SESSION_MINUTES,
    next_weekday,
    session_close_ms,
    session_open_ms,
)
from tradingbot.market.occ import format_occ
from tradingbot.market.pricing import RISK_FREE_RATE, Valuation, black_scholes, puts_by_parity
from tradingbot.market.sim.expiries import listed_expiries, trading_days_after, variance_days
from tradingbot.market.sim.profiles import UnderlyingProfile, profile_for, strike_spacing
from tradingbot.market.sim.quoting import option_quotes, stress_factor, time_of_day_factor
from tradingbot.market.types import (
    FloatArray,
    IntArray,
    MarketSnapshot,
    OptionChain,
    OptionContract,
    StockQuote,
    StockTrade,
    SymbolSnapshot,
)

TRADING_DAYS_PER_YEAR = 252
STATE_VERSION = 2
"""Version of :meth:`MarketSimulator.state_dict`; a state of another version is refused."""
JUMP_VOLATILITY_KICK = 0.2
"""A downward jump raises log volatility by this much (about +22 % volatility)."""
STRESS_TENOR_DAYS = 21.0
"""Trading days of the at-the-money volatility that sets how wide quotes are (about a month)."""
_NODES = np.array([0.5 - math.sqrt(0.15), 0.5, 0.5 + math.sqrt(0.15)])
_WEIGHTS = np.array([5.0, 8.0, 5.0]) / 18.0
"""Three-point Gauss-Legendre rule on [0, 1]: the expected variance averaged over the time to expiry."""


@dataclass(frozen=True, slots=True)
class Regime:
    """A hidden market regime laid over every underlying: extra annual drift and a volatility multiple."""

    name: str
    drift: float
    vol_multiplier: float = 1.0


ONE_REGIME = (Regime("normal", 0.0),)
TRENDING_REGIMES = (Regime("uptrend", 4.0), Regime("downtrend", -4.0))
"""A planted, learnable edge: persistent trends (about 1.6 % a day) that recent returns reveal."""
TRENDING_PROFILE = {
    "long_run_vol": 0.12,
    "vol_of_vol": 0.0,
    "jumps_per_year": 0.0,
    "earnings_per_year": 0,
    "dividend_yield": 0.0,
    "expected_return": 0.0,
    "implied_vol_lift": 0.0,
    "volatility_premium": 1.1,
}
"""The ``trending`` preset's underlyings: constant volatility, no jumps, options priced 10 % over it."""
SMALL_EDGE = 0.6
"""Annual drift per unit of the richness factor in the ``small-edge`` preset (see :data:`PRESETS`)."""

PRESETS: dict[str, dict[str, Any]] = {
    "realistic": {},
    "trending": {"regimes": TRENDING_REGIMES, "mean_regime_days": 5.0, "profile_overrides": TRENDING_PROFILE},
    "small-edge": {"richness_edge": SMALL_EDGE},
}
"""Named market presets (overrides of :class:`SimulatorConfig` defaults).

``realistic`` is the calibrated market. ``trending`` plants a large edge, a smoke test that learning
works. ``small-edge`` is the calibrated market in which options that are rich against the model's
volatility (the richness factor, s.d. 0.1) foretell higher returns: expected return moves by
``SMALL_EDGE`` x richness, s.d. 6 % a year, an information ratio of about 0.4 a year for an index.
"""


@dataclass(frozen=True, slots=True)
class SimulatorConfig:
    """Simulator parameters. Rates and volatilities are annual decimal fractions."""

    symbols: tuple[str, ...]
    seed: int = 0
    start_date: date = date(2026, 1, 5)
    steps_per_day: int = SESSION_MINUTES
    regimes: tuple[Regime, ...] = ONE_REGIME
    mean_regime_days: float = 20.0
    """Expected time a regime lasts, in trading days."""
    market_correlation: float = 0.75
    """Correlation of the return shocks between any two underlyings."""
    volatility_correlation: float = 0.8
    """Correlation of the volatility shocks (beyond the leverage effect) between any two underlyings."""
    richness_sd: float = 0.1
    """Stationary standard deviation of the log richness factor of implied volatility."""
    richness_half_life_days: float = 10.0
    richness_edge: float = 0.0
    """Annual expected return per unit of richness (0: the richness foretells nothing)."""
    risk_free_rate: float = RISK_FREE_RATE
    profile_overrides: Mapping[str, Any] = field(default_factory=dict)
    """Profile fields set for every underlying (see :class:`~tradingbot.market.sim.profiles.UnderlyingProfile`)."""

    def __post_init__(self) -> None:
        if not self.symbols:
            raise ValueError("the simulator needs at least one symbol")
        if len(set(self.symbols)) != len(self.symbols):
            raise ValueError(f"duplicate symbols in {self.symbols}")
        if self.steps_per_day < 1 or not self.regimes:
            raise ValueError("steps_per_day and regimes must be positive")
        if not (0.0 <= self.market_correlation <= 1.0 and 0.0 <= self.volatility_correlation <= 1.0):
            raise ValueError("market_correlation and volatility_correlation must lie in [0, 1]")

    def profiles(self) -> tuple[UnderlyingProfile, ...]:
        """Each symbol's profile with :attr:`profile_overrides` applied."""
        return tuple(replace(profile_for(s), **self.profile_overrides) for s in self.symbols)


@dataclass(slots=True)
class _Listing:
    """One underlying's listed contracts for the current day, in column form."""

    contracts: tuple[OptionContract, ...]
    index: dict[str, int]
    strike: FloatArray
    is_call: np.ndarray
    expiration_ordinal: IntArray
    expiry_ms: FloatArray
    expiries: list[date]
    days_after: FloatArray
    """Weekdays after the listing day up to each expiry (see :func:`.expiries.trading_days_after`)."""
    slot: IntArray
    """Each contract's position in :attr:`expiries`."""
    calls: IntArray
    """Positions of the calls; ``puts`` holds their twins (same expiry and strike) in the same order."""
    puts: IntArray
    order: IntArray
    """Where each contract's value is in the calls' values followed by the puts'."""
    strikes_by_expiry: dict[date, FloatArray]


def _column(profiles: tuple[UnderlyingProfile, ...], name: str) -> FloatArray:
    return np.array([float(getattr(p, name)) for p in profiles])


class MarketSimulator:
    """A deterministic :class:`~tradingbot.market.source.MarketSource` over simulated markets."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.profiles = config.profiles()
        self._rng = np.random.default_rng(config.seed)
        self._minutes_per_step = SESSION_MINUTES / config.steps_per_day
        profiles = self.profiles
        self._overnight = _column(profiles, "overnight_share")
        self._vol_of_vol = _column(profiles, "vol_of_vol")
        self._kappa = math.log(2) / _column(profiles, "vol_half_life_days")
        self._mean_log_vol = np.log(_column(profiles, "long_run_vol")) - self._vol_of_vol**2
        self._leverage = _column(profiles, "leverage")
        self._jumps = _column(profiles, "jumps_per_year")
        self._jump_mean = _column(profiles, "jump_mean")
        self._jump_sd = _column(profiles, "jump_sd")
        self._earnings_sd = _column(profiles, "earnings_sd")
        self._dividend = _column(profiles, "dividend_yield")
        self._premium = _column(profiles, "volatility_premium")
        compensation = self._jumps * (np.exp(self._jump_mean + 0.5 * self._jump_sd**2) - 1.0)
        earnings = _column(profiles, "earnings_per_year") * (np.exp(0.5 * self._earnings_sd**2) - 1.0)
        self._price_drift = _column(profiles, "expected_return") - self._dividend - compensation - earnings
        self._earnings_period = [252 // p.earnings_per_year if p.earnings_per_year else 0 for p in profiles]
        self._earnings_offset = [zlib.crc32(s.encode()) % 63 for s in config.symbols]
        self._regime_drift = np.array([r.drift for r in config.regimes])
        self._regime_vol = np.array([r.vol_multiplier for r in config.regimes])

        n = len(config.symbols)
        self._log_price = np.log(_column(profiles, "price"))
        self._log_vol = self._mean_log_vol + self._vol_of_vol * self._rng.standard_normal(n)
        self._richness = config.richness_sd * self._rng.standard_normal()
        self._regime = self._rng.integers(0, len(config.regimes), size=n)
        day = config.start_date
        while day.weekday() >= 5:
            day = next_weekday(day)
        self._day = day
        self._step_in_day = 0
        self._steps = 0
        self._listings: list[_Listing | None] = [None] * n
        self._contracts: dict[tuple[str, date, str, float], OptionContract] = {}
        self._list_contracts()
        self._snapshot: MarketSnapshot | None = None

    @property
    def symbols(self) -> tuple[str, ...]:
        """Underlyings in the order of every snapshot."""
        return self.config.symbols

    @property
    def day(self) -> date:
        """The current trading day."""
        return self._day

    def volatility(self, symbol: str) -> float:
        """``symbol``'s current diffusive volatility, annualised (hidden from traders; for diagnostics)."""
        i = self.config.symbols.index(symbol)
        return float(math.exp(self._log_vol[i]) * self._regime_vol[self._regime[i]])

    def spot(self, symbol: str) -> float:
        """``symbol``'s current price, USD."""
        return float(math.exp(self._log_price[self.config.symbols.index(symbol)]))

    def current(self) -> MarketSnapshot:
        """The latest snapshot."""
        if self._snapshot is None:
            self._snapshot = self._build_snapshot()
        return self._snapshot

    def status(self) -> None:
        """No feed status: the simulated market's data is always there."""
        return None

    def close(self) -> None:
        """Nothing to release."""

    def state_dict(self) -> dict[str, Any]:
        """The market's complete state as plain data, so a restarted bot continues the same market."""
        return {
            "version": STATE_VERSION,
            "symbols": list(self.config.symbols),
            "seed": self.config.seed,
            "rng": self._rng.bit_generator.state,
            "log_price": self._log_price.tolist(),
            "log_vol": self._log_vol.tolist(),
            "richness": self._richness,
            "regime": self._regime.tolist(),
            "day": self._day.isoformat(),
            "step_in_day": self._step_in_day,
            "steps": self._steps,
            "listings": [
                {e.isoformat(): k.tolist() for e, k in listing.strikes_by_expiry.items()} if listing else {}
                for listing in self._listings
            ],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from :meth:`state_dict`; the version, symbols and seed must match this simulator's."""
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"saved market is version {state.get('version')}, this simulator is {STATE_VERSION}")
        if list(state["symbols"]) != list(self.config.symbols) or int(state["seed"]) != self.config.seed:
            raise ValueError(
                f"saved market is for symbols {state['symbols']} seed {state['seed']}, "
                f"this simulator has {list(self.config.symbols)} seed {self.config.seed}"
            )
        # parse everything before changing anything: a malformed state leaves this simulator untouched
        log_price = np.array(state["log_price"], dtype=np.float64)
        log_vol = np.array(state["log_vol"], dtype=np.float64)
        richness = float(state["richness"])
        regime = np.array(state["regime"], dtype=np.int64)
        day = date.fromisoformat(state["day"])
        step_in_day, steps = int(state["step_in_day"]), int(state["steps"])
        listings: list[_Listing | None] = [
            self._listing(symbol, {date.fromisoformat(e): np.array(k) for e, k in saved.items()}, day)
            for symbol, saved in zip(self.config.symbols, state["listings"], strict=True)
        ]
        shapes_ok = log_price.shape == log_vol.shape == regime.shape == (len(self.config.symbols),)
        regimes_ok = bool(np.all((regime >= 0) & (regime < len(self.config.regimes))))
        finite = bool(np.all(np.isfinite(log_price)) and np.all(np.isfinite(log_vol)) and math.isfinite(richness))
        if not (shapes_ok and regimes_ok and finite and 0 <= step_in_day <= self.config.steps_per_day):
            raise ValueError("saved market state does not match this simulator's symbols, regimes or steps per day")
        rng = np.random.default_rng()
        rng.bit_generator.state = state["rng"]
        self._rng = rng
        self._log_price, self._log_vol, self._richness, self._regime = log_price, log_vol, richness, regime
        self._day, self._step_in_day, self._steps, self._listings = day, step_in_day, steps, listings
        self._snapshot = None

    def advance(self) -> MarketSnapshot:
        """Advance one step of market time; after the 16:00 close the next step is the next weekday."""
        self.skip(1)
        return self.current()

    def skip(self, steps: int) -> None:
        """Advance ``steps`` steps without quoting the ones in between (the stream stays the same)."""
        for _ in range(steps):
            overnight = self._step_in_day == self.config.steps_per_day
            if overnight:
                self._day = next_weekday(self._day)
                self._step_in_day = 0
            self._step_in_day += 1
            self._steps += 1
            self._evolve(overnight)
            if overnight:
                self._list_contracts()
        self._snapshot = None

    def _earnings_tonight(self, i: int, day: date) -> bool:
        """Whether underlying ``i`` reports earnings in the gap before ``day``'s open."""
        period = self._earnings_period[i]
        return bool(period) and (_weekday_index(day) + self._earnings_offset[i]) % period == 0

    def _evolve(self, overnight: bool) -> None:
        cfg = self.config
        n = len(cfg.symbols)
        rng = self._rng
        switch = rng.random(n) < 1.0 / (cfg.mean_regime_days * cfg.steps_per_day)
        hop = rng.integers(1, max(len(cfg.regimes), 2), size=n)
        common, own = rng.standard_normal(), rng.standard_normal(n)
        vol_common, vol_own = rng.standard_normal(), rng.standard_normal(n)
        rich_shock = rng.standard_normal()
        gap_common, gap_own = rng.standard_normal(), rng.standard_normal(n)
        jump_draw, jump_common, jump_own = rng.random(), rng.standard_normal(), rng.standard_normal(n)
        earnings_size = rng.standard_normal(n)

        if len(cfg.regimes) > 1:
            self._regime = np.where(switch, (self._regime + hop) % len(cfg.regimes), self._regime)
        intraday = (1.0 - self._overnight) / cfg.steps_per_day  # trading days of variance
        gap_days = self._overnight if overnight else np.zeros(n)
        days = intraday + gap_days
        years = days / TRADING_DAYS_PER_YEAR
        sigma = np.exp(self._log_vol) * self._regime_vol[self._regime]

        rho = cfg.market_correlation
        mixed = math.sqrt(rho), math.sqrt(1.0 - rho)  # every market-wide shock: common part, own part
        shock = mixed[0] * common + mixed[1] * own
        gap = mixed[0] * gap_common + mixed[1] * gap_own
        diffusion = sigma * np.sqrt(intraday / TRADING_DAYS_PER_YEAR) * shock
        diffusion += sigma * np.sqrt(gap_days / TRADING_DAYS_PER_YEAR) * gap
        # one draw for the market: underlyings with similar intensities jump together, by correlated sizes
        jump_size = self._jump_mean + self._jump_sd * (mixed[0] * jump_common + mixed[1] * jump_own)
        jumps = np.where(jump_draw < -np.expm1(-self._jumps * years), jump_size, 0.0)
        if overnight:
            reporting = np.array([self._earnings_tonight(i, self._day) for i in range(n)])
            jumps += np.where(reporting, self._earnings_sd * earnings_size, 0.0)
        drift = self._price_drift + self._regime_drift[self._regime] + cfg.richness_edge * self._richness
        self._log_price = self._log_price + (drift - 0.5 * sigma**2) * years + diffusion + jumps

        total_sd = np.maximum(sigma * np.sqrt(years), 1e-12)
        vol_rho = cfg.volatility_correlation
        independent = math.sqrt(vol_rho) * vol_common + math.sqrt(1.0 - vol_rho) * vol_own
        lev = self._leverage
        vol_shock = lev * diffusion / total_sd + np.sqrt(1.0 - lev**2) * independent
        decay = np.exp(-self._kappa * days)
        self._log_vol = (
            self._mean_log_vol
            + (self._log_vol - self._mean_log_vol) * decay
            + self._vol_of_vol * np.sqrt(1.0 - decay**2) * vol_shock
            + np.where(jumps < 0, JUMP_VOLATILITY_KICK, 0.0) * (self._vol_of_vol > 0)
        )

        rich_decay = 0.5 ** (float(days.mean()) / cfg.richness_half_life_days)  # a trading day per day
        self._richness = rich_decay * self._richness + cfg.richness_sd * math.sqrt(1 - rich_decay**2) * rich_shock

    def _list_contracts(self) -> None:
        """List the day's expiries and extend strikes to cover the open, wider for later expiries."""
        for i, symbol in enumerate(self.config.symbols):
            profile = self.profiles[i]
            spot = math.exp(self._log_price[i])
            spacing = strike_spacing(spot)
            expiries = listed_expiries(self._day, profile.daily_expiries)
            horizon = variance_days(0.0, trading_days_after(self._day, expiries), profile.overnight_share)
            previous = self._listings[i]
            strikes_by_expiry: dict[date, FloatArray] = {}
            for expiry, days in zip(expiries, horizon, strict=True):
                reach = float(np.clip(3.0 * profile.long_run_vol * math.sqrt((days + 1) / 252), 0.04, 0.25))
                low = math.floor(spot * (1 - reach) / spacing)
                high = math.ceil(spot * (1 + reach) / spacing)
                fresh = np.arange(max(low, 1), high + 1) * spacing
                held = previous.strikes_by_expiry.get(expiry) if previous else None
                merged = fresh if held is None else np.union1d(held, fresh)
                strikes_by_expiry[expiry] = np.round(merged, 3)
            self._listings[i] = self._listing(symbol, strikes_by_expiry, self._day)

    def _listing(self, symbol: str, strikes_by_expiry: dict[date, FloatArray], today: date) -> _Listing:
        """Column form of ``strikes_by_expiry``'s calls and puts on ``today``, reusing contracts listed before."""
        expiries = sorted(strikes_by_expiry)
        blocks = [self._block(symbol, expiry, strikes_by_expiry[expiry]) for expiry in expiries]
        self._contracts = {k: c for k, c in self._contracts.items() if k[0] != symbol or k[1] in strikes_by_expiry}
        contracts = tuple(c for block in blocks for c in block)
        sizes = [len(block) for block in blocks]
        starts = np.cumsum([0, *sizes[:-1]])
        calls = np.concatenate([start + np.arange(size // 2) for start, size in zip(starts, sizes, strict=True)])
        puts = calls + np.repeat(np.array(sizes) // 2, np.array(sizes) // 2)
        order = np.empty(len(contracts), dtype=np.int64)
        order[np.concatenate([calls, puts])] = np.arange(len(contracts))
        return _Listing(
            contracts=contracts,
            index={c.ticker: j for j, c in enumerate(contracts)},
            strike=np.array([c.strike for c in contracts]),
            is_call=np.array([c.contract_type == "call" for c in contracts]),
            expiration_ordinal=np.repeat([e.toordinal() for e in expiries], sizes).astype(np.int64),
            expiry_ms=np.repeat([float(session_close_ms(e)) for e in expiries], sizes),
            expiries=expiries,
            days_after=trading_days_after(today, expiries),
            slot=np.repeat(np.arange(len(expiries)), sizes).astype(np.int64),
            calls=calls.astype(np.int64),
            puts=puts.astype(np.int64),
            order=order,
            strikes_by_expiry={e: strikes_by_expiry[e] for e in expiries},
        )

    def _block(self, symbol: str, expiry: date, strikes: FloatArray) -> list[OptionContract]:
        """The calls, then the puts, of one expiry at ``strikes`` (contracts listed before are reused)."""
        block = []
        for kind in ("call", "put"):
            for strike in strikes.tolist():
                key = (symbol, expiry, kind, strike)
                contract = self._contracts.get(key)
                if contract is None:
                    contract = OptionContract(format_occ(symbol, expiry, kind, strike), symbol, kind, strike, expiry)
                    self._contracts[key] = contract
                block.append(contract)
        return block

    def atm_volatility(self, i: int, days: FloatArray, today: date) -> FloatArray:
        """At-the-money implied volatility of underlying ``i`` for expiries ``days`` trading days away."""
        profile = self.profiles[i]
        horizon = np.maximum(days, 1e-6)[:, None] * _NODES[None, :]
        kappa, s = self._kappa[i], self._vol_of_vol[i]
        level = self._mean_log_vol[i] + profile.implied_vol_lift
        mean = level + (self._log_vol[i] - level) * np.exp(-kappa * horizon)
        spread = s * s * -np.expm1(-2 * kappa * horizon)
        multiple = self._regime_vol[self._regime[i]]
        variance = (np.exp(2 * mean + 2 * spread) * multiple**2) @ _WEIGHTS
        variance += profile.jumps_per_year * (profile.jump_mean**2 + profile.jump_sd**2)
        if self._earnings_period[i]:
            reports = self._earnings_days_within(i, today, days)
            variance += reports * profile.earnings_sd**2 * TRADING_DAYS_PER_YEAR / np.maximum(days, 1e-6)
        return np.asarray(self._premium[i] * np.sqrt(variance) * math.exp(self._richness), dtype=np.float64)

    def _earnings_days_within(self, i: int, today: date, days: FloatArray) -> FloatArray:
        """How many earnings gaps fall before each horizon of ``days`` trading days after ``today``."""
        period = self._earnings_period[i]
        ahead = (period - (_weekday_index(today) + self._earnings_offset[i]) % period) % period or period  # days
        return np.asarray(np.maximum(np.floor((days - ahead) / period) + 1, 0.0), dtype=np.float64)

    def _build_snapshot(self) -> MarketSnapshot:
        cfg = self.config
        minute = self._step_in_day * self._minutes_per_step
        now = session_open_ms(self._day) + round(minute * MS_PER_MINUTE)
        if self._step_in_day == cfg.steps_per_day:
            now = session_close_ms(self._day)
        n = len(cfg.symbols)
        sizes = np.random.default_rng((cfg.seed, self._steps)).integers(1, 30, size=(3, n))
        symbols: dict[str, SymbolSnapshot] = {}
        for i, symbol in enumerate(cfg.symbols):
            spot = float(math.exp(self._log_price[i]))
            half = max(0.005, spot * 1e-5)
            bid = math.floor((spot - half) * 100) / 100
            ask = math.ceil((spot + half) * 100) / 100
            quote = StockQuote(symbol, bid, int(sizes[0, i]), ask, int(sizes[1, i]), now)
            trade = StockTrade(symbol, round(spot, 2), int(sizes[2, i]) * 100, now)
            symbols[symbol] = SymbolSnapshot(quote, trade, self._chain(i, spot, now, minute))
        return MarketSnapshot(now, symbols)

    def _chain(self, i: int, spot: float, now: int, minute: float) -> OptionChain:
        cfg = self.config
        profile = self.profiles[i]
        listing = self._listings[i]
        assert listing is not None
        expiry_days = variance_days(minute, listing.days_after, profile.overnight_share)
        atm_and_stress = self.atm_volatility(i, np.append(expiry_days, STRESS_TENOR_DAYS), self._day)
        atm, month = atm_and_stress[:-1], float(atm_and_stress[-1])
        stress = stress_factor(month, profile.volatility_premium * math.exp(self._mean_log_vol[i]))

        # a put and its twin call share a strike, an expiry and so an implied volatility: value the calls,
        # then the puts by parity
        calls = listing.calls
        strike = listing.strike[calls]
        years = np.maximum(listing.expiry_ms[calls] - now, 0.0) / MS_PER_YEAR
        variance_years = expiry_days[listing.slot[calls]] / TRADING_DAYS_PER_YEAR
        atm_c = atm[listing.slot[calls]]
        forward = spot * np.exp((cfg.risk_free_rate - profile.dividend_yield) * years)
        moneyness = np.log(strike / forward) / (atm_c * np.sqrt(np.maximum(variance_years, 1e-6)))
        moneyness = np.clip(moneyness, -3.5, 3.5)
        smile = np.clip(atm_c * (1.0 + profile.skew * moneyness + profile.smile * moneyness**2), 0.03, 3.0)
        rate, dividend = cfg.risk_free_rate, profile.dividend_yield
        call = black_scholes(spot, strike, years, smile, np.ones(len(calls), bool), rate, dividend, variance_years)
        put = puts_by_parity(call, spot, strike, years, rate, dividend)

        def merged(call_values: FloatArray, put_values: FloatArray) -> FloatArray:
            return np.asarray(np.concatenate([call_values, put_values])[listing.order], dtype=np.float64)

        iv = merged(smile, smile)
        value = Valuation(
            *(merged(getattr(call, f), getattr(put, f)) for f in ("price", "delta", "gamma", "theta", "vega"))
        )
        intrinsic = np.maximum(np.where(listing.is_call, spot - listing.strike, listing.strike - spot), 0.0)
        theoretical = np.maximum(value.price, intrinsic)
        expiring = listing.expiration_ordinal == self._day.toordinal()
        bid, ask = option_quotes(theoretical, profile, time_of_day_factor(minute) * stress, expiring)
        return OptionChain(
            underlying=cfg.symbols[i],
            timestamp_ms=now,
            underlying_price=spot,
            contracts=listing.contracts,
            index=listing.index,
            strike=listing.strike,
            is_call=listing.is_call,
            expiration_ordinal=listing.expiration_ordinal,
            bid=bid,
            ask=ask,
            implied_volatility=iv,
            delta=value.delta,
            gamma=value.gamma,
            theta=value.theta,
            vega=value.vega,
        )


def _weekday_index(day: date) -> int:
    """Weekdays from Monday 2000-01-03 to ``day``: the earnings calendar counts in these."""
    return int(np.busday_count(np.datetime64("2000-01-03"), np.datetime64(day)))
