"""Data the bot must refuse: one-sided, crossed, too wide, stale by arrival, stamped in the future. Marks
and settlements never come from such quotes, and the books say where each settlement price came from."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import msgspec
import numpy as np

from tradingbot.env.actions import ACTION_NAMES, BUY_ACTIONS, HOLD
from tradingbot.env.paper import EnvironmentConfig, PaperTradingEnvironment
from tradingbot.market.clock import MS_PER_MINUTE, session_close_ms

BUY_ATM_CALL_1W = ACTION_NAMES.index("buy_call_atm_1w")


def set_quote(source, **fields):
    data = source.snapshot.symbols["SPY"]
    quote = msgspec.structs.replace(data.quote, **fields)
    source.snapshot = replace(source.snapshot, symbols={"SPY": replace(data, quote=quote)})


def set_data(source, **fields):
    data = source.snapshot.symbols["SPY"]
    source.snapshot = replace(source.snapshot, symbols={"SPY": replace(data, **fields)})


def set_option_quotes(source, bid, ask):
    data = source.snapshot.symbols["SPY"]
    chain = replace(data.chain, bid=np.full(len(data.chain), bid), ask=np.full(len(data.chain), ask))
    source.snapshot = replace(source.snapshot, symbols={"SPY": replace(data, chain=chain)})


def test_a_one_sided_underlying_quote_stops_entries_and_never_prices_a_settlement(static_market):
    source = static_market(spot=100.0)
    env = PaperTradingEnvironment(source, EnvironmentConfig(expiry_cutoff_minutes=0))
    env.step([BUY_ATM_CALL_1W])  # a call expiring Friday 2026-01-09
    (held,) = env.portfolio.positions.values()
    assert held.contract.expiration == date(2026, 1, 9)
    set_quote(source, bid=0.0, ask=571.94)  # "0 means no bid": a one-sided quote, mid 285.97
    result = env.step([HOLD])
    assert env.data_problems() == {"SPY": "SPY: one-sided: no bid"}
    assert not env.action_mask()[0, list(BUY_ACTIONS)].any()
    assert "one-sided" in env.step([BUY_ATM_CALL_1W]).info.rejections[0].reason
    while result.info.timestamp_ms < session_close_ms(date(2026, 1, 9)):  # to the expiry's close, still one-sided
        result = env.step([HOLD])
        set_quote(source, bid=0.0, ask=571.94, timestamp_ms=result.info.timestamp_ms)
    (settled,) = [f for f in result.info.fills if f.kind == "expire"]
    assert settled.price == 0.0  # from the last valid mid, 100.00: the 100 call is worth nothing, not $185.97
    assert settled.price_source == "intrinsic of SPY mid 100.00 at 2026-01-05 10:01 ET"
    assert env.portfolio.realized_pnl < 0


def test_a_stub_option_quote_neither_marks_nor_trades(static_market):
    source = static_market(bid=1.10, ask=1.20)
    env = PaperTradingEnvironment(source, EnvironmentConfig())
    env.step([BUY_ATM_CALL_1W])
    (held,) = env.portfolio.positions.values()
    marked_at = held.marked_ms
    set_option_quotes(source, bid=0.0, ask=50.0)  # a 0 x 50 stub: its mid, 25, would add $2,385 of value
    result = env.step([HOLD])
    assert held.mark == 1.15 and held.marked_ms == marked_at  # the last valid mark stands, and its age shows
    assert result.info.portfolio_value < 100_000
    assert not env.action_mask()[0, 1:].any()  # no buy at a stub ask, no sale at a zero bid


def test_a_crossed_or_too_wide_option_quote_is_not_bought(static_market):
    for bid, ask in ((1.30, 1.20), (1.00, 3.00)):  # crossed; $2 wide at a $2 mid (the limit: $0.28)
        source = static_market(bid=bid, ask=ask)
        env = PaperTradingEnvironment(source, EnvironmentConfig())
        assert not env.action_mask()[0, list(BUY_ACTIONS)].any()
        reason = env.step([BUY_ATM_CALL_1W]).info.rejections[0].reason
        assert "crossed" in reason or "too wide" in reason


def test_freshness_is_judged_by_arrival_so_a_future_stamp_buys_nothing(static_market):
    source = static_market()
    assert PaperTradingEnvironment(source, EnvironmentConfig()).action_mask()[0, list(BUY_ACTIONS)].any()
    now = source.snapshot.timestamp_ms
    set_quote(source, timestamp_ms=now + 3_600_000)  # stamped an hour ahead
    env = PaperTradingEnvironment(source, EnvironmentConfig())
    assert env.data_problems()["SPY"] == "SPY: stamped 3600 s in the future"
    set_quote(source, timestamp_ms=now + 4_000)  # a clock a little ahead is tolerated (5 s by default)
    assert PaperTradingEnvironment(source, EnvironmentConfig()).data_problems()["SPY"] is None
    set_quote(source, timestamp_ms=now)
    set_data(source, quote_age_s=121.0)  # stamped now, but it arrived two minutes ago: nothing since
    env = PaperTradingEnvironment(source, EnvironmentConfig())
    assert env.data_problems()["SPY"] == "SPY: last data arrived 121 s ago"
    assert not env.action_mask()[0, list(BUY_ACTIONS)].any()


def test_a_chain_that_stopped_arriving_is_neither_traded_nor_marked(static_market):
    source = static_market()
    env = PaperTradingEnvironment(source, EnvironmentConfig())
    env.step([BUY_ATM_CALL_1W])
    (held,) = env.portfolio.positions.values()
    set_data(source, chain_age_s=300.0)
    set_option_quotes(source, bid=2.00, ask=2.10)
    env.step([HOLD])
    assert env.data_problems()["SPY"] == "SPY: option chain: last data arrived 300 s ago"
    assert held.mark == 1.15 and not env.action_mask()[0, 1:].any()
    assert source.snapshot.timestamp_ms - held.marked_ms == MS_PER_MINUTE
