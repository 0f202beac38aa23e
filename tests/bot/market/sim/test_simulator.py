"""The seeded market simulator: determinism, market time, listings, trading time, sane prices, consistent chains."""

from __future__ import annotations

import math
from datetime import date, time, timedelta

import numpy as np
import pytest

from tradingbot.market.clock import eastern, session_close_ms
from tradingbot.market.occ import format_occ
from tradingbot.market.sim.expiries import listed_expiries, third_friday, trading_days_after, variance_days
from tradingbot.market.sim.profiles import GENERIC, SPY
from tradingbot.market.sim.quoting import option_quotes, stress_factor, time_of_day_factor
from tradingbot.market.sim.simulator import MarketSimulator, SimulatorConfig


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


def test_spy_lists_dailies_weeklies_and_monthlies_and_delists_the_expired():
    sim = MarketSimulator(SimulatorConfig(("SPY",), seed=3, start_date=date(2026, 1, 9), steps_per_day=4))
    for _ in range(3):
        sim.advance()
    friday_close = sim.advance()
    expiries = {c.expiration for c in friday_close.symbols["SPY"].chain.contracts}
    assert expiries == set(listed_expiries(date(2026, 1, 9), daily=True))
    assert friday_close.timestamp_ms == session_close_ms(date(2026, 1, 9))
    monday = sim.advance()
    rolled = {c.expiration for c in monday.symbols["SPY"].chain.contracts}
    assert date(2026, 1, 9) not in rolled
    assert {date(2026, 1, 12), date(2026, 1, 13), date(2026, 1, 14), date(2026, 1, 15), date(2026, 1, 16)} <= rolled
    assert {date(2026, 2, 20), date(2026, 3, 20), date(2026, 4, 17)} <= rolled  # third Fridays


def test_single_names_list_fridays_and_monthlies_only():
    expiries = listed_expiries(date(2026, 1, 12), daily=False)
    assert all(e.weekday() == 4 for e in expiries)
    assert expiries[:6] == [date(2026, 1, 16) + timedelta(weeks=k) for k in range(6)]
    assert third_friday(2026, 5) == date(2026, 5, 15) and date(2026, 4, 17) in expiries


def test_variance_accrues_in_trading_time_so_a_weekend_costs_nothing():
    monday = [date(2026, 1, 12)]
    friday_close = variance_days(390.0, trading_days_after(date(2026, 1, 9), monday), 0.3)
    thursday_close = variance_days(390.0, trading_days_after(date(2026, 1, 8), monday), 0.3)
    assert friday_close[0] == pytest.approx(1.0) and thursday_close[0] == pytest.approx(2.0)
    assert variance_days(195.0, trading_days_after(date(2026, 1, 12), monday), 0.3)[0] == pytest.approx(0.35)
    assert variance_days(0.0, trading_days_after(date(2026, 1, 13), monday), 0.3)[0] == 0.0


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
    # width: (1 cent + 0.3 % of value) x closing, stress and expiry-day widening, rounded outwards to the cent
    assert np.all(chain.ask[today] - chain.bid[today] <= 0.12 + 0.02 * intrinsic + 1e-9)


def test_a_long_run_never_produces_nan_negative_or_crossed_prices():
    config = SimulatorConfig(("SPY", "QQQ", "XYZ"), seed=11, steps_per_day=26)
    volatilities = []
    sim = MarketSimulator(config)
    for _ in range(26 * 120):  # 120 trading days
        snapshot = sim.advance()
        volatilities.append(sim.volatility("SPY"))
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
    assert max(volatilities) > 1.5 * min(volatilities)  # volatility is stochastic


def test_overnight_gaps_and_jumps_move_the_market_together():
    sim = MarketSimulator(SimulatorConfig(("SPY", "QQQ"), seed=2, steps_per_day=1))
    closes = []
    for _ in range(1500):
        sim.skip(1)
        closes.append([math.log(sim.spot("SPY")), math.log(sim.spot("QQQ"))])
    daily = np.diff(np.array(closes), axis=0)
    assert np.corrcoef(daily.T)[0, 1] > 0.6  # gap, session and jumps all share the market factor
    big = np.abs(daily[:, 0]) > 4 * np.std(daily[:, 0])
    assert big.any() and np.all(np.sign(daily[big, 0]) == np.sign(daily[big, 1]))


def test_skip_gives_the_same_stream_as_advancing():
    config = SimulatorConfig(("SPY", "AAPL"), seed=4, steps_per_day=13)
    stepped, skipped = MarketSimulator(config), MarketSimulator(config)
    for _ in range(40):
        stepped.advance()
    skipped.skip(40)
    assert fingerprint(stepped.current()) == fingerprint(skipped.current())


def test_quotes_respect_american_put_call_parity_bounds_with_dividends():
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
    spot, strike, t = chain.underlying_price, chain.strike[calls], years[calls]
    q = sim.profiles[0].dividend_yield
    assert np.all(chain.bid[calls] - chain.ask[puts] <= spot - strike * np.exp(-0.04 * t) + 1e-9)
    assert np.all(chain.ask[calls] - chain.bid[puts] >= spot * np.exp(-q * t) - strike - 1e-9)


def test_implied_volatility_has_put_skew_and_tracks_the_hidden_volatility():
    sim = MarketSimulator(SimulatorConfig(("SPY",), seed=0, steps_per_day=13))
    hidden, atm, skews = [], [], []
    for _ in range(13 * 250):
        chain = sim.advance().symbols["SPY"].chain
        spot = chain.underlying_price
        far = chain.expiration_ordinal == chain.expiration_ordinal.max()
        low = far & (np.abs(chain.strike - spot * 0.93) == np.abs(chain.strike[far] - spot * 0.93).min())
        high = far & (np.abs(chain.strike - spot * 1.07) == np.abs(chain.strike[far] - spot * 1.07).min())
        middle = far & (np.abs(chain.strike - spot) == np.abs(chain.strike[far] - spot).min())
        skews.append(chain.implied_volatility[low][0] - chain.implied_volatility[high][0])
        atm.append(chain.implied_volatility[middle][0])
        hidden.append(sim.volatility("SPY"))
    assert np.mean(skews) > 0
    assert np.corrcoef(hidden, atm)[0, 1] > 0.5  # the far expiry also prices mean reversion and richness


def test_quotes_are_wider_at_the_open_and_in_stress():
    assert time_of_day_factor(1.0) > 2.0 > time_of_day_factor(195.0) == pytest.approx(1.0, abs=1e-6)
    assert time_of_day_factor(389.0) > 1.2
    assert stress_factor(0.4, 0.16) > stress_factor(0.16, 0.16) == 1.0
    bid, ask = option_quotes(np.array([5.0]), SPY, 1.0, np.array([False]))
    assert (bid[0], ask[0]) == (4.98, 5.02)
    wide_bid, wide_ask = option_quotes(np.array([5.0]), SPY, 2.5, np.array([True]))
    assert wide_ask[0] - wide_bid[0] > ask[0] - bid[0]
    bid, ask = option_quotes(np.array([5.0]), GENERIC, 1.0, np.array([False]))
    assert np.allclose(np.round(bid / 0.05), bid / 0.05) and np.allclose(np.round(ask / 0.05), ask / 0.05)


def test_a_saved_market_of_another_version_is_refused():
    sim = MarketSimulator(SimulatorConfig(("SPY",), seed=0))
    state = sim.state_dict() | {"version": 1}
    with pytest.raises(ValueError, match="version"):
        sim.load_state_dict(state)


@pytest.mark.parametrize("bad", [(), ("SPY", "SPY")])
def test_bad_symbol_lists_are_refused(bad):
    with pytest.raises(ValueError, match="symbol"):
        SimulatorConfig(bad)
