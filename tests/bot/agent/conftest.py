"""Small agents on small markets."""

from __future__ import annotations

import pytest
import torch

from tiny import TINY_SIZES
from tradingbot.agent.agent import OptionsCLSTMPPOAgent
from tradingbot.agent.buffer import ExperienceBuffer
from tradingbot.agent.network import NetworkConfig
from tradingbot.agent.ppo import PPOConfig
from tradingbot.env.observation import OBSERVATION_SIZE
from tradingbot.env.paper import EnvironmentConfig, PaperTradingEnvironment
from tradingbot.market.sim.simulator import MarketSimulator, SimulatorConfig
from tradingbot.trader import Learner, Trader

SMALL = NetworkConfig(OBSERVATION_SIZE, **TINY_SIZES)


def _small_trader(
    symbols=("SPY", "QQQ"),
    seed=0,
    steps_per_day=13,
    update_frequency=20,
    store=None,
    save_frequency=10**9,
    config=SMALL,
    ppo=None,
):
    source = MarketSimulator(SimulatorConfig(symbols, seed=seed, steps_per_day=steps_per_day))
    env = PaperTradingEnvironment(source, EnvironmentConfig(steps_per_day=steps_per_day))
    agent = OptionsCLSTMPPOAgent(config, ppo or PPOConfig(), len(symbols), seed=seed)
    buffer = ExperienceBuffer(len(symbols), OBSERVATION_SIZE, 31, config.window, capacity=500)
    return Trader(
        env,
        Learner(agent, buffer, update_frequency=update_frequency, save_frequency=save_frequency, store=store),
        market_state=source.state_dict,
    )


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def small_trader():
    """Factory of a learning trader with a tiny network on a 13-steps-a-day market."""
    return _small_trader


@pytest.fixture
def small():
    """A tiny network configuration."""
    return SMALL
