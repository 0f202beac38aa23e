"""Performance figures against hand-computed examples."""

from __future__ import annotations

import math

import pytest

from tradingbot.env.portfolio import Fill
from tradingbot.reports.performance import daily_returns, max_drawdown, mean_and_error, performance


def close(realized: float, kind: str = "sell") -> Fill:
    return Fill(0, "O:SPY260116C00600000", "SPY", kind, 1, 1.0, 100, 0.65, 0.05, 100.0, realized, "bid")


def test_returns_drawdown_and_ratios_match_a_hand_computed_account():
    equity = [100.0, 110.0, 99.0, 108.9]
    assert daily_returns(equity) == pytest.approx([0.10, -0.10, 0.10])
    assert max_drawdown(equity) == pytest.approx(0.10)
    buy = Fill(0, "O:SPY260116C00600000", "SPY", "buy", 1, 1.0, 100, 0.65, 0.05, -100.7, 0.0, "ask")
    figures = performance(equity, [buy, close(30.0), close(-10.0), close(-5.0, "expire")])
    assert figures["total_return"] == pytest.approx(0.089)
    assert figures["annualised_return"] == pytest.approx(1.089 ** (252 / 3) - 1)
    mean, sd = 0.1 / 3, math.sqrt(((0.2 / 3) ** 2 * 2 + (0.4 / 3) ** 2) / 2)
    assert figures["sharpe"] == pytest.approx(mean / sd * math.sqrt(252))
    assert figures["sortino"] == pytest.approx(mean / math.sqrt(0.01 / 3) * math.sqrt(252))
    assert figures["win_rate"] == pytest.approx(1 / 3)
    assert figures["profit_factor"] == pytest.approx(30 / 15)
    assert figures["trades_per_day"] == pytest.approx(3 / 3)  # the buy and two sales; an expiry is no trade
    assert figures["fees_paid"] == pytest.approx(4 * 0.70)


def test_a_flat_account_has_no_ratios_and_one_session_is_the_least():
    figures = performance([100.0, 100.0, 100.0], [])
    assert figures["total_return"] == 0.0 and figures["max_drawdown"] == 0.0
    assert all(math.isnan(figures[k]) for k in ("sharpe", "sortino", "win_rate", "profit_factor"))
    with pytest.raises(ValueError, match="at least one session"):
        performance([100.0], [])


def test_the_standard_error_is_over_finite_samples():
    assert mean_and_error([1.0, 3.0]) == pytest.approx((2.0, 1.0))
    mean, error = mean_and_error([2.0, math.nan])
    assert mean == 2.0 and math.isnan(error)
