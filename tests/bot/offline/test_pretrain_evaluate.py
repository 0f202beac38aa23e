"""Pre-training on several markets at once, seeding a bot with it, and evaluation against baselines."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
import torch

from tiny import TINY_ENV, TINY_FLAGS
from tradingbot.__main__ import main
from tradingbot.agent.checkpoint import newest_valid
from tradingbot.baselines import RandomPolicy
from tradingbot.build import build_trader
from tradingbot.config import load_settings
from tradingbot.env.actions import HOLD
from tradingbot.env.paper import EnvironmentConfig, PaperTradingEnvironment
from tradingbot.env.vector import VectorEnvironment
from tradingbot.market.sim.simulator import MarketSimulator, SimulatorConfig
from tradingbot.offline.evaluation import Episode, evaluate, paired_differences, run_episode
from tradingbot.offline.pretrain import PRETRAIN_SEED_BASE, market_seeds


def market(seed: int, symbols=("SPY",)) -> PaperTradingEnvironment:
    return PaperTradingEnvironment(MarketSimulator(SimulatorConfig(symbols, seed=seed)), EnvironmentConfig())


def test_a_vector_environment_steps_each_account_with_its_own_slice():
    vector = VectorEnvironment([market(1, ("SPY", "QQQ")), market(2, ("SPY", "QQQ"))])
    assert vector.observation().shape[0] == 4 and vector.action_mask().shape == (4, 31)
    buy = int(np.flatnonzero(vector.action_mask()[2])[1])  # the second market's SPY
    result = vector.step(np.array([HOLD, HOLD, buy, HOLD]))
    first, second = vector.environments
    assert not first.portfolio.positions and len(second.portfolio.positions) == 1
    assert result.info.symbol_rewards[2] != 0 and result.info.symbol_rewards[:2] == (0.0, 0.0)
    assert result.reward == pytest.approx(sum(result.info.symbol_rewards))
    with pytest.raises(ValueError, match="4 actions"):
        vector.step(np.array([HOLD, HOLD]))


def test_pretraining_writes_a_checkpoint_that_seeds_a_bot(tmp_path, capsys):
    out = tmp_path / "models"
    run = ["pretrain", "--envs", "3", "--steps", "45", "--out", str(out), "--symbols", "SPY", "--seed", "4"]
    code = main([*run, "--update-frequency", "20", *TINY_FLAGS])
    printed = capsys.readouterr().out
    assert code == 0 and "pretrain 45/45 (100%)" in printed and "steps/s" in printed and "policy" in printed
    found = newest_valid(out)
    assert found is not None and found[1].step == 3 * 45 and found[1].metrics["pretrain_markets"] == 3.0
    settings = load_settings(
        {"SYMBOLS": "SPY,QQQ", "JOURNAL": "memory", "CHECKPOINT_DIR": str(tmp_path / "ck"), "MODEL_DIR": str(out)}
        | TINY_ENV
    )
    trader = build_trader(settings)
    pretrained = found[1].agent["network"]
    assert all(torch.equal(v, pretrained[k]) for k, v in trader.learner.agent.network.state_dict().items())
    assert market_seeds(4, 3) == [PRETRAIN_SEED_BASE + 12, PRETRAIN_SEED_BASE + 13, PRETRAIN_SEED_BASE + 14]


def test_pretraining_refuses_a_live_source_and_empty_runs(tmp_path, capsys):
    assert main(["pretrain", "--steps", "0", "--out", str(tmp_path)]) == 2
    assert "at least 1" in capsys.readouterr().err
    assert main(["pretrain", "--steps", "5", "--out", str(tmp_path), "--source", "replay"]) == 2


def test_every_policy_sees_the_same_market_path():
    holding, trading = market(7), market(7)
    policy = RandomPolicy(0)
    for _ in range(200):
        holding.step([HOLD])
        trading.step(policy.act(trading.observation(), trading.action_mask()))
    assert trading.portfolio.trades > 0
    assert holding.snapshot.symbols["SPY"].quote == trading.snapshot.symbols["SPY"].quote
    assert np.array_equal(holding.snapshot.symbols["SPY"].chain.ask, trading.snapshot.symbols["SPY"].chain.ask)


def test_evaluation_prints_each_policy_with_standard_errors(capsys):
    code = main(["evaluate", "--days", "1", "--seeds", "2", "--symbols", "SPY", "--steps-per-day", "30", *TINY_FLAGS])
    printed = capsys.readouterr().out
    assert code == 0 and "2 seeds x 1 sessions; agent: a fresh network, learning frozen" in printed
    rows = {line.split()[0]: line for line in printed.splitlines()[2:] if line}
    assert set(rows) >= {"total_return", "sharpe", "sortino", "max_drawdown", "profit_factor", "fees_paid"}
    assert rows["fees_paid"].split()[4:7] == ["0.000", "±", "0.000"]  # hold pays nothing
    assert "agent - hold: total return" in printed and "(t " in printed and "2 seeds" in printed
    assert "agent - random: total return" in printed and "2 sessions)" in printed


def test_the_agent_is_compared_with_a_baseline_seed_by_seed_and_session_by_session():
    agent = [Episode("agent", 0, [100.0, 102.0, 103.02]), Episode("agent", 1, [100.0, 99.0, 99.0])]
    hold = [Episode("hold", 0, [100.0, 100.0, 100.0]), Episode("hold", 1, [100.0, 100.0, 100.0])]
    differences = paired_differences(agent, hold)
    total = differences["total_return"]  # +3.02 % and -1 %: mean 1.01 %, s.d. 2.8426 %, error 2.01 %
    assert total.samples == 2 and total.mean == pytest.approx(0.0101)
    assert total.error == pytest.approx(0.0201) and total.t == pytest.approx(0.0101 / 0.0201)
    daily = differences["daily_return"]  # +2 %, +1 %, -1 %, 0 %
    assert daily.samples == 4 and daily.mean == pytest.approx(0.005)
    assert daily.error == pytest.approx(np.std([0.02, 0.01, -0.01, 0.0], ddof=1) / 2)
    assert math.isnan(paired_differences(hold, hold)["total_return"].t)  # identical accounts: no t
    with pytest.raises(ValueError, match="same seeds"):
        paired_differences(agent, hold[::-1])


def test_an_online_episode_learns_and_stays_within_the_budget():
    settings = load_settings({"SYMBOLS": "SPY", "STEPS_PER_DAY": "30", "UPDATE_FREQUENCY": "20", **TINY_ENV})
    episode = run_episode(settings, "agent", 3, 2, None, online=True)
    assert len(episode.equity) == 3 and len(episode.updates) == 3
    assert episode.min_equity >= 0.8 * 100_000


def test_evaluation_in_worker_processes_gives_the_same_episodes():
    settings = load_settings({"SYMBOLS": "SPY", "STEPS_PER_DAY": "30", "HOLD_PRIOR": "0", **TINY_ENV})
    serial = evaluate(settings, [0, 1], 2, None, online=False)
    environment = dict(os.environ)
    parallel = evaluate(settings, [0, 1], 2, None, online=False, workers=2)
    assert dict(os.environ) == environment  # the workers' thread settings do not leak into ours
    assert any(e.fills for e in serial.episodes["agent"])  # the agent traded
    for policy, episodes in serial.episodes.items():
        again = parallel.episodes[policy]
        assert [e.seed for e in again] == [0, 1]
        assert [e.equity for e in again] == [e.equity for e in episodes], policy
        assert [e.fills for e in again] == [e.fills for e in episodes], policy
    assert parallel.summary == serial.summary


def test_evaluation_refuses_a_missing_checkpoint(tmp_path, capsys):
    assert main(["evaluate", "--checkpoint", str(tmp_path / "none.pt"), "--days", "1"]) == 2
    assert "not a checkpoint" in capsys.readouterr().err
    assert main(["evaluate", "--days", "1", "--workers", "0"]) == 2
    assert "--workers must be at least 1" in capsys.readouterr().err
