"""The one retry schedule: capped, jittered, doubling, with a floor when asked."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradingbot_contract.backoff import Backoff


@given(seed=st.integers(0, 2**32 - 1), floor=st.floats(0, 120), attempts=st.integers(1, 30))
def test_waits_double_within_the_cap_jittered_and_never_below_the_floor(seed, floor, attempts):
    backoff = Backoff(1.0, 60.0, random.Random(seed))
    delay = 1.0
    for _ in range(attempts):
        wait = backoff.next(at_least_s=floor)
        assert max(delay / 2, floor) <= wait <= max(delay, floor)
        delay = min(delay * 2, 60.0)


def test_reset_starts_over():
    backoff = Backoff(1.0, 60.0, random.Random(1))
    for _ in range(10):
        backoff.next()
    backoff.reset()
    assert backoff.next() <= 1.0


def test_a_schedule_that_makes_no_sense_is_refused():
    with pytest.raises(ValueError, match="backoff needs"):
        Backoff(10.0, 1.0)
