"""The trader: act, paper-trade, book; with a learner inside, also record, train on each fresh rollout
and checkpoint.

Every step the policy or the agent acts on every underlying and the step is booked in the trade
journal (made durable before anything reports it). A learner records the transition; once
``update_frequency`` steps have been collected since the last update, PPO trains on exactly those
steps (the fresh, contiguous, on-policy rollout) and the rollout is closed. Every ``save_frequency``
steps, and when the loop stops, a checkpoint is written.
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


class Learner:
    """The learning inside a trader: the CLSTM-PPO agent, its buffer, and when it trains and saves.

    PPO trains on exactly the ``update_frequency`` steps collected since the last update (the fresh,
    contiguous, on-policy rollout); every ``save_frequency`` steps a checkpoint goes to ``store``.
    """

    def __init__(
        self,
        agent: OptionsCLSTMPPOAgent,
        buffer: ExperienceBuffer,
        *,
        update_frequency: int,
        save_frequency: int,
        store: CheckpointStore | None,
        device: DeviceChoice | None = None,
    ) -> None:
        """``device``: where the agent runs and whether that is what the pod asked for (for ``/status``)."""
        if update_frequency > buffer.capacity:
            raise ValueError(f"update frequency {update_frequency} exceeds the buffer's {buffer.capacity} steps")
        self.agent = agent
        self.buffer = buffer
        self.update_frequency = update_frequency
        self.save_frequency = save_frequency
        self.store = store
        self.device = device if device is not None else DeviceChoice(agent.device.type, 0, agent.device)
        self.last_metrics: TrainMetrics | None = None
        self.save_failures = 0
        self.last_save_error: str | None = None

    def metrics_dict(self, step: int) -> dict[str, float]:
        """Training figures at ``step``, as plain floats."""
        figures: dict[str, float] = {"updates": float(self.agent.updates), "steps": float(step)}
        if self.last_metrics is not None:
            figures.update({k: float(v) for k, v in asdict(self.last_metrics).items()})
        recent = self.buffer.recent_rewards(1000)
        if recent.size:
            figures["mean_step_reward_recent"] = float(recent.sum(axis=1).mean())
        return figures


class Trader:
    """Trades one paper account step by step: with a baseline policy, or with a :class:`Learner` that
    acts from its agent and learns online. Every step is booked (when there are books) before anything
    reports it; a learner's checkpoints are written when due and at the end."""

    def __init__(
        self,
        env: PaperTradingEnvironment,
        decider: Policy | Learner,
        books: Bookkeeper | None = None,
        step: int = 0,
        market_state: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        """``decider``: a baseline policy, or a learner; ``step``: where the account stands (its journal's
        last step); ``market_state``: the simulated market's state, saved with checkpoints."""
        self.env = env
        self.books = books
        self.step = step
        self.learner: Learner | None
        self._policy: Policy | None
        if isinstance(decider, Learner):
            self.learner, self._policy, self.name, self.kind = decider, None, "ppo", "agent"
        else:
            self.learner, self._policy, self.name, self.kind = None, decider, decider.name, "baseline"
        self._market_state = market_state
        self._saved_step = step
        self._observation = env.observation()

    def tick(self) -> TickReport:
        """Act, step and book; a learner also records, trains when a rollout is complete and checkpoints
        when due."""
        learner, booked = self.learner, self._booked_step
        if learner is None:
            assert self._policy is not None  # one of the two, set at construction
            actions = self._policy.act(self._observation, self.env.action_mask())
            result = booked(actions)
            metrics = None
        else:
            decision, result, metrics = learn_from_step(
                learner.agent,
                learner.buffer,
                self._observation,
                self.env.action_mask(),
                booked,
                learner.update_frequency,
            )
            actions = decision.actions
            if metrics is not None:
                learner.last_metrics = metrics
        self._observation = result.observation
        self.step += 1
        due = learner is not None and self.step % learner.save_frequency == 0
        return TickReport([int(a) for a in actions], result, metrics, self.save() if due else None)

    def _booked_step(self, actions: npt.NDArray[np.int64]) -> StepResult:
        """The environment's step, written into the journal's open transaction (a flush makes it durable)."""
        result = self.env.step(actions)
        if self.books is not None:
            self.books.book(self.step + 1, result)
        return result

    def save(self) -> Path | None:
        """Write a learner's checkpoint of the current step; ``None`` without a learner or a store, or when
        the write failed (reported and counted: a full or broken volume must not stop trading)."""
        learner = self.learner
        if learner is None or learner.store is None:
            return None
        if self.books is not None:
            self.books.flush(force=True)  # the journal's last step is never older than a checkpoint
        checkpoint = Checkpoint(
            step=self.step,
            network=learner.agent.config.as_dict(),
            agent=learner.agent.state_dict(),
            metrics=learner.metrics_dict(self.step),
            portfolio=self.env.portfolio.snapshot(),
            market=self._market_state() if self._market_state else None,
        )
        try:
            path = learner.store.save(checkpoint)
        except CheckpointWriteError as error:
            learner.save_failures += 1
            learner.last_save_error = str(error)
            log.error("checkpoint at step %d failed (%s); trading goes on, the next save retries", self.step, error)
            return None
        learner.last_save_error = None
        self._saved_step = self.step
        return path

    def flush(self) -> bool:
        """Commit the booked steps (before they are reported); whether they are durable."""
        return self.books.flush() if self.books is not None else True

    def finish(self) -> Path | None:
        """The books committed and a learner's final checkpoint at shutdown (unless this step was just saved)."""
        self.flush()
        return self.save() if self.step != self._saved_step else None

    def close(self, mirror_drain_s: float) -> None:
        """Release what the trader holds once it is done: a last S3 pass of at most ``mirror_drain_s``
        seconds (the mirror logs a WARNING for what it leaves unmirrored), the feed's thread and recording,
        and the journal (every step is committed already; closing folds SQLite's WAL in)."""
        store = self.learner.store if self.learner is not None else None
        if store is not None and store.mirror is not None:
            store.mirror.close(mirror_drain_s)
        self.env.source.close()
        if self.books is not None:
            self.books.journal.close()
