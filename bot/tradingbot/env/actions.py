"""The 31 discrete actions, one table for the whole bot. Every action applies to one underlying.

=======  ==========================================================================
index    meaning
=======  ==========================================================================
0        hold: do nothing
1-12     buy calls: expiry tier (next, ~1 week, ~2 weeks, ~4 weeks) x strike
         (at the money, 2.5 % out of the money, 5 % out of the money)
13-24    buy puts: the same grid (out of the money means below the spot)
25       close every call position on the underlying
26       close every put position on the underlying
27       close every position on the underlying
28       close the position with the highest unrealised P&L per contract
29       close the position with the lowest unrealised P&L per contract
30       close the position nearest to expiry
=======  ==========================================================================

A buy takes as many contracts as the risk budget allows (:mod:`tradingbot.env.risk`, at most
``contracts_per_trade``) at the ask of the listed contract whose expiry is
nearest the tier's target days to expiry (never one expiring today) and whose strike is nearest the
target strike. Closes sell whole positions at the bid.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from tradingbot.market.types import ContractType

CloseSelector = Literal["calls", "puts", "all", "best", "worst", "nearest_expiry"]

EXPIRY_TIERS: tuple[tuple[str, int], ...] = (("next", 1), ("1w", 7), ("2w", 14), ("4w", 28))
"""(label, target calendar days to expiry) of each expiry tier."""
STRIKE_OFFSETS: tuple[tuple[str, float], ...] = (("atm", 0.0), ("otm2.5", 0.025), ("otm5", 0.05))
"""(label, out-of-the-money distance as a fraction of the spot) of each strike choice."""
CLOSE_SELECTORS: tuple[CloseSelector, ...] = ("calls", "puts", "all", "best", "worst", "nearest_expiry")


@dataclass(frozen=True, slots=True)
class BuyOption:
    """Buy a contract of ``contract_type`` about ``otm`` out of the money, about ``target_days`` out."""

    contract_type: ContractType
    otm: float
    target_days: int


@dataclass(frozen=True, slots=True)
class ClosePositions:
    """Sell the underlying's positions chosen by ``selector`` at the bid."""

    selector: CloseSelector


@dataclass(frozen=True, slots=True)
class Action:
    """One row of the action table."""

    index: int
    name: str
    order: BuyOption | ClosePositions | None


def _build_table() -> tuple[Action, ...]:
    rows = [Action(0, "hold", None)]
    for kind in ("call", "put"):
        for tier, days in EXPIRY_TIERS:
            for label, otm in STRIKE_OFFSETS:
                order = BuyOption(kind, otm, days)
                rows.append(Action(len(rows), f"buy_{kind}_{label}_{tier}", order))
    rows.extend(Action(len(rows), f"close_{sel}", ClosePositions(sel)) for sel in CLOSE_SELECTORS)
    return tuple(rows)


ACTIONS: tuple[Action, ...] = _build_table()
NUM_ACTIONS = len(ACTIONS)
HOLD = 0
BUY_ACTIONS = tuple(a.index for a in ACTIONS if isinstance(a.order, BuyOption))
CLOSE_ACTIONS = tuple(a.index for a in ACTIONS if isinstance(a.order, ClosePositions))
ACTION_NAMES = tuple(a.name for a in ACTIONS)

assert NUM_ACTIONS == 31, "the agent's head and the operator's docs assume 31 actions"


def check_action(action: int) -> Action:
    """The table row of ``action``; anything outside 0-30 is a clear error."""
    if isinstance(action, bool) or not isinstance(action, int) or not 0 <= action < NUM_ACTIONS:
        raise ValueError(f"action must be an integer in 0..{NUM_ACTIONS - 1}, got {action!r}")
    return ACTIONS[action]
