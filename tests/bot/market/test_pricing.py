"""Black-Scholes: parity, Greeks against finite differences, expiry."""

from __future__ import annotations

import numpy as np
import pytest

from tradingbot.market.pricing import black_scholes, intrinsic_value, puts_by_parity

RATE = 0.04
STRIKES = np.array([80.0, 95.0, 100.0, 105.0, 130.0])
YEARS = np.array([2 / 365, 7 / 365, 30 / 365, 0.5, 1.0])
VOLS = np.array([0.15, 0.3, 0.2, 0.6, 0.25])


def value(spot: float, strike=STRIKES, years=YEARS, vol=VOLS, call=True):
    return black_scholes(spot, strike, years, vol, np.full(strike.shape, call), RATE)


def test_put_call_parity_holds_for_every_contract():
    spot = 101.3
    calls, puts = value(spot, call=True), value(spot, call=False)
    forward_gap = spot - STRIKES * np.exp(-RATE * YEARS)
    np.testing.assert_allclose(calls.price - puts.price, forward_gap, atol=1e-10)
    np.testing.assert_allclose(calls.delta - puts.delta, 1.0, atol=1e-12)


@pytest.mark.parametrize("call", [True, False])
def test_greeks_match_finite_differences(call):
    spot, h = 101.3, 1e-3
    base = value(spot, call=call)
    up, down = value(spot + h, call=call), value(spot - h, call=call)
    np.testing.assert_allclose(base.delta, (up.price - down.price) / (2 * h), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(base.gamma, (up.price - 2 * base.price + down.price) / h**2, rtol=1e-3, atol=1e-5)

    dv = 1e-5
    vega_fd = (value(spot, vol=VOLS + dv, call=call).price - value(spot, vol=VOLS - dv, call=call).price) / (2 * dv)
    np.testing.assert_allclose(base.vega, vega_fd / 100, rtol=1e-5, atol=1e-8)

    dt = 1e-6
    later = value(spot, years=YEARS - dt, call=call).price
    earlier = value(spot, years=YEARS + dt, call=call).price
    theta_per_year = (later - earlier) / (2 * dt)
    np.testing.assert_allclose(base.theta, theta_per_year / 365, rtol=1e-4, atol=1e-7)


def test_expired_contracts_are_worth_intrinsic_value():
    strikes = np.array([90.0, 110.0, 90.0, 110.0])
    calls = np.array([True, True, False, False])
    expired = black_scholes(100.0, strikes, np.zeros(4), np.full(4, 0.2), calls, RATE)
    np.testing.assert_allclose(expired.price, [10.0, 0.0, 0.0, 10.0])
    np.testing.assert_allclose(expired.delta, [1.0, 0.0, 0.0, -1.0])
    assert not np.any(expired.gamma) and not np.any(expired.vega) and not np.any(expired.theta)
    assert intrinsic_value(100.0, 90.0, is_call=True) == 10.0
    assert intrinsic_value(100.0, 90.0, is_call=False) == 0.0


def test_prices_are_never_negative_or_nan_at_extremes():
    strikes = np.array([1.0, 1e4, 100.0, 100.0])
    out = black_scholes(
        100.0,
        strikes,
        np.array([1e-8, 5.0, 1e-6, 3.0]),
        np.array([3.0, 0.01, 2.0, 1e-9]),
        np.array([True, False, True, False]),
        RATE,
    )
    for array in (out.price, out.delta, out.gamma, out.theta, out.vega):
        assert np.all(np.isfinite(array))
    assert np.all(out.price >= 0)


def test_puts_by_parity_equal_black_scholes_puts_with_dividends_and_trading_time():
    strikes = np.array([80.0, 95.0, 100.0, 105.0, 130.0, 100.0])
    years = np.array([0.02, 0.1, 0.25, 0.5, 1.0, 0.0])
    variance_years = years * 0.7
    vols = np.array([0.15, 0.2, 0.25, 0.3, 0.4, 0.2])
    calls = black_scholes(101.0, strikes, years, vols, np.full(6, True), RATE, 0.013, variance_years)
    direct = black_scholes(101.0, strikes, years, vols, np.full(6, False), RATE, 0.013, variance_years)
    parity = puts_by_parity(calls, 101.0, strikes, years, RATE, 0.013)
    for field in ("price", "delta", "gamma", "theta", "vega"):
        assert np.allclose(getattr(parity, field), getattr(direct, field), atol=1e-9), field
