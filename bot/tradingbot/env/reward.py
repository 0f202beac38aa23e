"""The reward, defined in one place.

reward = 100 x (portfolio value after the step - value before) / initial capital

That is the step's mark-to-market P&L in percent of the initial capital. It is net of costs:
commissions and fees leave cash at the fill, and a bought option is marked at its mid, so the
spread paid shows up as a loss at once. Example: with $100,000 of capital, a step that gains $250
earns 0.25.
"""

from __future__ import annotations

REWARD_SCALE = 100.0


def step_reward(value_before: float, value_after: float, initial_capital: float) -> float:
    """Scaled change in portfolio value over one step; values in USD."""
    return REWARD_SCALE * (value_after - value_before) / initial_capital
