"""The calibrated market meets its targets: every statistic of a seeded sample inside its band.

Sample: 1,500 simulated trading days (about six years) of SPY, QQQ, AAPL and a generic ticker at 15-minute
steps, plus 20 sessions of minute steps for the opening spreads, seed 0. The bands (see
``docs/market-calibration.md``) are wide enough for sampling error over six years of clustered volatility
(seeds 0-5 all pass)
yet exclude the old simulator (32 % SPY volatility, 2 % ATM spreads, a flat term structure).
"""

from __future__ import annotations

import math

import pytest

from tradingbot.market.sim.calibration import TARGETS, Band, measure, targets_for

SYMBOLS = ("SPY", "QQQ", "AAPL", "XYZ")
DAYS = 1500

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def realistic() -> dict[str, dict[str, float]]:
    return measure("realistic", SYMBOLS, DAYS, seed=0)


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_every_statistic_of_the_realistic_market_lies_in_its_band(realistic, symbol):
    bands = targets_for(symbol)
    measured = realistic[symbol]
    assert set(measured) == set(bands)
    outside = {
        name: (round(value, 4), (band.low, band.high))
        for name, value in measured.items()
        if not (band := bands[name]).holds(value)
    }
    assert not outside, f"{symbol}: {outside}"


def test_the_bands_would_catch_the_old_market():
    spy = TARGETS["SPY"]
    assert not spy["realised_vol"].holds(0.32)  # the old simulator's SPY volatility
    assert not spy["atm_spread_share"].holds(0.02)  # its 2 % ATM spreads
    assert not spy["contango_share"].holds(0.0)  # its flat term structure (never above the 30-day)
    assert not spy["expiries_within_week"].holds(1.0)  # Fridays only
    assert not Band(0.0, 1.0, "", "").holds(math.nan)


def test_small_edge_keeps_the_calibrated_market_and_trending_keeps_its_trends():
    edge = measure("small-edge", ("SPY",), 250, seed=0)["SPY"]
    assert 0.12 <= edge["realised_vol"] <= 0.21 and 0.001 <= edge["atm_spread_share"] <= 0.015
    trending = measure("trending", ("SPY",), 120, seed=0)["SPY"]
    assert trending["realised_vol"] > 0.2  # +-4/yr drift regimes dominate the 12 % diffusion
