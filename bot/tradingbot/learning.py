"""The online learning loop: act, paper-trade, record, train on each fresh rollout, checkpoint.

Every step the agent acts on every underlying and the transition is recorded. Once
``update_frequency`` steps have been collected since the last update, PPO trains on exactly those
steps (the fresh, contiguous, on-policy rollout) and the rollout is closed. Every
``save_frequency`` steps, and when the loop stops, a checkpoint is written.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tradingbot.agent.agent import OptionsCLSTMPPOAgent
from tradingbot.agent.buffer import ExperienceBuffer
from tradingbot.agent.checkpoint import Checkpoint, CheckpointStore
from tradingbot.agent.device import DeviceChoice
from tradingbot.agent.ppo import TrainMetrics
from tradingbot.env.paper import PaperTradingEnvironment, StepResult
from tradingbot.policies import Policy

log = logging.getLogger("tradingbot.learning")


@dataclass(frozen=True, slots=True)
class TickReport:
    """One step of the loop: the environment's result, and the update or checkpoint it triggered."""

    actions: list[int]
    result: StepResult
    metrics: TrainMetrics | None = None
    checkpoint: Path | None = None


class BaselineTrader:
    """Trades with a fixed baseline policy; learns nothing, saves nothing."""

    def __init__(self, env: PaperTradingEnvironment, policy: Policy) -> None:
        self.env = env
        self.name = policy.name
        self.kind = "baseline"
        self.step = 0
        self._policy = policy
        self._observation = env.observation()

    def tick(self) -> TickReport:
        """One step."""
        actions = self._policy.act(self._observation, self.env.action_mask())
        result = self.env.step(actions)
        self._observation = result.observation
        self.step += 1
        return TickReport([int(a) for a in actions], result)

    def finish(self) -> Path | None:
        """Nothing to save."""
        return None


class LearningTrader:
    """Trades with the CLSTM-PPO agent and learns online."""

    def __init__(
        self,
        env: PaperTradingEnvironment,
        agent: OptionsCLSTMPPOAgent,
        buffer: ExperienceBuffer,
        *,
        update_frequency: int,
        save_frequency: int,
        store: CheckpointStore | None,
        market_state: Callable[[], dict[str, Any]] | None = None,
        step: int = 0,
        device: DeviceChoice | None = None,
    ) -> None:
        """``device``: where the agent runs and whether that is what the pod asked for (for ``/status``)."""
        if update_frequency > buffer.capacity:
            raise ValueError(f"update frequency {update_frequency} exceeds the buffer's {buffer.capacity} steps")
        self.env = env
        self.agent = agent
        self.buffer = buffer
        self.name = "ppo"
        self.kind = "agent"
        self.step = step
        self.last_metrics: TrainMetrics | None = None
        self.save_failures = 0
        self._update_frequency = update_frequency
        self._save_frequency = save_frequency
        self.store = store
        self._market_state = market_state
        self.device = device if device is not None else DeviceChoice(agent.device.type, 0, agent.device)
        self._saved_step = step
        self._observation = env.observation()

    def tick(self) -> TickReport:
        """Act, step, record; train when a rollout is complete; checkpoint when due."""
        observation = self._observation
        mask = self.env.action_mask()
        decision = self.agent.act(observation, mask)
        result = self.env.step(decision.actions)
        done = np.full(self.agent.streams, result.done)
        self.buffer.add(
            observation,
            decision.actions,
            mask,
            np.asarray(result.info.symbol_rewards, np.float32),
            result.observation,
            done,
            decision.log_probs,
            decision.values,
            decision.starts,
            decision.state,
        )
        self.agent.end_episodes(done)
        self._observation = result.observation
        self.step += 1
        metrics = None
        if self.buffer.fresh_steps >= self._update_frequency:
            metrics = self.agent.train(self.buffer.rollout(), self.agent.bootstrap_value(result.observation))
            self.buffer.consume()
            self.last_metrics = metrics
        path = self.save() if self.step % self._save_frequency == 0 else None
        return TickReport([int(a) for a in decision.actions], result, metrics, path)

    def save(self) -> Path | None:
        """Write a checkpoint of the current step; ``None`` without a store or when the write failed
        (reported and counted: a full or broken volume must not stop trading)."""
        if self.store is None:
            return None
        checkpoint = Checkpoint(
            step=self.step,
            network=self.agent.config.as_dict(),
            agent=self.agent.state_dict(),
            metrics=self.metrics_dict(),
            portfolio=self.env.portfolio.snapshot(),
            market=self._market_state() if self._market_state else None,
        )
        try:
            path = self.store.save(checkpoint)
        except OSError as error:
            self.save_failures += 1
            log.error("checkpoint at step %d failed (%s); trading goes on, the next save retries", self.step, error)
            return None
        self._saved_step = self.step
        return path

    def finish(self) -> Path | None:
        """The final checkpoint at shutdown (unless this step was just saved)."""
        return self.save() if self.step != self._saved_step else None

    def metrics_dict(self) -> dict[str, float]:
        """Training and trading figures, as plain floats."""
        figures: dict[str, float] = {"updates": float(self.agent.updates), "steps": float(self.step)}
        if self.last_metrics is not None:
            figures.update({k: float(v) for k, v in asdict(self.last_metrics).items()})
        recent = self.buffer.recent_rewards(1000)
        if recent.size:
            figures["mean_step_reward_recent"] = float(recent.sum(axis=1).mean())
        return figures
