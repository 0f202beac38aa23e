"""Baseline policies: the yardsticks a learning agent must beat.

A policy sees the observation (n_symbols x features) and the action mask (n_symbols x 31) and
returns one action index per symbol; it must only return valid (unmasked) actions.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import numpy.typing as npt

from tradingbot.env.actions import HOLD
from tradingbot.market.types import BoolArray

Actions = npt.NDArray[np.int64]


class Policy(Protocol):
    """Chooses one action per underlying."""

    name: str

    def act(self, observation: npt.NDArray[np.float32], mask: BoolArray) -> Actions:
        """Actions for this step, one per row of ``mask``."""
        ...


class RandomPolicy:
    """A seeded uniform choice among each underlying's valid actions (hold included)."""

    name = "random"

    def __init__(self, seed: int) -> None:
        self._rng = np.random.default_rng([seed, 1])  # a stream independent of the simulator's

    def act(self, observation: npt.NDArray[np.float32], mask: BoolArray) -> Actions:
        """One uniformly drawn valid action per row."""
        return np.array([self._rng.choice(np.flatnonzero(row)) for row in mask], dtype=np.int64)


class HoldPolicy:
    """Never trades: the cash baseline."""

    name = "hold"

    def act(self, observation: npt.NDArray[np.float32], mask: BoolArray) -> Actions:
        """Hold on every underlying."""
        return np.full(mask.shape[0], HOLD, dtype=np.int64)


def make_policy(name: str, seed: int) -> Policy:
    """The baseline policy called ``name``."""
    if name == "random":
        return RandomPolicy(seed)
    if name == "hold":
        return HoldPolicy()
    raise ValueError(f"unknown policy {name!r}: expected random or hold")
