"""The trade journal: whole steps or nothing, numbered fills, an account rebuilt to the last bit."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import date

import numpy as np
import pytest

from tradingbot.books.bookkeeper import Bookkeeper
from tradingbot.books.journal import AccountState, JournalError, bots_in, open_journal, open_reader, read_fills
from tradingbot.books.recovery import rebuild
from tradingbot.env.paper import EnvironmentConfig, PaperTradingEnvironment
from tradingbot.env.portfolio import FeeSchedule, Fill, Portfolio
from tradingbot.env.risk import RiskState
from tradingbot.market.sim.simulator import MarketSimulator, SimulatorConfig
from tradingbot.redaction import redact_url

FEES = FeeSchedule(0.65, 0.05)


def fill(kind="buy", ticker="O:SPY260116C00600000", quantity=1, price=1.25, cash=-125.70, realized=0.0):
    return Fill(1767225600000, ticker, "SPY", kind, quantity, price, 100, 0.65, 0.05, cash, realized, "ask")


def trading_env(seed=3, capital=20_000.0):
    market = MarketSimulator(SimulatorConfig(("SPY", "QQQ"), seed=seed, start_date=date(2026, 1, 8), steps_per_day=13))
    return PaperTradingEnvironment(market, EnvironmentConfig(initial_capital=capital, fees=FEES, steps_per_day=13))


def trade_randomly(env, keeper, steps, seed=0, flush_every=7):
    rng = np.random.default_rng(seed)
    for step in range(1, steps + 1):
        mask = env.action_mask()
        actions = [int(rng.choice(np.flatnonzero(row))) for row in mask]
        keeper.book(step, env.step(actions))
        if step % flush_every == 0:
            assert keeper.flush()
    assert keeper.flush()


def test_a_step_is_booked_whole_with_numbered_fills(tmp_path):
    journal = open_journal(str(tmp_path / "j.sqlite"), "spy-bot")
    journal.open_account(Portfolio(10_000.0, FEES).snapshot())
    journal.record((fill(), fill(ticker="O:SPY260116P00590000")), AccountState(1, 1, 10_000.0, {"x": 1.2}))
    journal.record((), AccountState(2, 2, 10_100.0, {}))
    journal.record((fill("sell", price=1.5, cash=149.3, realized=23.6),), AccountState(3, 3, 10_100.0, {}))
    assert [f.seq for f in journal.fills()] == [1, 2, 3] and journal.last_seq == 3
    assert [f.step for f in journal.fills()] == [1, 1, 3]
    last = journal.last_step()
    assert (last.step, last.last_seq, last.peak_value) == (3, 3, 10_100.0)
    journal.close()
    again = open_journal(str(tmp_path / "j.sqlite"), "spy-bot")
    assert again.last_seq == 3 and again.fills(after=2)[0].fill.realized_pnl == 23.6
    assert again.opening().initial_cash == 10_000.0


def test_a_step_that_cannot_be_written_leaves_nothing_behind(tmp_path):
    journal = open_journal(str(tmp_path / "j.sqlite"), "spy-bot")
    journal.open_account(Portfolio(10_000.0, FEES).snapshot())
    journal.record((fill(),), AccountState(1, 1, 10_000.0, {}))
    broken = replace(fill(), quantity=0)  # the schema refuses it: the whole step must go
    with pytest.raises(JournalError, match=r"j\.sqlite"):
        journal.record((fill(), broken), AccountState(2, 2, 10_000.0, {}))
    assert journal.last_seq == 1 and [f.seq for f in journal.fills()] == [1]
    assert journal.last_step().step == 1
    journal.record((fill(),), AccountState(3, 3, 10_000.0, {}))
    assert [f.seq for f in journal.fills()] == [1, 2]


def test_the_account_rebuilt_from_the_journal_is_the_live_account_to_the_last_bit(tmp_path):
    env = trading_env()
    journal = open_journal(str(tmp_path / "j.sqlite"), "bot")
    journal.open_account(env.portfolio.snapshot())
    keeper = Bookkeeper(journal, env)
    trade_randomly(env, keeper, 300)
    live = env.portfolio
    assert live.trades > 50 and live.closed > 5  # the run bought, sold and settled
    rebuilt = rebuild(journal.opening(), journal.all_fills(batch=7), journal.last_step(), FeeSchedule(9.0, 9.0))
    assert (rebuilt.cash, rebuilt.realized_pnl, rebuilt.peak_value) == (live.cash, live.realized_pnl, live.peak_value)
    assert (rebuilt.trades, rebuilt.closed, rebuilt.wins) == (live.trades, live.closed, live.wins)
    assert {t: (p.quantity, p.cost, p.mark) for t, p in rebuilt.positions.items()} == {
        t: (p.quantity, p.cost, p.mark) for t, p in live.positions.items()
    }
    kinds = {f.fill.kind for f in journal.all_fills()}
    assert kinds == {"buy", "sell", "expire"}
    settlements = [f.fill for f in journal.all_fills() if f.fill.kind == "expire"]
    assert all(s.price_source.startswith("intrinsic of ") for s in settlements)


def test_steps_that_change_nothing_are_not_written(tmp_path):
    env = trading_env()
    journal = open_journal(str(tmp_path / "j.sqlite"), "bot")
    journal.open_account(env.portfolio.snapshot())
    keeper = Bookkeeper(journal, env)
    for step in range(1, 51):
        keeper.book(step, env.step([0, 0]))  # hold: no fill, no new high-water mark
        assert keeper.flush()
    sessions = env.risk.state.session  # 50 steps of 13-step sessions: each new one moves the risk state
    assert sessions >= 4 and journal.commits == sessions  # the opening, then one write per new session
    assert journal.last_step().risk["session"] == sessions


def test_written_steps_are_durable_only_after_a_flush(tmp_path):
    path = str(tmp_path / "j.sqlite")
    env = trading_env()
    journal = open_journal(path, "bot")
    journal.open_account(env.portfolio.snapshot())
    keeper = Bookkeeper(journal, env)
    trade_randomly(env, keeper, 10)
    committed = journal.last_seq
    buy = int(np.flatnonzero(env.action_mask()[0])[-1])
    keeper.book(11, env.step([buy, 0]))
    assert read_fills(open_reader(path), "bot")[-1].seq == committed  # another connection sees no more yet
    assert keeper.flush() and journal.last_seq > committed
    assert read_fills(open_reader(path), "bot")[-1].seq == journal.last_seq


def test_a_refusing_journal_undoes_the_step_and_stops_trading_until_it_takes_writes(tmp_path):
    env = trading_env()
    journal = open_journal(str(tmp_path / "j.sqlite"), "bot")
    journal.open_account(env.portfolio.snapshot())
    keeper = Bookkeeper(journal, env)
    trade_randomly(env, keeper, 20)
    booked = rebuild(journal.opening(), journal.all_fills(), journal.last_step(), FEES)
    journal.backend._db.execute("PRAGMA query_only=ON")  # the volume refuses writes from now on
    buy = int(np.flatnonzero(env.action_mask()[0])[-1])
    keeper.book(21, env.step([buy, 0]))
    assert env.portfolio.trades == booked.trades + 1  # bought, in memory
    assert not keeper.flush() and env.books_blocked is not None and keeper.failures == 1
    assert env.portfolio.cash == booked.cash and set(env.portfolio.positions) == set(booked.positions)
    assert env.portfolio.trades == booked.trades  # the step's buy did not happen
    assert not env.action_mask()[:, 1:].any()  # nothing can trade, not even a close
    keeper.book(22, env.step([0, 0]))
    assert not keeper.flush() and env.books_blocked is not None  # still refused
    journal.backend._db.execute("PRAGMA query_only=OFF")
    keeper.book(23, env.step([0, 0]))
    assert keeper.flush() and env.books_blocked is None and env.action_mask()[:, 1:].any()


def test_readers_see_committed_fills_page_by_page(tmp_path):
    path = str(tmp_path / "j.sqlite")
    env = trading_env()
    journal = open_journal(path, "bot")
    journal.open_account(env.portfolio.snapshot())
    trade_randomly(env, Bookkeeper(journal, env), 60)
    reader = open_reader(path)
    assert bots_in(reader) == ["bot"]
    pages, after = [], 0
    while page := read_fills(reader, "bot", after, 10):
        pages.append(page)
        after = page[-1].seq
    assert [f.seq for p in pages for f in p] == list(range(1, journal.last_seq + 1))
    qqq = read_fills(reader, "bot", symbol="QQQ")
    assert qqq and all(f.fill.underlying == "QQQ" for f in qqq)
    with pytest.raises(sqlite3.OperationalError):
        reader._db.execute("DELETE FROM fills")  # a reader cannot write


def test_a_missing_journal_is_a_clear_error_for_readers(tmp_path):
    with pytest.raises(JournalError, match="no journal at"):
        open_reader(str(tmp_path / "nothing.sqlite"))


def test_many_bots_share_one_database_without_mixing_their_books(tmp_path):
    path = str(tmp_path / "fleet.sqlite")
    for bot, capital in (("spy", 10_000.0), ("qqq", 20_000.0)):
        journal = open_journal(path, bot)
        journal.open_account(Portfolio(capital, FEES).snapshot())
        journal.record((fill(),), AccountState(1, 1, capital, {}))
        journal.close()
    reader = open_reader(path)
    assert bots_in(reader) == ["qqq", "spy"]
    assert [f.seq for f in read_fills(reader, "spy")] == [1] and [f.seq for f in read_fills(reader, "qqq")] == [1]
    assert open_journal(path, "qqq").opening().initial_cash == 20_000.0


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://bot:s3cr%40t@db:5432/books", "postgresql://bot:***@db:5432/books"),
        (
            "postgresql://db/books?user=bot&password=hunter2&sslmode=require",
            "postgresql://db/books?user=bot&password=***&sslmode=require",
        ),
        ("postgresql://db/books", "postgresql://db/books"),
        ("/checkpoints/journal.sqlite", "/checkpoints/journal.sqlite"),
    ],
)
def test_a_journal_url_is_shown_without_its_password(url, shown):
    assert redact_url(url) == shown


def test_the_risk_protections_state_is_booked_and_survives_a_restart(tmp_path):
    env = trading_env()
    keeper = Bookkeeper(open_journal(str(tmp_path / "j.sqlite"), "spy-bot"), env)
    keeper.journal.open_account(env.portfolio.snapshot())
    env.risk.state.halted_until = 7  # the drawdown protection tripped
    keeper.book(1, env.step([0, 0]))
    assert keeper.flush()
    keeper.journal.close()
    again = open_journal(str(tmp_path / "j.sqlite"), "spy-bot")
    booked = again.last_step().risk
    restarted = trading_env()
    restarted.restore_risk(RiskState.from_dict(booked))
    assert restarted.risk.state.halted_until == 7 and restarted.risk_halted


def test_a_journal_of_an_older_bot_gains_the_risk_column(tmp_path):
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:  # the steps table as bots before the risk budget made it
        db.execute(
            "CREATE TABLE steps (bot TEXT PRIMARY KEY, step BIGINT NOT NULL, timestamp_ms BIGINT NOT NULL, "
            "recorded_unix DOUBLE PRECISION NOT NULL, last_seq BIGINT NOT NULL, peak_value DOUBLE PRECISION NOT NULL, "
            "marks TEXT NOT NULL, market TEXT)"
        )
        db.execute("INSERT INTO steps VALUES ('spy-bot', 4, 5, 6.0, 0, 10000.0, '{}', NULL)")
    journal = open_journal(str(path), "spy-bot")
    assert journal.last_step().risk is None and journal.last_step().step == 4
    journal.record((), AccountState(5, 6, 10_000.0, {}, risk={"session": 3}))
    assert journal.last_step().risk == {"session": 3}
    journal.close()
    assert open_journal(str(path), "spy-bot").last_step().risk == {"session": 3}  # migrated once
