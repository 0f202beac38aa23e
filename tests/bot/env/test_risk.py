"""The risk budget: buys sized from equity, budgets, the capital floor, the daily loss limit and the
drawdown protection that lifts after its cooldown; no action the rules forbid can be chosen."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tiny import TINY_SIZES
from tradingbot.agent.agent import OptionsCLSTMPPOAgent
from tradingbot.agent.network import NetworkConfig
from tradingbot.agent.ppo import PPOConfig
from tradingbot.env.actions import ACTION_NAMES, BUY_ACTIONS, CLOSE_ACTIONS, HOLD, NUM_ACTIONS
from tradingbot.env.observation import OBSERVATION_SIZE
from tradingbot.env.paper import EnvironmentConfig, PaperTradingEnvironment
from tradingbot.env.risk import (
    DAILY_LOSS,
    DRAWDOWN,
    TOTAL,
    TRADE,
    UNDERLYING,
    RiskLimits,
    RiskManager,
    RiskState,
)
from tradingbot.market.sim.simulator import PRESETS, MarketSimulator, SimulatorConfig

BUY = ACTION_NAMES.index("buy_call_atm_1w")
BUY_OTHER = ACTION_NAMES.index("buy_put_atm_1w")
PER_CONTRACT = 1.20 * 100 + 0.65 + 0.05
"""What one contract of the static market costs at the ask, with commission and fees (USD)."""


def test_a_buy_takes_as_many_contracts_as_the_tightest_budget_allows(static_market):
    env = PaperTradingEnvironment(static_market(), EnvironmentConfig(risk=RiskLimits(trade=0.005)))
    fill = env.step([BUY]).info.fills[0]
    assert fill.quantity == int(0.005 * 100_000 // PER_CONTRACT) == 4
    assert env.last_sizing is not None and env.last_sizing[1].binding == TRADE

    roomy = PaperTradingEnvironment(static_market(), EnvironmentConfig(risk=RiskLimits(contracts_per_trade=3)))
    assert roomy.step([BUY]).info.fills[0].quantity == 3
    assert roomy.last_sizing is not None and roomy.last_sizing[1].binding is None  # at its cap, nothing bound it


def test_a_spent_budget_masks_every_buy_but_no_exit(static_market):
    limits = RiskLimits(trade=0.01, position=0.01, underlying=0.01, total=0.01)
    env = PaperTradingEnvironment(static_market(), EnvironmentConfig(risk=limits))
    assert env.step([BUY]).info.fills[0].quantity == 8  # $1,000 buys 8 contracts at $120.70
    mask = env.action_mask()
    assert not mask[0, list(BUY_ACTIONS)].any() and mask[0, list(CLOSE_ACTIONS)].any()
    refused = env.step([BUY_OTHER])
    assert refused.info.fills == ()
    assert refused.info.rejections[0].reason.startswith((UNDERLYING, TOTAL))
    assert env.step([ACTION_NAMES.index("close_all")]).info.fills  # selling frees the budget
    assert env.action_mask()[0, BUY]


def test_no_buy_takes_cash_below_the_capital_floor(static_market):
    env = PaperTradingEnvironment(static_market(), EnvironmentConfig(risk=RiskLimits(capital_floor=0.9995)))
    assert not env.action_mask()[0, list(BUY_ACTIONS)].any()
    reason = env.step([BUY]).info.rejections[0].reason
    assert reason.startswith("insufficient cash above the capital floor ($99,950.00)")
    manager = RiskManager(RiskLimits(capital_floor=0.5), 10_000.0)
    assert manager.floor == 5_000.0


def test_the_daily_loss_limit_stops_entries_until_the_next_session():
    risk = RiskManager(RiskLimits(daily_loss=0.02, max_drawdown=1.0), 100_000.0)
    risk.observe(1, 100_000.0)
    risk.observe(1, 99_000.0)
    assert risk.halt() is None
    risk.observe(2, 98_500.0)  # the overnight move counts: the reference is the last session's close
    risk.observe(2, 97_000.0)  # 2.02 % below yesterday's close of 99,000
    halt = risk.halt()
    assert halt is not None and halt[0] == DAILY_LOSS and "until the next session" in halt[1]
    risk.observe(2, 99_500.0)
    assert risk.halt() is not None  # latched for the session, even after a recovery
    risk.observe(3, 99_500.0)
    assert risk.halt() is None


def test_the_drawdown_protection_lifts_after_its_cooldown_and_can_trip_again():
    limits = RiskLimits(daily_loss=1.0, max_drawdown=0.10, lookback_sessions=5, cooldown_sessions=2)
    risk = RiskManager(limits, 100_000.0)
    risk.observe(1, 100_000.0)
    risk.observe(1, 110_000.0)
    risk.observe(2, 99_500.0)  # 9.5 % below the lookback's high of 110,000
    assert risk.halt() is None
    risk.observe(2, 98_900.0)  # 10.09 %
    halt = risk.halt()
    assert halt is not None and halt[0] == DRAWDOWN and "until session 5" in halt[1]
    for day in (3, 4):  # two whole sessions without entries, however the account does
        risk.observe(day, 120_000.0)
        assert risk.halt() is not None
    risk.observe(5, 95_000.0)  # lifts at the open of session 5: the high-water mark restarts here
    assert risk.halt() is None and risk.peak == 95_000.0 and risk.drawdown == 0.0
    risk.observe(5, 85_000.0)  # and trips again on a new 10 % fall from there
    assert risk.halt() is not None and risk.state.halted_until == 8


def test_the_drawdown_high_water_mark_is_the_lookback_s():
    risk = RiskManager(RiskLimits(daily_loss=1.0, max_drawdown=0.2, lookback_sessions=2), 100_000.0)
    risk.observe(1, 150_000.0)
    risk.observe(2, 130_000.0)
    risk.observe(3, 125_000.0)  # session 1's high has left the two-session lookback
    assert risk.peak == 130_000.0 and risk.halt() is None


def test_the_risk_state_survives_a_round_trip_through_json():
    risk = RiskManager(RiskLimits(), 100_000.0)
    risk.observe(10, 100_000.0)
    risk.observe(11, 89_000.0)
    restored = RiskState.from_dict(json.loads(json.dumps(risk.state.as_dict())))
    assert restored == risk.state and RiskManager(RiskLimits(), 100_000.0, restored).halt() == risk.halt()


@pytest.mark.parametrize(
    "bad",
    [
        {"trade": 0.0},
        {"total": 1.5},
        {"daily_loss": float("nan")},
        {"capital_floor": 1.0},
        {"cooldown_sessions": 0},
        {"contracts_per_trade": 0},
        {"max_open_positions": 0},
    ],
)
def test_bad_limits_are_refused(bad):
    with pytest.raises(ValueError, match="must"):
        RiskLimits(**bad)


@pytest.mark.slow
def test_an_untrained_agent_never_breaches_the_budget_on_the_calibrated_market():
    """Three days of a fresh PPO agent (uniform start) on SPY and QQQ with the default budget: every
    sampled action allowed by the mask, every buy within each budget when it was made, cash never below
    the floor."""
    limits = RiskLimits()
    market = MarketSimulator(SimulatorConfig(symbols=("SPY", "QQQ"), seed=3, **PRESETS["realistic"]))
    env = PaperTradingEnvironment(market, EnvironmentConfig(risk=limits))
    shape = NetworkConfig(OBSERVATION_SIZE, NUM_ACTIONS, **TINY_SIZES)
    agent = OptionsCLSTMPPOAgent(shape, PPOConfig(), 2, seed=3, hold_prior=0.0)
    buys = 0
    for step in range(3 * 390):
        exposure = env.exposure()
        mask = env.action_mask()
        actions = agent.act(env.observation(), mask).actions
        assert mask[np.arange(2), actions].all()
        actions[step % 2] = HOLD  # one underlying acts per step, so ``exposure`` is the one its buy was sized on
        result = env.step(actions)
        assert result.info.rejections == ()
        for fill in result.info.fills:
            if fill.kind != "buy":
                continue
            buys += 1
            cost = -fill.cash_delta
            assert cost <= limits.trade * exposure.equity + 1e-6
            assert cost + exposure.by_underlying[fill.underlying] <= limits.underlying * exposure.equity + 1e-6
            assert cost + exposure.total <= limits.total * exposure.equity + 1e-6
        assert env.portfolio.cash >= limits.capital_floor * 100_000.0
        assert env.portfolio.value >= env.portfolio.cash
    assert buys > 50  # the agent did try: the budget, not idleness, kept it within bounds


def test_a_restored_account_without_booked_protections_is_measured_from_where_it_stands(static_market):
    env = PaperTradingEnvironment(static_market(), EnvironmentConfig())
    poorer = env.portfolio.copy()
    poorer.cash = 85_000.0  # 15 % below the opening: a drawdown and a daily loss, if measured from it
    env.restore(poorer)
    assert env.risk.halt() is None and env.risk.state.reference_equity == 85_000.0
