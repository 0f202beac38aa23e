"""``tradingbot pretrain``: train the agent on N independent simulated markets at once, then write a
checkpoint whose weights seed a bot (its ``MODEL_DIR``).

Every market has its own seed (``PRETRAIN_SEED_BASE + seed * envs + i``, far from the seeds that
``tradingbot evaluate`` holds out), its own paper account and risk budget (the bot's own settings), and
all share one agent: each step is one batched forward over every stream of every market
(:class:`VectorEnvironment`), and PPO trains on the fresh rollout of all of them every
``UPDATE_FREQUENCY`` steps, exactly as the online bot does.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from tradingbot.agent.checkpoint import Checkpoint
from tradingbot.agent.checkpoint_store import CheckpointStore
from tradingbot.agent.device import choose_device
from tradingbot.agent.update_metrics import TrainMetrics
from tradingbot.build import experience_buffer, new_agent, simulated_environment
from tradingbot.config import Settings
from tradingbot.env.vector import VectorEnvironment
from tradingbot.trader import learn_from_step

PRETRAIN_SEED_BASE = 1_000_000
"""Pre-training markets use seeds from here on; evaluation's default seeds (0, 1, …) are never trained on."""


@dataclass(frozen=True, slots=True)
class Progress:
    """Where a pre-training run stands."""

    step: int
    """Vector steps done (each is one step of every market)."""
    steps_per_second: float
    """Market steps per wall second (vector steps times markets)."""
    mean_reward: float
    """Mean reward per market step since the last report (percent of capital)."""
    trades_per_day: float
    """Buys and sells per market per session since the last report (as the reward: what the policy does now)."""
    last_update: TrainMetrics | None


def market_seeds(seed: int, envs: int) -> list[int]:
    """The simulator seed of each pre-training market."""
    return [PRETRAIN_SEED_BASE + seed * envs + i for i in range(envs)]


def build_vector(settings: Settings, seeds: list[int]) -> VectorEnvironment:
    """One paper account with the bot's rules on each seeded simulated market of the settings' preset."""
    return VectorEnvironment([simulated_environment(settings, seed) for seed in seeds])


def pretrain(
    settings: Settings,
    envs: int,
    steps: int,
    out: Path,
    report: Callable[[Progress], None],
    report_every_s: float = 10.0,
) -> Path:
    """Train for ``steps`` vector steps on ``envs`` markets; write the checkpoint to ``out`` and return its path."""
    if envs < 1 or steps < 1:
        raise ValueError("pre-training needs at least one market and one step")
    vector = build_vector(settings, market_seeds(settings.seed, envs))
    agent = new_agent(settings, len(vector.symbols), choose_device(settings.device, settings.gpu_count).device)
    buffer = experience_buffer(settings, len(vector.symbols))
    observation = vector.observation()
    started = last_report = time.perf_counter()
    rewards: list[float] = []
    last_update: TrainMetrics | None = None
    reported_step = reported_trades = 0
    for step in range(1, steps + 1):
        _, result, metrics = learn_from_step(
            agent, buffer, observation, vector.action_mask(), vector.step, settings.update_frequency
        )
        observation = result.observation
        rewards.append(result.reward / envs)
        last_update = metrics or last_update
        now = time.perf_counter()
        if now - last_report >= report_every_s or step == steps:
            trades = sum(env.portfolio.trades for env in vector.environments)
            report(
                Progress(
                    step=step,
                    steps_per_second=step * envs / (now - started),
                    mean_reward=float(np.mean(rewards)),
                    trades_per_day=(trades - reported_trades) / envs * settings.steps_per_day / (step - reported_step),
                    last_update=last_update,
                )
            )
            rewards.clear()
            last_report, reported_step, reported_trades = now, step, trades
    checkpoint = Checkpoint(
        step=steps * envs,
        network=agent.config.as_dict(),
        agent=agent.state_dict(),
        metrics={
            "pretrain_markets": float(envs),
            "pretrain_steps": float(steps),
            **({k: float(v) for k, v in asdict(last_update).items()} if last_update is not None else {}),
        },
    )
    return CheckpointStore(out, keep=settings.checkpoint_keep).save(checkpoint)
