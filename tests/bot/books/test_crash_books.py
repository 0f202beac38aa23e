"""SIGKILL the bot at random moments, 30 times, with checkpoints far apart: after every restart its books
equal an independent replay of the journal, to the cent, and no fill is lost or counted twice."""

from __future__ import annotations

import random
import re
import sqlite3

import pytest

from bot_process import SMALL_AGENT, killed_while_trading, tradingbot

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]
CAPITAL = 100_000.0
ARGS = [
    "--steps-per-day", "26", "--update-frequency", "20", "--save-frequency", "1000000", *SMALL_AGENT,
    "--log-interval", "0.05", "--host", "127.0.0.1", "--port", "0", "--capital", str(int(CAPITAL)),
]  # fmt: skip
BOOKS = re.compile(
    r"books from journal \S+: (\d+) fills replayed in \S+ s, cash \$([\d,.]+), (\d+) positions, (\d+) trades"
)


def independent_books(path) -> dict:
    """The account as plain SQL over the journal's rows sees it, without the bot's code."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        rows = db.execute(
            "SELECT seq, step, ticker, kind, quantity, cash_delta, realized_pnl FROM fills ORDER BY seq"
        ).fetchall()
    seqs = [r[0] for r in rows]
    assert seqs == list(range(1, len(rows) + 1)), "fills are numbered 1, 2, 3, … with none missing or repeated"
    assert [r[1] for r in rows] == sorted(r[1] for r in rows), "steps never go back"
    held: dict[str, int] = {}
    for _, _, ticker, kind, quantity, _, _ in rows:
        held[ticker] = held.get(ticker, 0) + (quantity if kind == "buy" else -quantity)
    assert all(q >= 0 for q in held.values()), "long options only"
    closes = [r for r in rows if r[3] != "buy"]
    return {
        "rows": rows,
        "fills": len(rows),
        "cash": CAPITAL + sum(r[5] for r in rows),
        "positions": sum(1 for q in held.values() if q),
        "trades": sum(1 for r in rows if r[3] in ("buy", "sell")),
        "closed": len(closes),
        "wins": sum(1 for r in closes if r[6] > 0),
    }


def test_books_survive_sigkill_at_any_moment_exactly(tmp_path):
    journal = tmp_path / "journal.sqlite"
    rng = random.Random(11)
    previous = None
    restarts = 0
    for _ in range(30):
        output = killed_while_trading(
            [*ARGS, "--checkpoint-dir", str(tmp_path), "--journal", str(journal)], rng.uniform(0.0, 1.2)
        )
        assert "Traceback" not in output, output[-3000:]
        if previous is not None:  # what the restarted bot rebuilt, against what the journal held when it started
            match = BOOKS.search(output)
            assert match is not None, output[-2000:]
            fills, cash, positions, trades = match.groups()
            assert int(fills) == previous["fills"] and cash == f"{previous['cash']:,.2f}"
            assert int(positions) == previous["positions"] and int(trades) == previous["trades"]
            restarts += 1
        books = independent_books(journal)
        if previous is not None:
            assert books["rows"][: previous["fills"]] == previous["rows"], "a booked fill changed or vanished"
        previous = books
    assert restarts == 29 and previous["fills"] > 100 and previous["closed"] > 10

    # a last run to a clean stop: its summary agrees with the journal too
    done = tradingbot(
        "run", *ARGS, "--checkpoint-dir", str(tmp_path), "--journal", str(journal), "--policy", "hold",
        "--max-steps", "1", timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    final = independent_books(journal)
    assert f"{final['trades']} trades" in done.stdout
    win_rate = 100 * final["wins"] / final["closed"]
    assert f"win rate {win_rate:.1f}%" in done.stdout
