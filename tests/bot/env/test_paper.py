"""The paper-trading environment: fills, masking, expiry, bad market data, observations, rewards."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date

import msgspec
import numpy as np
import pytest

from tradingbot.env.actions import ACTION_NAMES, BUY_ACTIONS, CLOSE_ACTIONS, HOLD, NUM_ACTIONS
from tradingbot.env.observation import FEATURE_NAMES, OBSERVATION_SIZE
from tradingbot.env.paper import EnvironmentConfig, PaperTradingEnvironment
from tradingbot.env.portfolio import FeeSchedule, Portfolio
from tradingbot.env.reward import step_reward
from tradingbot.env.risk import RiskLimits
from tradingbot.market.clock import eastern
from tradingbot.market.quality import DataRules
from tradingbot.market.sim.simulator import MarketSimulator, SimulatorConfig

BUY_ATM_CALL_1W = ACTION_NAMES.index("buy_call_atm_1w")
CLOSE_ALL = ACTION_NAMES.index("close_all")


def sim_env(symbols=("SPY",), seed=0, **config):
    source = MarketSimulator(SimulatorConfig(symbols, seed=seed, **config.pop("sim", {})))
    return PaperTradingEnvironment(source, EnvironmentConfig(**config))


def test_buy_then_immediate_close_loses_exactly_the_spread_plus_fees(static_market):
    rules = EnvironmentConfig(risk=RiskLimits(contracts_per_trade=2))
    env = PaperTradingEnvironment(static_market(bid=1.10, ask=1.20), rules)
    env.reset()
    bought = env.step([BUY_ATM_CALL_1W])
    assert [f.kind for f in bought.info.fills] == ["buy"] and bought.info.fills[0].price == 1.20
    sold = env.step([CLOSE_ALL])
    assert [f.kind for f in sold.info.fills] == ["sell"] and sold.info.fills[0].price == 1.10
    loss = 2 * 100 * 0.10 + 2 * 2 * 0.70
    assert env.portfolio.value == pytest.approx(100_000 - loss)
    assert bought.reward + sold.reward == pytest.approx(step_reward(100_000, 100_000 - loss, 100_000))


def test_buy_resolves_the_tier_expiry_and_the_strike_nearest_the_target(static_market):
    env = PaperTradingEnvironment(static_market(spot=100.0), EnvironmentConfig())
    env.step([ACTION_NAMES.index("buy_put_otm5_2w")])
    (position,) = env.portfolio.positions.values()
    assert position.contract.contract_type == "put" and position.contract.strike == 95.0
    assert position.contract.expiration == date(2026, 1, 16)  # 11 days: nearest to 14 of 4, 11, 18, 32


def test_mask_allows_buys_with_cash_and_closes_only_with_positions(static_market):
    env = PaperTradingEnvironment(static_market(), EnvironmentConfig())
    mask = env.action_mask()
    assert mask.shape == (1, NUM_ACTIONS) and mask[0, HOLD]
    assert mask[0, list(BUY_ACTIONS)].all() and not mask[0, list(CLOSE_ACTIONS)].any()
    env.step([BUY_ATM_CALL_1W])
    mask = env.action_mask()
    assert mask[0, ACTION_NAMES.index("close_calls")] and not mask[0, ACTION_NAMES.index("close_puts")]
    assert mask[0, CLOSE_ALL]


def test_no_buy_is_valid_without_the_cash_to_pay_for_it(static_market):
    env = PaperTradingEnvironment(static_market(bid=1.10, ask=1.20), EnvironmentConfig(initial_capital=120.0))
    assert not env.action_mask()[0, list(BUY_ACTIONS)].any()  # $120 premium + $0.70 fees > $120


def test_a_masked_action_is_refused_with_a_reason_and_changes_nothing(static_market):
    env = PaperTradingEnvironment(static_market(), EnvironmentConfig(initial_capital=50.0))
    result = env.step([BUY_ATM_CALL_1W])
    (rejection,) = result.info.rejections
    assert "costs $120.70" in rejection.reason and rejection.symbol == "SPY"
    assert env.portfolio.cash == 50.0 and not result.info.fills and env.portfolio.trades == 0
    closing = env.step([CLOSE_ALL])
    assert "nothing sellable" in closing.info.rejections[0].reason


def test_position_limits_are_enforced(static_market):
    risk = RiskLimits(contracts_per_trade=1, contracts_per_position=2, max_open_positions=2)
    env = PaperTradingEnvironment(static_market(), EnvironmentConfig(risk=risk))
    for _ in range(3):
        env.step([BUY_ATM_CALL_1W])
    assert env.portfolio.positions[next(iter(env.portfolio.positions))].quantity == 2
    assert not env.action_mask()[0, BUY_ATM_CALL_1W]
    env.step([ACTION_NAMES.index("buy_put_atm_1w")])
    assert len(env.portfolio.positions) == 2
    assert not env.action_mask()[0, ACTION_NAMES.index("buy_put_atm_4w")]


@pytest.mark.parametrize(
    "actions",
    [[31], [-1], [0, 0], [], [1.0], np.array([True]), "1", [[1]]],
)
def test_actions_of_the_wrong_range_type_or_count_are_a_clear_error(static_market, actions):
    env = PaperTradingEnvironment(static_market(), EnvironmentConfig())
    with pytest.raises(ValueError, match="action"):
        env.step(actions)
    assert env.steps == 0 and env.portfolio.trades == 0


def test_a_nan_underlying_price_stops_entries_but_not_exits_at_a_valid_bid(static_market):
    source = static_market()
    env = PaperTradingEnvironment(source, EnvironmentConfig())
    env.step([BUY_ATM_CALL_1W])
    env.step([HOLD])
    before = (env.portfolio.cash, env.portfolio.value, env.portfolio.trades)
    data = source.snapshot.symbols["SPY"]
    source.snapshot = replace(
        source.snapshot,
        symbols={"SPY": replace(data, quote=msgspec.structs.replace(data.quote, bid=math.nan, ask=math.nan))},
    )
    result = env.step([HOLD])  # the NaN quote arrives with this step
    assert result.info.stale_symbols == ("SPY",)
    mask = env.action_mask()
    assert not mask[0, list(BUY_ACTIONS)].any() and mask[0, CLOSE_ALL]  # the option's own quote is valid
    refused = env.step([BUY_ATM_CALL_1W])
    assert "SPY: no quote" in refused.info.rejections[0].reason
    assert (env.portfolio.cash, env.portfolio.value, env.portfolio.trades) == before
    assert np.isfinite(refused.observation).all()
    assert refused.observation[0, FEATURE_NAMES.index("data_fresh")] == 0.0
    assert env.data_problems() == {"SPY": "SPY: no quote"}
    closed = env.step([CLOSE_ALL])
    assert [f.kind for f in closed.info.fills] == ["sell"] and closed.info.fills[0].price_source == "bid"


def test_nan_option_quotes_make_only_those_contracts_untradable(static_market):
    source = static_market()
    data = source.snapshot.symbols["SPY"]
    bid = data.chain.bid.copy()
    bid[data.chain.is_call] = math.nan
    source.snapshot = replace(source.snapshot, symbols={"SPY": replace(data, chain=replace(data.chain, bid=bid))})
    env = PaperTradingEnvironment(source, EnvironmentConfig())
    result = env.step([BUY_ATM_CALL_1W])
    assert (
        "no valid quote" in result.info.rejections[0].reason and not result.info.fills and not env.portfolio.positions
    )
    assert env.action_mask()[0, ACTION_NAMES.index("buy_put_atm_1w")]


def test_an_empty_chain_masks_every_buy(static_market):
    source = static_market()
    data = source.snapshot.symbols["SPY"]
    chain = data.chain
    empty = replace(
        chain,
        contracts=(),
        index={},
        **{
            name: getattr(chain, name)[:0]
            for name in (
                "strike",
                "is_call",
                "expiration_ordinal",
                "bid",
                "ask",
                "implied_volatility",
                "delta",
                "gamma",
                "theta",
                "vega",
            )
        },
    )
    source.snapshot = replace(source.snapshot, symbols={"SPY": replace(data, chain=empty)})
    env = PaperTradingEnvironment(source, EnvironmentConfig())
    assert not env.action_mask()[0, 1:].any()
    assert np.isfinite(env.observation()).all()


def test_stale_quotes_are_not_traded_on(static_market):
    source = static_market()
    data = source.snapshot.symbols["SPY"]
    old = source.snapshot.timestamp_ms - 10 * 60_000
    source.snapshot = replace(
        source.snapshot, symbols={"SPY": replace(data, quote=msgspec.structs.replace(data.quote, timestamp_ms=old))}
    )
    env = PaperTradingEnvironment(source, EnvironmentConfig(data=DataRules(max_data_age_s=120)))
    assert not env.action_mask()[0, 1:].any()
    assert env.data_problems() == {"SPY": "SPY: stamped 600 s ago"}


def step_until(env, predicate, action=HOLD, limit=5000):
    for _ in range(limit):
        result = env.step([action])
        if predicate(result):
            return result
    raise AssertionError("condition never met")


def test_in_the_money_and_out_of_the_money_expiries_settle_at_intrinsic_value_less_the_shares_half_spread():
    env = sim_env(seed=4, expiry_cutoff_minutes=0, sim={"start_date": date(2026, 1, 8), "steps_per_day": 10})
    env.step([ACTION_NAMES.index("buy_call_atm_next")])
    env.step([ACTION_NAMES.index("buy_put_atm_next")])
    held = {p.contract.ticker: p.contract for p in env.portfolio.positions.values()}
    assert {c.expiration for c in held.values()} == {date(2026, 1, 9)}
    result = step_until(env, lambda r: any(f.kind == "expire" for f in r.info.fills))
    when = eastern(result.info.timestamp_ms)
    assert (when.date(), when.hour, when.minute) == (date(2026, 1, 9), 16, 0)
    quote = env.snapshot.symbols["SPY"].quote
    spot, half_spread = quote.mid, (quote.ask - quote.bid) / 2
    settled = {f.ticker: f for f in result.info.fills}
    assert settled.keys() == held.keys()
    for ticker, fill in settled.items():
        contract = held[ticker]
        intrinsic = (
            max(spot - contract.strike, 0) if contract.contract_type == "call" else max(contract.strike - spot, 0)
        )
        delivered = max(intrinsic - half_spread, 0.0) if intrinsic > 0 else 0.0  # shares sold at the bid
        assert fill.price == pytest.approx(delivered if delivered >= 0.01 else 0.0)
    assert sum(f.price > 0 for f in settled.values()) == 1  # one side finished in the money
    assert not env.portfolio.positions


def test_positions_expiring_today_are_sold_at_the_bid_at_the_cutoff():
    env = sim_env(seed=4, expiry_cutoff_minutes=45, sim={"start_date": date(2026, 1, 9), "steps_per_day": 390})
    env.step([ACTION_NAMES.index("buy_call_atm_next")])  # next expiry after Friday the 9th: Monday (SPY dailies)
    env.step([ACTION_NAMES.index("buy_put_atm_next")])  # one of the two has a positive bid at the cut-off
    result = step_until(env, lambda r: bool(r.info.fills))
    when = eastern(result.info.timestamp_ms)
    assert (when.date(), when.hour, when.minute) == (date(2026, 1, 12), 15, 15)
    chain = env.snapshot.symbols["SPY"].chain
    assert result.info.fills and all(f.kind == "sell" for f in result.info.fills)
    for fill in result.info.fills:
        assert fill.price == chain.bid[chain.index[fill.ticker]] > 0
    leftovers = set(env.portfolio.positions)  # options bid at zero cannot be sold: they settle at the close
    if leftovers:
        closing = step_until(env, lambda r: bool(r.info.fills))
        assert {f.ticker for f in closing.info.fills} == leftovers
        assert all(f.kind == "expire" for f in closing.info.fills)


def test_expiring_contracts_cannot_be_bought_on_their_expiry_day():
    env = sim_env(seed=1, sim={"start_date": date(2026, 1, 9)})
    for action in BUY_ACTIONS:
        env.step([action])
    assert all(p.contract.expiration > date(2026, 1, 9) for p in env.portfolio.positions.values())


def test_done_marks_the_close_of_each_session():
    env = sim_env(sim={"steps_per_day": 5})
    dones = [env.step([HOLD]).done for _ in range(15)]
    assert dones == [False, False, False, False, True] * 3


def test_observations_are_finite_float32_vectors_of_the_documented_layout():
    env = sim_env(symbols=("SPY", "QQQ"), seed=2)
    observation = env.reset()
    assert observation.shape == (2, OBSERVATION_SIZE) and observation.dtype == np.float32
    assert len(FEATURE_NAMES) == OBSERVATION_SIZE == len(set(FEATURE_NAMES))
    rng = np.random.default_rng(0)
    for _ in range(400):
        mask = env.action_mask()
        actions = [rng.choice(np.flatnonzero(row)) for row in mask]
        observation = env.step(actions).observation
        assert np.isfinite(observation).all() and np.abs(observation).max() <= 10
    row = dict(zip(FEATURE_NAMES, observation[0], strict=True))
    assert row["data_fresh"] == 1.0 and 0 < row["atm_iv_near"] < 2
    assert 0.3 < row["atm_call_delta"] < 0.7 and -0.7 < row["atm_put_delta"] < -0.3
    assert row["return_1"] != 0.0


def test_reward_is_the_scaled_change_in_portfolio_value_and_splits_by_underlying():
    env = sim_env(symbols=("SPY", "QQQ"), seed=3)
    rng = np.random.default_rng(1)
    value = env.portfolio.value
    for _ in range(200):
        actions = [rng.choice(np.flatnonzero(row)) for row in env.action_mask()]
        result = env.step(actions)
        assert result.reward == pytest.approx(100 * (result.info.portfolio_value - value) / 100_000, abs=1e-12)
        assert sum(result.info.symbol_rewards) == pytest.approx(result.reward, abs=1e-12)
        value = result.info.portfolio_value


def test_reset_restores_the_initial_capital():
    env = sim_env()
    env.step([BUY_ATM_CALL_1W])
    assert env.portfolio.positions
    env.reset()
    assert env.portfolio.cash == 100_000 and not env.portfolio.positions and env.steps == 0


@pytest.mark.parametrize(
    "bad",
    [
        {"initial_capital": 0},
        {"initial_capital": math.inf},
        {"expiry_cutoff_minutes": 400},
    ],
)
def test_unusable_trading_rules_are_refused(bad):
    with pytest.raises(ValueError, match=r"must|cannot"):
        EnvironmentConfig(**bad)


def test_a_saved_account_continues_and_one_holding_other_underlyings_is_refused(static_market):
    env = PaperTradingEnvironment(static_market(), EnvironmentConfig())
    env.step([BUY_ATM_CALL_1W])
    saved = env.portfolio.snapshot()
    other = PaperTradingEnvironment(static_market(), EnvironmentConfig())
    other.restore(Portfolio.from_snapshot(saved, FeeSchedule()))
    assert other.portfolio.snapshot()["positions"] == saved["positions"]
    qqq = dict(saved, positions=[dict(saved["positions"][0], ticker="O:QQQ260116C00100000")])
    with pytest.raises(ValueError, match="QQQ"):
        other.restore(Portfolio.from_snapshot(qqq, FeeSchedule()))


def test_an_underlying_without_trades_earns_no_reward_share():
    env = sim_env(symbols=("SPY", "QQQ"), seed=6)
    for _ in range(20):
        result = env.step([BUY_ATM_CALL_1W, HOLD])
        assert result.info.symbol_rewards[1] == 0.0
    assert env.step([HOLD, HOLD]).info.symbol_rewards[0] != 0.0  # SPY holds calls whose marks move
