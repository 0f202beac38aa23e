"""Trading performance from an account's daily equity and its fills: the figures a trader reads.

Pure functions. Returns are fractions (0.01 = 1 %); money is USD; annualised figures use 252 trading
days a year; Sharpe and Sortino take a zero risk-free rate (the paper account's cash earns nothing).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from tradingbot.env.portfolio import Fill
from tradingbot.market.sim.simulator import TRADING_DAYS_PER_YEAR

METRICS = (
    "total_return",
    "annualised_return",
    "sharpe",
    "sortino",
    "max_drawdown",
    "win_rate",
    "profit_factor",
    "trades_per_day",
    "fees_paid",
)
"""Every figure :func:`performance` gives, in report order."""


def daily_returns(equity: Sequence[float]) -> np.ndarray:
    """Each session's return from the equity at the previous close (``equity[0]``: the opening capital)."""
    values = np.asarray(equity, dtype=np.float64)
    return values[1:] / values[:-1] - 1.0


def max_drawdown(equity: Sequence[float]) -> float:
    """The largest fall from a running high, as a fraction of that high."""
    values = np.asarray(equity, dtype=np.float64)
    highs = np.maximum.accumulate(values)
    return float(np.max(1.0 - values / highs))


def performance(equity: Sequence[float], fills: Sequence[Fill]) -> dict[str, float]:
    """The :data:`METRICS` of an account whose equity at each close (after the opening capital) was
    ``equity`` and whose fills were ``fills``. Ratios without data are NaN (a Sharpe of a flat account)."""
    days = len(equity) - 1
    if days < 1:
        raise ValueError("performance needs the opening capital and at least one session's closing equity")
    returns = daily_returns(equity)
    total = equity[-1] / equity[0] - 1.0
    spread = returns.std(ddof=1) if days > 1 else math.nan
    downside = math.sqrt(float(np.mean(np.minimum(returns, 0.0) ** 2)))
    scale = math.sqrt(TRADING_DAYS_PER_YEAR)
    closes = [f.realized_pnl for f in fills if f.kind != "buy"]
    gains = sum(p for p in closes if p > 0)
    losses = -sum(p for p in closes if p < 0)
    return {
        "total_return": total,
        "annualised_return": (1.0 + total) ** (TRADING_DAYS_PER_YEAR / days) - 1.0 if total > -1 else -1.0,
        "sharpe": float(returns.mean() / spread * scale) if spread and spread > 0 else math.nan,
        "sortino": float(returns.mean() / downside * scale) if downside > 0 else math.nan,
        "max_drawdown": max_drawdown(equity),
        "win_rate": sum(p > 0 for p in closes) / len(closes) if closes else math.nan,
        "profit_factor": gains / losses if losses > 0 else math.nan,
        "trades_per_day": sum(f.kind != "expire" for f in fills) / days,
        "fees_paid": sum(f.commission + f.fees for f in fills),
    }


def mean_and_error(samples: Sequence[float]) -> tuple[float, float]:
    """Mean and standard error of the finite samples (NaN when there are none; the error needs two)."""
    finite = np.asarray([s for s in samples if math.isfinite(s)], dtype=np.float64)
    if finite.size == 0:
        return math.nan, math.nan
    error = float(finite.std(ddof=1) / math.sqrt(finite.size)) if finite.size > 1 else math.nan
    return float(finite.mean()), error
