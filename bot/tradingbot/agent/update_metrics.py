"""What one PPO update did, as plain numbers: what reports, metrics and progress lines show (no torch here)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TrainMetrics:
    """What one update did. Losses are means over the minibatches run."""

    policy_loss: float
    value_loss: float
    entropy: float
    approx_kl: float
    clip_fraction: float
    explained_variance: float
    first_ratio_error: float
    """max |ratio - 1| on the first minibatch before any gradient step: 0 up to float rounding when the
    recorded log-probabilities belong to the policy being trained."""
    samples: int
    epochs: int
