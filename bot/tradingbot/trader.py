"""The online learning loop: act, paper-trade, book, record, train on each fresh rollout, checkpoint.

Every step the agent acts on every underlying, the step is booked in the trade journal (before
anything reports it) and the transition is recorded. Once
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
import numpy.typing as npt

from tradingbot.agent.agent import ActOutput, OptionsCLSTMPPOAgent
from tradingbot.agent.buffer import ExperienceBuffer
from tradingbot.agent.checkpoint import Checkpoint, CheckpointWriteError
from tradingbot.agent.checkpoint_store import CheckpointStore
from tradingbot.agent.device import DeviceChoice
from tradingbot.agent.update_metrics import TrainMetrics
from tradingbot.baselines import Policy
from tradingbot.books.bookkeeper import Bookkeeper
from tradingbot.env.paper import Observation, PaperTradingEnvironment, StepResult
from tradingbot.market.types import BoolArray

log = logging.getLogger("tradingbot.trader")


@dataclass(frozen=True, slots=True)
class TickReport:
    """One step of the loop: the environment's result, and the update or checkpoint it triggered."""

    actions: list[int]
    result: StepResult
    metrics: TrainMetrics | None = None
    checkpoint: Path | None = None


def book(books: Bookkeeper | None, step: int, result: StepResult) -> StepResult:
    """``result``, written into the journal's open transaction (a flush makes it durable)."""
    if books is not None:
        books.book(step, result)
    return result


def flush(books: Bookkeeper | None) -> bool:
    """Make every booked step durable before anything reports it; whether it is."""
    return books.flush() if books is not None else True


class BaselineTrader:
    """Trades with a fixed baseline policy; learns nothing, saves nothing."""

    def __init__(
        self, env: PaperTradingEnvironment, policy: Policy, books: Bookkeeper | None = None, step: int = 0
    ) -> None:
        self.env = env
        self.books = books
        self.name = policy.name
        self.kind = "baseline"
        self.step = step
        self._policy = policy
        self._observation = env.observation()

    def tick(self) -> TickReport:
        """One step, booked."""
        actions = self._policy.act(self._observation, self.env.action_mask())
        result = book(self.books, self.step + 1, self.env.step(actions))
        self._observation = result.observation
        self.step += 1
        return TickReport([int(a) for a in actions], result)

    def flush(self) -> bool:
        """Commit the booked steps (before they are reported); whether they are durable."""
        return flush(self.books)

    def finish(self) -> Path | None:
        """Nothing to save but the books."""
        self.flush()
        return None


def learn_from_step(
    agent: OptionsCLSTMPPOAgent,
    buffer: ExperienceBuffer,
    observation: Observation,
    mask: BoolArray,
    step: Callable[[npt.NDArray[np.int64]], StepResult],
    update_frequency: int,
) -> tuple[ActOutput, StepResult, TrainMetrics | None]:
    """One on-policy step: act on ``observation``, take the step, record the transition, and train on the
    fresh rollout once it holds ``update_frequency`` steps (then it is consumed)."""
    decision = agent.act(observation, mask)
    result = step(decision.actions)
    done = np.full(agent.streams, result.done)
    buffer.add(
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
    agent.end_episodes(done)
    metrics = None
    if buffer.fresh_steps >= update_frequency:
        metrics = agent.train(buffer.rollout(), agent.bootstrap_value(result.observation))
        buffer.consume()
    return decision, result, metrics


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
        books: Bookkeeper | None = None,
    ) -> None:
        """``device``: where the agent runs and whether that is what the pod asked for (for ``/status``)."""
        if update_frequency > buffer.capacity:
            raise ValueError(f"update frequency {update_frequency} exceeds the buffer's {buffer.capacity} steps")
        self.env = env
        self.books = books
        self.agent = agent
        self.buffer = buffer
        self.name = "ppo"
        self.kind = "agent"
        self.step = step
        self.last_metrics: TrainMetrics | None = None
        self.save_failures = 0
        self.last_save_error: str | None = None
        self._update_frequency = update_frequency
        self._save_frequency = save_frequency
        self.store = store
        self._market_state = market_state
        self.device = device if device is not None else DeviceChoice(agent.device.type, 0, agent.device)
        self._saved_step = step
        self._observation = env.observation()

    def tick(self) -> TickReport:
        """Act, step, record; train when a rollout is complete; checkpoint when due."""
        decision, result, metrics = learn_from_step(
            self.agent,
            self.buffer,
            self._observation,
            self.env.action_mask(),
            lambda actions: book(self.books, self.step + 1, self.env.step(actions)),
            self._update_frequency,
        )
        self._observation = result.observation
        self.step += 1
        if metrics is not None:
            self.last_metrics = metrics
        path = self.save() if self.step % self._save_frequency == 0 else None
        return TickReport([int(a) for a in decision.actions], result, metrics, path)

    def save(self) -> Path | None:
        """Write a checkpoint of the current step; ``None`` without a store or when the write failed
        (reported and counted: a full or broken volume must not stop trading)."""
        if self.store is None:
            return None
        if self.books is not None:
            self.books.flush(force=True)  # the journal's last step is never older than a checkpoint
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
        except CheckpointWriteError as error:
            self.save_failures += 1
            self.last_save_error = str(error)
            log.error("checkpoint at step %d failed (%s); trading goes on, the next save retries", self.step, error)
            return None
        self.last_save_error = None
        self._saved_step = self.step
        return path

    def flush(self) -> bool:
        """Commit the booked steps (before they are reported); whether they are durable."""
        return flush(self.books)

    def finish(self) -> Path | None:
        """The books committed and the final checkpoint at shutdown (unless this step was just saved)."""
        self.flush()
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


Trader = BaselineTrader | LearningTrader
