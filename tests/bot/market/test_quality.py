"""The rules of trustworthy data, property-tested: validity of a quote, freshness under clock skew."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from tradingbot.market.quality import DataRules, SpreadLimit, quote_problem, staleness

prices = st.floats(min_value=0.0, max_value=5_000.0, allow_nan=False)
LIMIT = SpreadLimit(0.20, 0.04)
RULES = DataRules(max_data_age_s=120.0, future_tolerance_s=5.0)


@given(bid=prices, ask=prices)
def test_a_quote_is_usable_exactly_when_two_sided_uncrossed_and_narrow_enough(bid, ask):
    usable = quote_problem(bid, ask, LIMIT) is None
    assert usable == (bid > 0 and ask > bid and ask - bid <= 0.20 + 0.04 * (bid + ask) / 2 + 1e-9)


@given(bid=st.one_of(st.just(math.nan), st.just(math.inf), prices), ask=st.one_of(st.just(math.nan), prices))
def test_non_finite_prices_are_never_usable(bid, ask):
    if not (math.isfinite(bid) and math.isfinite(ask)):
        assert quote_problem(bid, ask, LIMIT) == "no quote"


@given(
    skew_s=st.floats(min_value=-1_000.0, max_value=1_000.0),
    arrival_age_s=st.floats(min_value=0.0, max_value=1_000.0),
)
def test_data_is_fresh_only_if_it_arrived_recently_and_its_stamp_is_sane_both_ways(skew_s, arrival_age_s):
    """``skew_s``: how far the exchange stamp is ahead of our clock (negative: behind)."""
    now_ms = 1_767_225_600_000
    problem = staleness(now_ms + round(skew_s * 1000), arrival_age_s, now_ms, RULES)
    skew = round(skew_s * 1000) / 1000
    fresh = arrival_age_s <= 120.0 and skew <= 5.0 and -skew <= 120.0
    assert (problem is None) == fresh
    if arrival_age_s > 120.0:
        assert problem is not None and "arrived" in problem  # a future stamp cannot hide silence


def test_data_that_never_arrived_is_stale():
    assert staleness(0, math.nan, 0, RULES) == "no data arrived"
