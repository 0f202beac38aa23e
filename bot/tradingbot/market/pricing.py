"""Black-Scholes-Merton prices and Greeks, vectorised over contracts (European exercise, continuous rates
and dividend yield).

Units: prices in USD per share, ``years`` in calendar years, ``volatility``, ``rate`` and
``dividend_yield`` as annual decimal fractions. Theta is per calendar day and vega per volatility point
(0.01), as Massive reports.

Variance may accrue on its own clock: ``variance_years`` (for example trading time, in which a weekend
adds no variance) sets the total variance ``volatility**2 * variance_years`` while rates and dividends
accrue over the calendar ``years``. Theta then spreads the loss of variance evenly over the calendar
days to expiry.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

from tradingbot.market.types import BoolArray, FloatArray

RISK_FREE_RATE = 0.04
"""The continuously compounded risk-free rate every price and implied volatility here assumes (per year)."""
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
    dividend_yield: float = 0.0,
    variance_years: FloatArray | None = None,
) -> Valuation:
    """Value and Greeks of European options on an underlying paying a continuous ``dividend_yield``.

    ``variance_years`` defaults to ``years``. Contracts at or past expiry (``years <= 0``) are worth
    their intrinsic value, with a delta of 1 (calls) or -1 (puts) when in the money and every other
    Greek zero.
    """
    live = years > _MIN_YEARS
    t = np.where(live, years, 1.0)
    tv = t if variance_years is None else np.where(live, np.maximum(variance_years, _MIN_YEARS), 1.0)
    sigma = np.maximum(volatility, 1e-6)
    root_tv = np.sqrt(tv)
    sigma_root_t = sigma * root_tv
    d1 = (np.log(spot / strike) + (rate - dividend_yield) * t + 0.5 * sigma * sigma * tv) / sigma_root_t
    d2 = d1 - sigma_root_t
    discount = np.exp(-rate * t)
    carry = np.exp(-dividend_yield * t)
    pdf_d1 = np.exp(-0.5 * d1 * d1) / _SQRT_2PI
    sign = np.where(is_call, 1.0, -1.0)
    cdf_d1 = ndtr(sign * d1)
    cdf_d2 = ndtr(sign * d2)

    price = sign * (spot * carry * cdf_d1 - strike * discount * cdf_d2)
    delta = sign * carry * cdf_d1
    gamma = carry * pdf_d1 / (spot * sigma_root_t)
    vega = spot * carry * pdf_d1 * root_tv / 100.0
    variance_decay = -spot * carry * pdf_d1 * sigma / (2 * root_tv) * (tv / t)
    theta_year = variance_decay + sign * (dividend_yield * spot * carry * cdf_d1 - rate * strike * discount * cdf_d2)
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


def puts_by_parity(
    calls: Valuation, spot: float, strike: FloatArray, years: FloatArray, rate: float, dividend_yield: float = 0.0
) -> Valuation:
    """The European puts twinned with ``calls`` (same strikes, expiries and volatilities), by put-call parity.

    ``P = C - S exp(-qT) + K exp(-rT)``; gamma and vega are the call's; past expiry every Greek but delta is 0.
    """
    live = years > _MIN_YEARS
    carry = np.exp(-dividend_yield * years)
    discount = np.exp(-rate * years)
    carry_theta = (rate * strike * discount - dividend_yield * spot * carry) / 365.0
    return Valuation(
        price=np.maximum(calls.price - spot * carry + strike * discount, 0.0),
        delta=np.where(live, calls.delta - carry, np.where(strike > spot, -1.0, 0.0)),
        gamma=calls.gamma,
        theta=np.where(live, calls.theta + carry_theta, 0.0),
        vega=calls.vega,
    )


def intrinsic_value(spot: float, strike: float, is_call: bool) -> float:
    """Exercise value of one option share at expiry, USD (never negative)."""
    return max(spot - strike, 0.0) if is_call else max(strike - spot, 0.0)
