"""``ExperienceBuffer``: a ring buffer of every transition, and the fresh rollout PPO may learn from.

Each row holds one step for every stream (underlying): the observation, the action and the mask it
was chosen under, the reward, the next observation, whether the episode ended with this step,
the log-probability and value recorded when acting, and whether the recurrent state was reset
before the step. The recurrent state itself is stored only where a training sequence starts:
every ``window`` steps from the start of the current rollout.

PPO learns only from the rollout collected since the last update (``rollout()``), contiguous and in
time order, whose log-probabilities all come from the policy being updated; ``consume()`` then
closes it. Older rows stay for inspection until overwritten, never for training.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt
import torch
from torch import Tensor

from tradingbot.agent.network import RecurrentState

DEFAULT_CAPACITY = 10_000


class Rollout(NamedTuple):
    """A contiguous rollout, time-major: every tensor is (T, B, ...) with B streams."""

    observations: Tensor  # (T, B, D) float32
    actions: Tensor  # (T, B) int64
    masks: Tensor  # (T, B, A) bool
    rewards: Tensor  # (T, B) float32
    dones: Tensor  # (T, B) float32, 1 where the episode ended with this step
    starts: Tensor  # (T, B) bool, the recurrent state was reset before this step
    log_probs: Tensor  # (T, B) float32, recorded when acting
    values: Tensor  # (T, B) float32, recorded when acting
    sequence_states: list[RecurrentState]  # the state before each sequence's first step; each (1, B, H)
    sequence_starts: list[int]  # each sequence's first step: 0, then every window steps and at every reset


class ExperienceBuffer:
    """A fixed-capacity ring buffer of transitions for ``streams`` parallel streams."""

    def __init__(
        self, streams: int, observation_size: int, num_actions: int, window: int, capacity: int = DEFAULT_CAPACITY
    ) -> None:
        if capacity < 1 or window < 1:
            raise ValueError("capacity and window must be positive")
        self.capacity = capacity
        self.window = window
        shape = (capacity, streams)
        self._observations = np.zeros((*shape, observation_size), dtype=np.float32)
        self._actions = np.zeros(shape, dtype=np.int64)
        self._masks = np.zeros((*shape, num_actions), dtype=np.bool_)
        self._rewards = np.zeros(shape, dtype=np.float32)
        self._dones = np.zeros(shape, dtype=np.bool_)
        self._starts = np.zeros(shape, dtype=np.bool_)
        self._log_probs = np.zeros(shape, dtype=np.float32)
        self._values = np.zeros(shape, dtype=np.float32)
        self._sequence_states: list[tuple[npt.NDArray[np.float32], ...]] = []
        self._sequence_starts: list[int] = []
        self._total = 0
        self._rollout_start = 0

    def __len__(self) -> int:
        """Transitions held (at most ``capacity``)."""
        return min(self._total, self.capacity)

    @property
    def total(self) -> int:
        """Transitions ever added."""
        return self._total

    @property
    def fresh_steps(self) -> int:
        """Steps collected since the last ``consume()``."""
        return self._total - self._rollout_start

    def add(
        self,
        observation: npt.NDArray[np.float32],
        action: npt.NDArray[np.int64],
        mask: npt.NDArray[np.bool_],
        reward: npt.NDArray[np.float32],
        done: npt.NDArray[np.bool_],
        log_prob: npt.NDArray[np.float32],
        value: npt.NDArray[np.float32],
        start: npt.NDArray[np.bool_],
        state: RecurrentState,
    ) -> None:
        """Record one step; ``state`` is the recurrent state the step was acted from (kept at sequence starts).

        A training sequence starts at the rollout's first step, ``window`` steps after the last one began,
        and at every recurrent-state reset (a session's first step), so no sequence holds a reset after
        its first step and training replays each in one pass."""
        if self.fresh_steps >= self.capacity:
            raise OverflowError(f"the fresh rollout would exceed the buffer's {self.capacity} steps; train first")
        step = self.fresh_steps
        if not self._sequence_starts or step - self._sequence_starts[-1] >= self.window or np.any(start):
            self._sequence_states.append(tuple(t.detach().cpu().numpy().copy() for t in state))
            self._sequence_starts.append(step)
        i = self._total % self.capacity
        self._observations[i] = observation
        self._actions[i] = action
        self._masks[i] = mask
        self._rewards[i] = reward
        self._dones[i] = done
        self._log_probs[i] = log_prob
        self._values[i] = value
        self._starts[i] = start
        self._total += 1

    def rollout(self) -> Rollout:
        """The fresh rollout in time order (raises if it is empty)."""
        length = self.fresh_steps
        if length == 0:
            raise ValueError("no fresh experience since the last update")
        rows = (self._rollout_start + np.arange(length)) % self.capacity
        return Rollout(
            observations=torch.from_numpy(self._observations[rows]),
            actions=torch.from_numpy(self._actions[rows]),
            masks=torch.from_numpy(self._masks[rows]),
            rewards=torch.from_numpy(self._rewards[rows]),
            dones=torch.from_numpy(self._dones[rows].astype(np.float32)),
            starts=torch.from_numpy(self._starts[rows]),
            log_probs=torch.from_numpy(self._log_probs[rows]),
            values=torch.from_numpy(self._values[rows]),
            sequence_states=[RecurrentState(*(torch.from_numpy(a) for a in s)) for s in self._sequence_states],
            sequence_starts=list(self._sequence_starts),
        )

    def consume(self) -> None:
        """Close the fresh rollout: the next one starts with the next step."""
        self._rollout_start = self._total
        self._sequence_states = []
        self._sequence_starts = []

    def recent_rewards(self, steps: int) -> npt.NDArray[np.float32]:
        """Rewards of the last ``steps`` transitions (at most what is held), oldest first, shape (n, B)."""
        n = min(steps, len(self))
        rows = (self._total - n + np.arange(n)) % self.capacity
        return self._rewards[rows].copy()
