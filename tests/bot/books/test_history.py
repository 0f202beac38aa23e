"""Reading the books: ``GET /trades`` (paged, bounded) and ``tradingbot trades`` (table, CSV, JSON, filters)."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from bot_process import SMALL_AGENT, BotProcess, tradingbot

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def traded(tmp_path_factory):
    """A bot that traded a while and still serves; its journal's path."""
    directory = tmp_path_factory.mktemp("traded")
    journal = directory / "journal.sqlite"
    bot = BotProcess(
        [
            *SMALL_AGENT,
            "--policy",
            "random",
            "--steps-per-day",
            "26",
            "--step-interval",
            "0.002",
            "--journal",
            str(journal),
        ],
        directory / "bot.log",
        env={"CHECKPOINT_DIR": str(directory / "ck")},
    )
    bot.wait_for(lambda s: s["journal"]["last_seq"] >= 120, what="120 fills")
    yield bot, journal
    assert bot.stop() == 0


def trades_cli(*args):
    return tradingbot("trades", *args)


def test_trades_pages_through_every_committed_fill_in_order(traded):
    bot, _ = traded
    seen, after = [], 0
    while after is not None and len(seen) < 100:
        code, body = bot.get(f"/trades?after={after}&limit=7")
        assert code == 200
        page = json.loads(body)
        assert len(page["trades"]) <= 7 and page["limit"] == 7
        seen += page["trades"]
        after = page["next_after"]
    assert [t["seq"] for t in seen] == list(range(1, len(seen) + 1))
    first = seen[0]
    assert first["kind"] == "buy" and first["price_source"] == "ask" and first["multiplier"] == 100
    cost = first["price"] * 100 * first["quantity"] + first["commission"] + first["fees"]
    assert first["cash_delta"] == pytest.approx(-cost)


@pytest.mark.parametrize("query", ["limit=0", "limit=1001", "after=-1", "after=abc", "limit=1e3"])
def test_bad_page_parameters_are_a_400_with_the_reason(traded, query):
    bot, _ = traded
    code, body = bot.get(f"/trades?{query}")
    assert code == 400 and json.loads(body)["error"]


def test_the_cli_prints_the_journal_as_a_table_csv_and_json(traded):
    _, journal = traded
    table = trades_cli("--journal", str(journal), "--limit", "5")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split() == [
        "seq",
        "time_et",
        "step",
        "kind",
        "quantity",
        "ticker",
        "price",
        "fees",
        "cash_delta",
        "realized_pnl",
        "price_source",
    ]
    assert len(lines) == 6 and lines[1].split()[0] == "1"
    rows = list(
        csv.DictReader(io.StringIO(trades_cli("--journal", str(journal), "--format", "csv", "--symbol", "QQQ").stdout))
    )
    assert rows and all(r["ticker"].startswith("O:QQQ") for r in rows)
    everything = json.loads(trades_cli("--journal", str(journal), "--format", "json").stdout)
    assert [t["seq"] for t in everything] == list(range(1, len(everything) + 1))
    later = everything[len(everything) // 2]["timestamp_ms"]
    since = json.loads(trades_cli("--journal", str(journal), "--format", "json", "--since", _iso(later)).stdout)
    assert since and all(t["timestamp_ms"] >= later for t in since) and len(since) < len(everything)


def _iso(timestamp_ms: int) -> str:
    from tradingbot.market.clock import eastern  # noqa: PLC0415

    return eastern(timestamp_ms).replace(tzinfo=None).isoformat()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--journal", "/nonexistent/journal.sqlite"], "no journal at"),
        (["--journal", "JOURNAL_FILE", "--bot", "other"], "name the bot with --bot"),
        (["--journal", "JOURNAL_FILE", "--since", "yesterday"], "--since takes"),
    ],
)
def test_cli_errors_are_clear_and_exit_2(traded, args, message):
    _, journal = traded
    done = trades_cli(*(str(journal) if a == "JOURNAL_FILE" else a for a in args))
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr


def test_resuming_with_another_capital_keeps_the_accounts_opening_and_says_so(tmp_path):
    args = [*SMALL_AGENT, "--policy", "random", "--steps-per-day", "26", "--journal", str(tmp_path / "j.sqlite")]
    first = BotProcess([*args, "--max-steps", "60", "--capital", "100000"], tmp_path / "first.log")
    assert first.process.wait(120) == 0
    second = BotProcess([*args, "--max-steps", "1", "--capital", "50000", "--policy", "hold"], tmp_path / "second.log")
    assert second.process.wait(120) == 0
    output = second.output()
    assert "INITIAL_CAPITAL is $50,000.00 but this account opened with $100,000.00" in output
    line = next(line for line in output.splitlines() if "stopped after" in line)
    match = re.search(r"value \$([\d,.]+), P&L ([-+])\$([\d,.]+)", line)
    assert match is not None, line
    value, sign, pnl = float(match[1].replace(",", "")), match[2], float(match[3].replace(",", ""))
    assert (pnl if sign == "+" else -pnl) == pytest.approx(value - 100_000, abs=0.01)  # against the opening
