"""The fleet's shared journal in a real PostgreSQL: bots book into it, resume from it, are read from it,
and its password shows nowhere."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from bot_process import SMALL_AGENT, BotProcess, tradingbot
from postgres_support import PASSWORD, Postgres, postgres_bin
from tradingbot.books.journal import open_journal
from tradingbot.books.recovery import rebuild
from tradingbot.env.portfolio import FeeSchedule

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def postgres():
    bin_dir = postgres_bin()
    if bin_dir is None:
        from conftest import required_tool  # noqa: PLC0415 - fails in CI, skips on a laptop

        required_tool("initdb (Debian's postgresql package)")
    server = Postgres(bin_dir)
    server.start()
    yield server
    server.stop()


def run_bot(tmp_path, name, url, *extra):
    return BotProcess(
        [*SMALL_AGENT, "--policy", "random", "--steps-per-day", "26", "--step-interval", "0.002",
         "--bot-name", name, "--checkpoint-dir", str(tmp_path / name), *extra],
        tmp_path / f"{name}.log",
        env={"JOURNAL": url},
    )  # fmt: skip


def test_bots_starting_at_once_create_the_schema_without_racing(postgres):
    with psycopg.connect(postgres.url, autocommit=True) as db:
        db.execute("DROP TABLE IF EXISTS fills, steps, accounts")
    with ThreadPoolExecutor(8) as pool:
        journals = list(pool.map(lambda i: open_journal(postgres.url, f"racer-{i}"), range(8)))
    for journal in journals:
        assert journal.opening() is None
        journal.close()


def test_bots_share_one_postgres_journal_resume_from_it_and_never_show_its_password(postgres, tmp_path):
    spy = run_bot(tmp_path, "bot-spy", postgres.url, "--symbols", "SPY")
    qqq = run_bot(tmp_path, "bot-qqq", postgres.url, "--symbols", "QQQ")
    try:
        status = spy.wait_for(lambda s: s["journal"]["last_seq"] >= 40 and s, what="SPY's fills")
        qqq.wait_for(lambda s: s["journal"]["last_seq"] >= 40, what="QQQ's fills")
        assert PASSWORD not in json.dumps(status) and "***" in status["config"]["journal"]
        assert PASSWORD not in spy.get("/metrics")[1] and PASSWORD not in spy.get("/trades")[1]
    finally:
        assert spy.stop() == 0 and qqq.stop() == 0
    for bot in (spy, qqq):
        assert PASSWORD not in bot.output()

    with psycopg.connect(postgres.url) as db:
        counts = dict(db.execute("SELECT bot, count(*) FROM fills GROUP BY bot").fetchall())
        underlyings = dict(
            db.execute("SELECT bot, string_agg(DISTINCT underlying, ',') FROM fills GROUP BY bot").fetchall()
        )
    assert counts["bot-spy"] >= 40 and counts["bot-qqq"] >= 40
    assert underlyings == {"bot-spy": "SPY", "bot-qqq": "QQQ"}

    journal = open_journal(postgres.url, "bot-spy")
    books = rebuild(journal.opening(), journal.all_fills(), journal.last_step(), FeeSchedule())
    journal.close()
    again = run_bot(tmp_path, "bot-spy", postgres.url, "--symbols", "SPY", "--max-steps", "1", "--policy", "hold")
    assert again.process.wait(120) == 0
    resumed = next(line for line in again.output().splitlines() if "books from journal" in line)
    assert f"{counts['bot-spy']} fills replayed" in resumed and f"cash ${books.cash:,.2f}" in resumed
    assert PASSWORD not in again.output() and "postgresql://tradingbot:***@" in resumed

    listing = tradingbot("trades", "--format", "json", "--bot", "bot-qqq", env={"JOURNAL": postgres.url})
    assert listing.returncode == 0, listing.stderr
    assert {t["underlying"] for t in json.loads(listing.stdout)} == {"QQQ"}


def test_a_wrong_password_is_a_clear_start_error_without_the_password(postgres, tmp_path):
    wrong = postgres.url.replace(PASSWORD, "not-the-password")
    bot = run_bot(tmp_path, "bot-x", wrong, "--max-steps", "1")
    assert bot.process.wait(120) == 2
    output = bot.output()
    assert (
        "cannot open a PostgreSQL journal" in output and "not-the-password" not in output and "Traceback" not in output
    )
