"""A bot with no pre-training, as ``make run`` starts it, on the calibrated market: its first 20 sessions
with every default (``realistic``, SPY and QQQ, $100,000, the default risk budget, learning online)."""

from __future__ import annotations

import pytest

from tradingbot.config import load_settings
from tradingbot.offline.evaluation import run_episode

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def test_a_fresh_bot_keeps_three_quarters_of_its_capital_over_its_first_twenty_sessions():
    settings = load_settings({})
    episode = run_episode(settings, "agent", seed=0, days=20, weights=None, online=True)
    assert len(episode.updates) == 20 * 390 // settings.update_frequency  # it learned all along
    assert any(fill.kind == "buy" for fill in episode.fills)  # and traded
    capital = settings.initial_capital
    assert episode.min_equity >= 0.75 * capital
    assert episode.min_equity >= settings.capital_floor_pct / 100 * capital  # the floor held at every step
