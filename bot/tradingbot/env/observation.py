"""The observation: one fixed-length float32 vector per underlying, laid out as ``FEATURES`` lists.

Every feature is finite and clipped to [-10, 10]; a value that cannot be computed (no history yet,
no quote, no chain) is 0, and ``data_fresh`` says whether the underlying's data could be used at all.
Returns are log returns in percent; implied volatilities are annual decimal fractions.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tradingbot.env.chain_layout import LayoutCache
from tradingbot.env.portfolio import Portfolio
from tradingbot.market.clock import SESSION_MINUTES, eastern, session_minute
from tradingbot.market.types import OptionChain

RETURN_HORIZONS = (1, 5, 15, 60, 390)
"""Steps over which log returns are observed."""
VOL_WINDOW = 30
HISTORY = max(RETURN_HORIZONS) + 1
CLIP = 10.0

FEATURES: tuple[tuple[str, str], ...] = (
    *((f"return_{h}", f"log return of the underlying over the last {h} steps, percent") for h in RETURN_HORIZONS),
    ("realized_vol", f"annualised volatility of the last {VOL_WINDOW} step returns"),
    ("session_return", "log return since the first price seen this session, percent"),
    ("atm_iv_near", "implied volatility of the at-the-money call of the nearest expiry after today"),
    ("atm_iv_far", "implied volatility of the at-the-money call of the farthest listed expiry"),
    ("iv_skew", "IV of the put ~5 % below the spot minus IV of the call ~5 % above it, nearest expiry"),
    ("atm_call_delta", "delta of the at-the-money call, nearest expiry"),
    ("atm_put_delta", "delta of the at-the-money put, nearest expiry"),
    ("atm_gamma_1pct", "gamma x spot x 0.01 of the at-the-money call: delta change per 1 % move"),
    ("atm_theta_pct", "theta / mid of the at-the-money call: fraction of value lost per day"),
    ("atm_vega_pct", "vega / mid of the at-the-money call: fraction gained per volatility point"),
    ("atm_spread_pct", "(ask - bid) / mid of the at-the-money call"),
    ("cash_fraction", "cash / initial capital"),
    ("pnl_fraction", "portfolio value / initial capital - 1"),
    ("drawdown", "fall of the portfolio value from its high-water mark, fraction"),
    ("call_contracts", "call contracts held on this underlying / max contracts per position"),
    ("put_contracts", "put contracts held on this underlying / max contracts per position"),
    ("unrealized_pct", "unrealised P&L on this underlying, percent of initial capital"),
    ("positions_used", "open positions (all underlyings) / max open positions"),
    ("nearest_position_dte", "calendar days to the nearest expiry held on this underlying / 30 (0: none)"),
    ("session_progress", "minutes since the 09:30 open / 390"),
    ("weekday", "Monday 0 ... Friday 1"),
    ("near_expiry_days", "calendar days to the nearest expiry after today / 7"),
    ("expiry_day", "1 when a listed expiry is today"),
    ("data_fresh", "1 when this underlying's quote and chain were usable at this step"),
)
FEATURE_NAMES = tuple(name for name, _ in FEATURES)
OBSERVATION_SIZE = len(FEATURES)

Vector = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class PositionLimits:
    """Bounds used to normalise position features (also enforced by the environment)."""

    max_contracts_per_position: int
    max_open_positions: int


class ObservationBuilder:
    """Keeps each underlying's recent prices and turns a market snapshot plus portfolio into observations."""

    def __init__(
        self, symbols: tuple[str, ...], steps_per_year: float, limits: PositionLimits, layouts: LayoutCache
    ) -> None:
        self._layouts = layouts
        self._annualise = math.sqrt(steps_per_year)
        self._limits = limits
        self._prices: dict[str, deque[float]] = {s: deque(maxlen=HISTORY) for s in symbols}
        self._session_open: dict[str, tuple[int, float]] = {}

    def record(self, symbol: str, timestamp_ms: int, price: float) -> None:
        """Append a valid underlying price (USD) to the symbol's history."""
        self._prices[symbol].append(price)
        day = eastern(timestamp_ms).toordinal()
        if self._session_open.get(symbol, (None, 0.0))[0] != day:
            self._session_open[symbol] = (day, price)

    def last_price(self, symbol: str) -> float | None:
        """The latest recorded price of ``symbol``, USD, or ``None`` before the first."""
        history = self._prices[symbol]
        return history[-1] if history else None

    def build(
        self,
        symbol: str,
        timestamp_ms: int,
        chain: OptionChain | None,
        portfolio: Portfolio,
        fresh: bool,
    ) -> Vector:
        """The observation vector of one underlying (see ``FEATURES``)."""
        values: dict[str, float] = {}
        prices = np.log(np.asarray(self._prices[symbol], dtype=np.float64))
        today = eastern(timestamp_ms).date()
        if prices.size > 1:
            for horizon in RETURN_HORIZONS:
                back = min(horizon, prices.size - 1)
                values[f"return_{horizon}"] = 100.0 * (prices[-1] - prices[-1 - back])
            steps = np.diff(prices[-(VOL_WINDOW + 1) :])
            values["realized_vol"] = float(np.std(steps)) * self._annualise
            values["session_return"] = 100.0 * (prices[-1] - math.log(self._session_open[symbol][1]))
        if chain is not None and prices.size:
            values.update(self._chain_features(chain, math.exp(prices[-1]), today.toordinal()))
        values.update(self._portfolio_features(symbol, portfolio, today.toordinal()))
        values["session_progress"] = session_minute(timestamp_ms) / SESSION_MINUTES
        values["weekday"] = min(today.weekday(), 4) / 4.0
        values["data_fresh"] = float(fresh)
        out = np.array([values.get(name, 0.0) for name in FEATURE_NAMES], dtype=np.float64)
        return np.clip(np.nan_to_num(out, nan=0.0, posinf=CLIP, neginf=-CLIP), -CLIP, CLIP).astype(np.float32)

    def _chain_features(self, chain: OptionChain, spot: float, today: int) -> dict[str, float]:
        layout = self._layouts.layout(chain)
        later = layout.expiries_after(today)
        if later.size == 0:
            return {}
        near, far = int(later[0]), int(later[-1])
        calendar = {
            "near_expiry_days": (near - today) / 7.0,
            "expiry_day": float(today in layout.expiries),
        }
        call = layout.nearest(near, True, spot)
        put = layout.nearest(near, False, spot)
        far_call = layout.nearest(far, True, spot)
        otm_put = layout.nearest(near, False, spot * 0.95)
        otm_call = layout.nearest(near, True, spot * 1.05)
        if call is None or put is None or far_call is None or otm_put is None or otm_call is None:
            return calendar
        iv = chain.implied_volatility
        mid = (chain.bid[call] + chain.ask[call]) / 2
        safe_mid = mid if mid > 0 else math.nan
        return calendar | {
            "atm_iv_near": float(iv[call]),
            "atm_iv_far": float(iv[far_call]),
            "iv_skew": float(iv[otm_put] - iv[otm_call]),
            "atm_call_delta": float(chain.delta[call]),
            "atm_put_delta": float(chain.delta[put]),
            "atm_gamma_1pct": float(chain.gamma[call] * spot * 0.01),
            "atm_theta_pct": float(chain.theta[call] / safe_mid),
            "atm_vega_pct": float(chain.vega[call] / safe_mid),
            "atm_spread_pct": float((chain.ask[call] - chain.bid[call]) / safe_mid),
        }

    def _portfolio_features(self, symbol: str, portfolio: Portfolio, today: int) -> dict[str, float]:
        initial = portfolio.initial_cash
        calls = puts = 0
        unrealized = 0.0
        nearest: int | None = None
        for position in portfolio.positions.values():
            contract = position.contract
            if contract.underlying != symbol:
                continue
            if contract.contract_type == "call":
                calls += position.quantity
            else:
                puts += position.quantity
            unrealized += position.unrealized_pnl
            days = contract.expiration.toordinal() - today
            nearest = days if nearest is None else min(nearest, days)
        limits = self._limits
        return {
            "cash_fraction": portfolio.cash / initial,
            "pnl_fraction": portfolio.value / initial - 1.0,
            "drawdown": portfolio.drawdown,
            "call_contracts": calls / limits.max_contracts_per_position,
            "put_contracts": puts / limits.max_contracts_per_position,
            "unrealized_pct": 100.0 * unrealized / initial,
            "positions_used": len(portfolio.positions) / limits.max_open_positions,
            "nearest_position_dte": 0.0 if nearest is None else max(nearest, 0) / 30.0,
        }
