"""The action table."""

from __future__ import annotations

import pytest

from tradingbot.env.actions import (
    ACTION_NAMES,
    ACTIONS,
    BUY_ACTIONS,
    CLOSE_ACTIONS,
    HOLD,
    NUM_ACTIONS,
    BuyOption,
    check_action,
)


def test_the_table_has_31_uniquely_named_actions_with_hold_first():
    assert NUM_ACTIONS == 31
    assert HOLD == 0 and ACTIONS[0].order is None
    assert len(set(ACTION_NAMES)) == 31
    assert [a.index for a in ACTIONS] == list(range(31))
    assert tuple(range(1, 25)) == BUY_ACTIONS and tuple(range(25, 31)) == CLOSE_ACTIONS


def test_buys_cover_calls_and_puts_on_the_same_expiry_and_strike_grid():
    grid = {
        (a.order.contract_type, a.order.target_days, a.order.otm) for a in ACTIONS if isinstance(a.order, BuyOption)
    }
    assert len(grid) == 24
    calls = {(d, o) for t, d, o in grid if t == "call"}
    puts = {(d, o) for t, d, o in grid if t == "put"}
    assert calls == puts


@pytest.mark.parametrize("bad", [-1, 31, 100, 1.0, True, "3", None])
def test_actions_outside_the_table_are_a_clear_error(bad):
    with pytest.raises(ValueError, match=r"action must be an integer in 0\.\.30"):
        check_action(bad)
