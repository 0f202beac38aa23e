"""A seeded option-market simulator: regime-switching underlyings with jumps and a consistently priced chain.

Each underlying follows a log-price process whose drift and volatility come from a hidden Markov
regime (calm, rally, sell-off, turbulent), with occasional jumps, an overnight gap and minute shocks
correlated through a common market factor. Its option chain lists weekly Friday expiries and strikes
around the money, priced with Black-Scholes from a volatility surface with skew and smile whose
at-the-money level tracks the regime. Quotes are rounded to cents with a realistic spread. Time is
market time: ``steps_per_day`` steps per 390-minute regular session, weekdays only; options expire at
16:00 ET on their expiry date and are delisted the next day. The same config and seed give an
identical stream.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np

from tradingbot.market.clock import (
    MS_PER_MINUTE,
    MS_PER_YEAR,
    SESSION_MINUTES,
    fridays_from,
    next_weekday,
    session_close_ms,
    session_open_ms,
)
from tradingbot.market.occ import format_occ
from tradingbot.market.pricing import black_scholes
from tradingbot.market.types import (
    FloatArray,
    MarketSnapshot,
    OptionChain,
    OptionContract,
    StockQuote,
    StockTrade,
    SymbolSnapshot,
)

TRADING_DAYS_PER_YEAR = 252
KNOWN_PRICES = {"SPY": 600.0, "QQQ": 520.0, "AAPL": 230.0, "IWM": 220.0, "MSFT": 420.0, "NVDA": 140.0}
"""Starting prices (USD) for familiar tickers; others get a deterministic price from their name."""
STRIKE_SPACINGS = (0.5, 1.0, 2.5, 5.0, 10.0, 25.0)


@dataclass(frozen=True, slots=True)
class Regime:
    """A market regime: annualised drift and volatility of log returns (decimal fractions)."""

    name: str
    drift: float
    volatility: float


DEFAULT_REGIMES = (
    Regime("calm", 0.05, 0.12),
    Regime("rally", 1.50, 0.18),
    Regime("selloff", -1.50, 0.30),
    Regime("turbulent", 0.0, 0.45),
)


TRENDING_REGIMES = (
    Regime("uptrend", 4.0, 0.12),
    Regime("downtrend", -4.0, 0.12),
)
"""A planted, learnable edge: persistent trends (about 1.6 % a day) that recent returns reveal."""

PRESETS: dict[str, dict[str, Any]] = {
    "realistic": {},
    "trending": {"regimes": TRENDING_REGIMES, "mean_regime_days": 5.0, "jumps_per_day": 0.0},
}
"""Named market presets (overrides of :class:`SimulatorConfig` defaults)."""


@dataclass(frozen=True, slots=True)
class SimulatorConfig:
    """Simulator parameters. Rates and volatilities are annual decimal fractions."""

    symbols: tuple[str, ...]
    seed: int = 0
    start_date: date = date(2026, 1, 5)
    steps_per_day: int = SESSION_MINUTES
    regimes: tuple[Regime, ...] = DEFAULT_REGIMES
    mean_regime_days: float = 2.0
    """Expected time a regime lasts, in trading days."""
    market_correlation: float = 0.6
    """Correlation of the per-step shocks between any two underlyings."""
    jumps_per_day: float = 0.3
    jump_volatility: float = 0.01
    """Standard deviation of a jump's log return."""
    overnight_minutes: float = 60.0
    """The overnight gap carries the variance of this many session minutes."""
    risk_free_rate: float = 0.04
    weekly_expiries: int = 5
    strike_range: float = 0.15
    """Strikes are listed to cover at least +/- this fraction of the spot at each day's open."""
    volatility_premium: float = 1.1
    """At-the-money implied volatility as a multiple of the regime's realised volatility."""
    iv_half_life_steps: float = 30.0
    skew: float = -0.35
    smile: float = 0.25
    option_half_spread: tuple[float, float] = (0.01, 0.01)
    """Option half spread: a fixed USD part plus a fraction of theoretical value."""

    def __post_init__(self) -> None:
        if not self.symbols:
            raise ValueError("the simulator needs at least one symbol")
        if len(set(self.symbols)) != len(self.symbols):
            raise ValueError(f"duplicate symbols in {self.symbols}")
        if self.steps_per_day < 1 or self.weekly_expiries < 1 or not self.regimes:
            raise ValueError("steps_per_day, weekly_expiries and regimes must be positive")
        if not 0.0 <= self.market_correlation <= 1.0:
            raise ValueError("market_correlation must lie in [0, 1]")


def starting_price(symbol: str) -> float:
    """A deterministic starting price for ``symbol``, USD."""
    if symbol in KNOWN_PRICES:
        return KNOWN_PRICES[symbol]
    return 40.0 + (zlib.crc32(symbol.encode()) % 36_000) / 100.0


def strike_spacing(price: float) -> float:
    """The widest listed strike increment that keeps strikes about 1 % of the price apart, USD."""
    fitting = [s for s in STRIKE_SPACINGS if s <= 0.01 * price]
    return fitting[-1] if fitting else STRIKE_SPACINGS[0]


def _floor_cents(values: FloatArray) -> FloatArray:
    return np.round(np.floor(values * 100 + 1e-9) / 100, 2)


def _ceil_cents(values: FloatArray) -> FloatArray:
    return np.round(np.ceil(values * 100 - 1e-9) / 100, 2)


@dataclass(slots=True)
class _Listing:
    """One underlying's listed contracts for the current day, in column form."""

    contracts: tuple[OptionContract, ...]
    index: dict[str, int]
    strike: FloatArray
    is_call: np.ndarray
    expiration_ordinal: np.ndarray
    expiry_ms: FloatArray
    strikes_by_expiry: dict[date, FloatArray] = field(default_factory=dict)


class MarketSimulator:
    """A deterministic :class:`~tradingbot.market.source.MarketSource` over simulated markets."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self._rng = np.random.default_rng(config.seed)
        n = len(config.symbols)
        self._minutes_per_step = SESSION_MINUTES / config.steps_per_day
        self._dt = self._minutes_per_step / (TRADING_DAYS_PER_YEAR * SESSION_MINUTES)
        self._switch_probability = 1.0 / (config.mean_regime_days * config.steps_per_day)
        self._jump_probability = config.jumps_per_day / config.steps_per_day
        self._iv_pull = 1.0 - 0.5 ** (1.0 / config.iv_half_life_steps)
        self._drift = np.array([r.drift for r in config.regimes])
        self._vol = np.array([r.volatility for r in config.regimes])

        self._log_price = np.log([starting_price(s) for s in config.symbols])
        self._regime = self._rng.integers(0, len(config.regimes), size=n)
        self._atm_iv = self._vol[self._regime] * config.volatility_premium
        self._spacing = [strike_spacing(starting_price(s)) for s in config.symbols]
        day = config.start_date
        while day.weekday() >= 5:
            day = next_weekday(day)
        self._day = day
        self._step_in_day = 0
        self._listings: list[_Listing | None] = [None] * n
        self._list_contracts()
        self._snapshot = self._build_snapshot()

    @property
    def symbols(self) -> tuple[str, ...]:
        """Underlyings in the order of every snapshot."""
        return self.config.symbols

    @property
    def day(self) -> date:
        """The current trading day."""
        return self._day

    def regime(self, symbol: str) -> Regime:
        """The hidden regime currently driving ``symbol`` (for diagnostics and tests)."""
        return self.config.regimes[int(self._regime[self.config.symbols.index(symbol)])]

    def current(self) -> MarketSnapshot:
        """The latest snapshot."""
        return self._snapshot

    def state_dict(self) -> dict[str, Any]:
        """The market's complete state as plain data, so a restarted bot continues the same market."""
        return {
            "symbols": list(self.config.symbols),
            "seed": self.config.seed,
            "rng": self._rng_before_snapshot,
            "log_price": self._log_price.tolist(),
            "regime": self._regime.tolist(),
            "atm_iv": self._atm_iv.tolist(),
            "day": self._day.isoformat(),
            "step_in_day": self._step_in_day,
            "listings": [
                {e.isoformat(): k.tolist() for e, k in listing.strikes_by_expiry.items()} if listing else {}
                for listing in self._listings
            ],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from :meth:`state_dict`; the symbols and seed must match this simulator's."""
        if list(state["symbols"]) != list(self.config.symbols) or int(state["seed"]) != self.config.seed:
            raise ValueError(
                f"saved market is for symbols {state['symbols']} seed {state['seed']}, "
                f"this simulator has {list(self.config.symbols)} seed {self.config.seed}"
            )
        # parse everything before changing anything: a malformed state leaves this simulator untouched
        log_price = np.array(state["log_price"], dtype=np.float64)
        regime = np.array(state["regime"], dtype=np.int64)
        atm_iv = np.array(state["atm_iv"], dtype=np.float64)
        day = date.fromisoformat(state["day"])
        step_in_day = int(state["step_in_day"])
        listings: list[_Listing | None] = [
            self._listing(symbol, {date.fromisoformat(e): np.array(k) for e, k in saved.items()})
            for symbol, saved in zip(self.config.symbols, state["listings"], strict=True)
        ]
        shapes_ok = log_price.shape == regime.shape == atm_iv.shape == (len(self.config.symbols),)
        regimes_ok = bool(np.all((regime >= 0) & (regime < len(self.config.regimes))))
        if not (shapes_ok and regimes_ok and 0 <= step_in_day <= self.config.steps_per_day):
            raise ValueError("saved market state does not match this simulator's symbols, regimes or steps per day")
        rng = np.random.default_rng()
        rng.bit_generator.state = state["rng"]  # as it was before the saved snapshot drew its sizes
        self._rng = rng
        self._log_price, self._regime, self._atm_iv = log_price, regime, atm_iv
        self._day, self._step_in_day, self._listings = day, step_in_day, listings
        self._snapshot = self._build_snapshot()

    def advance(self) -> MarketSnapshot:
        """Advance one step of market time; after the 16:00 close the next step is the next weekday."""
        overnight = self._step_in_day == self.config.steps_per_day
        if overnight:
            self._day = next_weekday(self._day)
            self._step_in_day = 0
        self._step_in_day += 1
        self._evolve(overnight)
        if overnight:
            self._list_contracts()
        self._snapshot = self._build_snapshot()
        return self._snapshot

    def _evolve(self, overnight: bool) -> None:
        cfg = self.config
        n = len(cfg.symbols)
        rng = self._rng
        switch = rng.random(n) < self._switch_probability
        hop = rng.integers(1, max(len(cfg.regimes), 2), size=n)
        common = rng.standard_normal()
        own = rng.standard_normal(n)
        gap = rng.standard_normal(n)
        jump_happens = rng.random(n) < self._jump_probability
        jump_size = rng.normal(0.0, cfg.jump_volatility, size=n)

        if len(cfg.regimes) > 1:
            self._regime = np.where(switch, (self._regime + hop) % len(cfg.regimes), self._regime)
        mu = self._drift[self._regime]
        sigma = self._vol[self._regime]
        rho = cfg.market_correlation
        shock = math.sqrt(rho) * common + math.sqrt(1.0 - rho) * own
        dt = self._dt
        step = (mu - 0.5 * sigma**2) * dt + sigma * math.sqrt(dt) * shock
        if overnight:
            step += sigma * np.sqrt(cfg.overnight_minutes * dt / self._minutes_per_step) * gap
        jumps = np.where(jump_happens, jump_size, 0.0)
        self._log_price = self._log_price + step + jumps

        target = sigma * cfg.volatility_premium
        self._atm_iv = self._atm_iv + self._iv_pull * (target - self._atm_iv) + 2.0 * np.abs(jumps)
        self._atm_iv = np.clip(self._atm_iv, 0.05, 2.0)

    def _list_contracts(self) -> None:
        """List weekly expiries from today and extend strikes to cover the day's open."""
        cfg = self.config
        expiries = fridays_from(self._day, cfg.weekly_expiries)
        for i, symbol in enumerate(cfg.symbols):
            spot = math.exp(self._log_price[i])
            spacing = self._spacing[i]
            low = math.floor(spot * (1 - cfg.strike_range) / spacing)
            high = math.ceil(spot * (1 + cfg.strike_range) / spacing)
            fresh = np.arange(max(low, 1), high + 1) * spacing
            previous = self._listings[i]
            strikes_by_expiry: dict[date, FloatArray] = {}
            for expiry in expiries:
                held = previous.strikes_by_expiry.get(expiry) if previous else None
                merged = fresh if held is None else np.union1d(held, fresh)
                strikes_by_expiry[expiry] = np.round(merged, 3)
            self._listings[i] = self._listing(symbol, strikes_by_expiry)

    @staticmethod
    def _listing(symbol: str, strikes_by_expiry: dict[date, FloatArray]) -> _Listing:
        contracts: list[OptionContract] = []
        for expiry, strikes in strikes_by_expiry.items():
            for kind in ("call", "put"):
                for strike in strikes:
                    k = float(strike)
                    contracts.append(OptionContract(format_occ(symbol, expiry, kind, k), symbol, kind, k, expiry))
        return _Listing(
            contracts=tuple(contracts),
            index={c.ticker: j for j, c in enumerate(contracts)},
            strike=np.array([c.strike for c in contracts]),
            is_call=np.array([c.contract_type == "call" for c in contracts]),
            expiration_ordinal=np.array([c.expiration.toordinal() for c in contracts], dtype=np.int64),
            expiry_ms=np.array([session_close_ms(c.expiration) for c in contracts], dtype=np.float64),
            strikes_by_expiry=strikes_by_expiry,
        )

    def _build_snapshot(self) -> MarketSnapshot:
        cfg = self.config
        self._rng_before_snapshot = self._rng.bit_generator.state
        now = session_open_ms(self._day) + round(self._step_in_day * self._minutes_per_step * MS_PER_MINUTE)
        if self._step_in_day == cfg.steps_per_day:
            now = session_close_ms(self._day)
        n = len(cfg.symbols)
        bid_size = self._rng.integers(1, 30, size=n)
        ask_size = self._rng.integers(1, 30, size=n)
        trade_size = self._rng.integers(1, 10, size=n) * 100
        symbols: dict[str, SymbolSnapshot] = {}
        for i, symbol in enumerate(cfg.symbols):
            spot = float(math.exp(self._log_price[i]))
            half = max(0.005, spot * 1e-5)
            bid = math.floor((spot - half) * 100) / 100
            ask = math.ceil((spot + half) * 100) / 100
            quote = StockQuote(symbol, bid, int(bid_size[i]), ask, int(ask_size[i]), now)
            trade = StockTrade(symbol, round(spot, 2), int(trade_size[i]), now)
            symbols[symbol] = SymbolSnapshot(quote, trade, self._chain(i, spot, now))
        return MarketSnapshot(now, symbols)

    def _chain(self, i: int, spot: float, now: int) -> OptionChain:
        cfg = self.config
        listing = self._listings[i]
        assert listing is not None
        years = np.maximum(listing.expiry_ms - now, 0.0) / MS_PER_YEAR
        moneyness = np.log(listing.strike / spot) / np.sqrt(np.maximum(years, 1.0 / 52))
        iv = self._atm_iv[i] * (1.0 + cfg.skew * moneyness + cfg.smile * moneyness**2)
        iv = np.clip(iv, 0.05, 2.5)
        value = black_scholes(spot, listing.strike, years, iv, listing.is_call, cfg.risk_free_rate)
        fixed, proportional = cfg.option_half_spread
        half = fixed + proportional * value.price
        bid = np.maximum(_floor_cents(value.price - half), 0.0)
        ask = _ceil_cents(np.maximum(np.maximum(value.price + half, bid + 0.01), 0.01))
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
