"""Black-Scholes prices and Greeks, vectorised over contracts (European exercise, continuous rates).

Units: prices in USD per share, ``years`` in calendar years, ``volatility`` and ``rate`` as annual
decimal fractions. Theta is per calendar day and vega per volatility point (0.01), as Massive reports.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

from tradingbot.market.types import BoolArray, FloatArray

_MIN_YEARS = 1e-9
_SQRT_2PI = np.sqrt(2 * np.pi)


@dataclass(frozen=True, slots=True)
class Valuation:
    """Theoretical value and Greeks, one element per contract."""

    price: FloatArray
    delta: FloatArray
    gamma: FloatArray
    theta: FloatArray
    vega: FloatArray


def black_scholes(
    spot: float,
    strike: FloatArray,
    years: FloatArray,
    volatility: FloatArray,
    is_call: BoolArray,
    rate: float,
) -> Valuation:
    """Value and Greeks of European options on a non-dividend underlying.

    Contracts at or past expiry (``years <= 0``) are worth their intrinsic value, with a delta of 1
    (calls) or -1 (puts) when in the money and every other Greek zero.
    """
    live = years > _MIN_YEARS
    t = np.where(live, years, 1.0)
    sigma = np.maximum(volatility, 1e-6)
    root_t = np.sqrt(t)
    sigma_root_t = sigma * root_t
    d1 = (np.log(spot / strike) + (rate + 0.5 * sigma * sigma) * t) / sigma_root_t
    d2 = d1 - sigma_root_t
    discount = np.exp(-rate * t)
    pdf_d1 = np.exp(-0.5 * d1 * d1) / _SQRT_2PI
    sign = np.where(is_call, 1.0, -1.0)
    cdf_d1 = ndtr(sign * d1)
    cdf_d2 = ndtr(sign * d2)

    price = sign * (spot * cdf_d1 - strike * discount * cdf_d2)
    delta = sign * cdf_d1
    gamma = pdf_d1 / (spot * sigma_root_t)
    vega = spot * pdf_d1 * root_t / 100.0
    theta_year = -spot * pdf_d1 * sigma / (2 * root_t) - sign * rate * strike * discount * cdf_d2
    theta = theta_year / 365.0

    intrinsic = np.maximum(sign * (spot - strike), 0.0)
    zero = np.zeros_like(price)
    return Valuation(
        price=np.where(live, np.maximum(price, 0.0), intrinsic),
        delta=np.where(live, delta, np.where(intrinsic > 0, sign, 0.0)),
        gamma=np.where(live, gamma, zero),
        theta=np.where(live, theta, zero),
        vega=np.where(live, vega, zero),
    )


def intrinsic_value(spot: float, strike: float, is_call: bool) -> float:
    """Exercise value of one option share at expiry, USD (never negative)."""
    return max(spot - strike, 0.0) if is_call else max(strike - spot, 0.0)
