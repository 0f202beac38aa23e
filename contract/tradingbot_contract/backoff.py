"""Capped, jittered exponential backoff: the one retry schedule of every client (Kubernetes, Massive, S3)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """Waits that double from ``initial_s`` up to ``max_s`` (seconds), each drawn from [½, 1] of the
    current delay so that many clients do not retry in step; :meth:`reset` after a success."""

    initial_s: float = 1.0
    max_s: float = 60.0
    rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        if not 0 < self.initial_s <= self.max_s:
            raise ValueError(f"backoff needs 0 < initial ({self.initial_s}) <= max ({self.max_s})")
        self._delay = self.initial_s

    def next(self, at_least_s: float = 0.0) -> float:
        """The wait before the next attempt (never less than ``at_least_s``), and the delay doubles."""
        wait = max(self._delay * (0.5 + self.rng.random() / 2), at_least_s)
        self._delay = min(self._delay * 2, self.max_s)
        return wait

    def reset(self) -> None:
        """Start over from ``initial_s`` (after a success)."""
        self._delay = self.initial_s
