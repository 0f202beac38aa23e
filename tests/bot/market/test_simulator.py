"""The seeded market simulator: determinism, market time, expiry roll, sane prices, consistent chains."""

from __future__ import annotations

from datetime import date, time

import numpy as np
import pytest

from tradingbot.market.clock import eastern, session_close_ms
from tradingbot.market.occ import format_occ
from tradingbot.market.simulator import MarketSimulator, SimulatorConfig


def stream(config: SimulatorConfig, steps: int):
    sim = MarketSimulator(config)
    yield sim.current()
    for _ in range(steps):
        yield sim.advance()


def fingerprint(snapshot):
    parts = [snapshot.timestamp_ms]
    for symbol, data in snapshot.symbols.items():
        parts += [
            symbol,
            data.quote.bid,
            data.quote.ask,
            data.quote.bid_size,
            data.trade.price,
            data.trade.size,
        ]
        parts += [
            tuple(c.ticker for c in data.chain.contracts),
            data.chain.bid.tobytes(),
            data.chain.ask.tobytes(),
        ]
    return tuple(parts)


def test_same_seed_gives_an_identical_stream():
    config = SimulatorConfig(("SPY", "QQQ"), seed=7, steps_per_day=39)
    first = [fingerprint(s) for s in stream(config, 200)]
    second = [fingerprint(s) for s in stream(config, 200)]
    assert first == second


def test_another_seed_gives_another_stream():
    a = [fingerprint(s) for s in stream(SimulatorConfig(("SPY",), seed=1), 50)]
    b = [fingerprint(s) for s in stream(SimulatorConfig(("SPY",), seed=2), 50)]
    assert a != b


def test_a_day_has_390_minute_steps_from_0931_to_1600_and_skips_weekends():
    sim = MarketSimulator(SimulatorConfig(("SPY",), seed=0, start_date=date(2026, 1, 9)))  # a Friday
    assert eastern(sim.current().timestamp_ms).time() == time(9, 30)
    times = [eastern(sim.advance().timestamp_ms) for _ in range(391)]
    assert times[0].time() == time(9, 31)
    assert times[389].time() == time(16, 0) and times[389].date() == date(2026, 1, 9)
    assert times[390].date() == date(2026, 1, 12) and times[390].time() == time(9, 31)  # Monday
    minutes = np.diff([t.timestamp() for t in times[:390]])
    assert np.all(minutes == 60)


def test_market_time_follows_daylight_saving():
    sim = MarketSimulator(SimulatorConfig(("SPY",), seed=0, start_date=date(2026, 3, 6), steps_per_day=1))
    closes = [eastern(sim.advance().timestamp_ms) for _ in range(2)]
    assert [c.time() for c in closes] == [time(16, 0), time(16, 0)]
    assert closes[1].utcoffset() != closes[0].utcoffset()  # DST began on 2026-03-08


def test_expired_series_are_delisted_and_a_new_weekly_is_listed():
    sim = MarketSimulator(SimulatorConfig(("SPY",), seed=3, start_date=date(2026, 1, 9), steps_per_day=4))
    for _ in range(3):
        sim.advance()
    friday_close = sim.advance()
    expiries = {c.expiration for c in friday_close.symbols["SPY"].chain.contracts}
    assert date(2026, 1, 9) in expiries and len(expiries) == 5
    assert friday_close.timestamp_ms == session_close_ms(date(2026, 1, 9))
    monday = sim.advance()
    rolled = {c.expiration for c in monday.symbols["SPY"].chain.contracts}
    assert date(2026, 1, 9) not in rolled
    assert max(rolled) == date(2026, 2, 13) and len(rolled) == 5


def test_expiring_contracts_trade_at_intrinsic_value_at_the_close():
    sim = MarketSimulator(SimulatorConfig(("SPY",), seed=3, start_date=date(2026, 1, 9), steps_per_day=2))
    sim.advance()
    close = sim.advance().symbols["SPY"]
    chain = close.chain
    today = chain.expiration_ordinal == date(2026, 1, 9).toordinal()
    intrinsic = np.where(chain.is_call, chain.underlying_price - chain.strike, chain.strike - chain.underlying_price)
    intrinsic = np.maximum(intrinsic, 0.0)[today]
    assert np.all(chain.bid[today] <= intrinsic + 1e-9)
    assert np.all(chain.ask[today] >= intrinsic - 1e-9)
    # half spread is $0.01 + 1 % of value, and each side rounds outwards to the cent
    assert np.all(chain.ask[today] - chain.bid[today] <= 0.04 + 0.02 * intrinsic + 1e-9)


def test_a_long_run_never_produces_nan_negative_or_crossed_prices():
    config = SimulatorConfig(("SPY", "QQQ", "XYZ"), seed=11, steps_per_day=26)
    seen_regimes: set[str] = set()
    sim = MarketSimulator(config)
    for _ in range(26 * 120):  # 120 trading days
        snapshot = sim.advance()
        seen_regimes.add(sim.regime("SPY").name)
        for data in snapshot.symbols.values():
            quote, chain = data.quote, data.chain
            assert 0 < quote.bid < quote.ask and np.isfinite(quote.mid)
            assert len(chain) > 0
            for array in (
                chain.bid,
                chain.ask,
                chain.implied_volatility,
                chain.delta,
                chain.gamma,
                chain.theta,
                chain.vega,
            ):
                assert np.all(np.isfinite(array))
            assert np.all(chain.bid >= 0) and np.all(chain.ask >= 0.01) and np.all(chain.bid < chain.ask)
            assert np.allclose(chain.bid, np.round(chain.bid, 2)) and np.allclose(chain.ask, np.round(chain.ask, 2))
    assert len(seen_regimes) >= 3


def test_quotes_respect_put_call_parity_bounds():
    sim = MarketSimulator(SimulatorConfig(("SPY",), seed=5))
    for _ in range(100):
        snapshot = sim.advance()
    chain = snapshot.symbols["SPY"].chain
    years = (np.array([session_close_ms(c.expiration) for c in chain.contracts]) - snapshot.timestamp_ms) / (
        365.25 * 86_400_000
    )
    calls = np.flatnonzero(chain.is_call)
    twin = [chain.contracts[i] for i in calls]
    puts = np.array([chain.index[format_occ("SPY", c.expiration, "put", c.strike)] for c in twin])
    parity = chain.underlying_price - chain.strike[calls] * np.exp(-0.04 * years[calls])
    assert np.all(chain.bid[calls] - chain.ask[puts] <= parity + 1e-9)
    assert np.all(chain.ask[calls] - chain.bid[puts] >= parity - 1e-9)


def test_implied_volatility_has_put_skew_and_tracks_the_regime():
    sim = MarketSimulator(SimulatorConfig(("SPY",), seed=0, steps_per_day=39))
    atm_by_regime: dict[str, list[float]] = {}
    skews = []
    for _ in range(39 * 60):
        chain = sim.advance().symbols["SPY"].chain
        spot = chain.underlying_price
        near = chain.expiration_ordinal == chain.expiration_ordinal.max()
        low = near & (np.abs(chain.strike - spot * 0.93) == np.abs(chain.strike[near] - spot * 0.93).min())
        high = near & (np.abs(chain.strike - spot * 1.07) == np.abs(chain.strike[near] - spot * 1.07).min())
        atm = near & (np.abs(chain.strike - spot) == np.abs(chain.strike[near] - spot).min())
        skews.append(chain.implied_volatility[low][0] - chain.implied_volatility[high][0])
        atm_by_regime.setdefault(sim.regime("SPY").name, []).append(chain.implied_volatility[atm][0])
    assert np.mean(skews) > 0
    assert np.mean(atm_by_regime["turbulent"]) > np.mean(atm_by_regime["calm"])


@pytest.mark.parametrize("bad", [(), ("SPY", "SPY")])
def test_bad_symbol_lists_are_refused(bad):
    with pytest.raises(ValueError, match="symbol"):
        SimulatorConfig(bad)
