"""A real bot against a feed that misbehaves as real feeds do, served on 127.0.0.1 by ``serve-market``'s
server with its faults switched on and off while the bot runs. What a trader needs: no entry on data it
cannot trust, ``/ready`` saying why, memory that stays bounded, and the documented exit on a refused key."""

from __future__ import annotations

import json
import re
import sqlite3
import time
from pathlib import Path

import pytest

from bot_process import SMALL_AGENT, BotProcess
from market_thread import KEY, MarketThread
from volumes import fill_up

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
STEP_S = 0.2
MAX_AGE_S = 10


def start_bot(market: MarketThread, tmp_path: Path, *extra: str) -> BotProcess:
    return BotProcess(
        [
            *market.bot_args(), "--symbols", "SPY", "--policy", "random", "--seed", "5",
            "--step-interval", str(STEP_S), "--max-data-age", str(MAX_AGE_S), "--chain-refresh", "1",
            "--checkpoint-dir", str(tmp_path / "ck"), "--journal", str(tmp_path / "journal.sqlite"), *extra,
        ],
        tmp_path / "bot.log",
        env={"MASSIVE_API_KEY": KEY},
    )  # fmt: skip


def ready(bot: BotProcess) -> tuple[int, dict]:
    code, body = bot.get("/ready")
    return code, (json.loads(body) if body else {})


def wait(check, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while not (result := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)
    return result


def buys_after(bot: BotProcess, unix: float) -> list[dict]:
    page = json.loads(bot.get("/trades?limit=1000")[1])["trades"]
    return [t for t in page if t["kind"] == "buy" and t["recorded_unix"] > unix]


def test_future_stamps_and_silence_stop_entries_within_the_data_age_and_ready_says_why(tmp_path):
    with MarketThread() as market:
        bot = start_bot(market, tmp_path)
        try:
            bot.wait_for(lambda s: s["portfolio"]["trades"] > 5, what="trading on good data")
            market.faults.future_ms = 3_600_000  # an hour ahead: refused at once (beyond the 5 s tolerance)
            _, body = wait(lambda: (r := ready(bot))[0] == 503 and r, 10, "/ready to refuse future stamps")
            assert any("in the future" in reason for reason in body["reasons"])
            time.sleep(2)
            market.faults.stall = True  # then silence
            silent_since = time.time()
            wait(lambda: ready(bot)[0] == 503, 5, "/ready while silent")
            time.sleep(MAX_AGE_S + 3)
            assert not buys_after(bot, silent_since + MAX_AGE_S + STEP_S + 1.0)
            assert not buys_after(bot, silent_since + 1.0)  # future-stamped data bought nothing either
            market.faults.future_ms, market.faults.stall = 0, False
            wait(lambda: ready(bot)[0] == 200, 60, "/ready back once good data returns")
        finally:
            assert bot.stop() == 0, bot.output()[-3000:]


@pytest.mark.parametrize(("fault", "reason"), [("one_sided", "one-sided: no bid"), ("crossed", "crossed or locked")])
def test_a_bad_underlying_quote_stops_entries_and_ready_says_which(tmp_path, fault, reason):
    with MarketThread() as market:
        bot = start_bot(market, tmp_path)
        try:
            bot.wait_for(lambda s: s["portfolio"]["trades"] > 5, what="trading on good data")
            setattr(market.faults, fault, True)
            _, body = wait(lambda: (r := ready(bot))[0] == 503 and r, 10, f"/ready to refuse {fault} quotes")
            assert any(reason in r for r in body["reasons"])
            since = time.time()
            status = bot.wait_for(lambda s: reason in s["data"]["SPY"] and s, 10, what="/status data")
            time.sleep(2)
            assert not buys_after(bot, since + STEP_S + 0.5)
            setattr(market.faults, fault, False)
            wait(lambda: ready(bot)[0] == 200, 20, "/ready back")
            assert status["data"]["SPY"].startswith("SPY: ")
        finally:
            assert bot.stop() == 0, bot.output()[-3000:]


def test_a_looping_next_url_fails_the_refresh_clearly_and_memory_stays_bounded(tmp_path):
    with MarketThread() as market:
        market.faults.next_url_loop = True
        bot = start_bot(market, tmp_path)
        try:
            status = bot.wait_for(lambda s: s["feed"].get("last_chain_error"), 60, what="a failed chain refresh")
            assert "pagination loop" in status
            code, body = ready(bot)
            assert code == 503 and any("no option chain" in r for r in body["reasons"])
            rss = rss_mb(bot)
            time.sleep(5)
            assert rss_mb(bot) < rss + 50  # no runaway fetch (it reached 4 GB in 80 s before)
        finally:
            assert bot.stop() == 0, bot.output()[-3000:]
    assert "next_url repeats an earlier page" in bot.output()


def rss_mb(bot: BotProcess) -> float:
    status = Path(f"/proc/{bot.process.pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024


def test_a_flood_of_unsubscribed_symbols_is_dropped_and_memory_stays_bounded(tmp_path):
    with MarketThread() as market:
        bot = start_bot(market, tmp_path)
        try:
            bot.wait_for(lambda s: s["portfolio"]["trades"] > 5, what="trading")
            before = rss_mb(bot)
            market.faults.flood_unsubscribed = 400  # new names every 50 ms, on both clusters: 16,000 a second
            flooded = bot.wait_for(
                lambda s: s["feed"].get("unsubscribed_dropped", 0) > 200_000 and s, 90, what="a flood"
            )
            after = rss_mb(bot)
            assert after < before + 60, f"RSS grew from {before:.0f} MB to {after:.0f} MB"
            assert flooded["steps"] > 0 and ready(bot)[0] == 200  # the bot kept trading through it
        finally:
            market.faults.flood_unsubscribed = 0
            assert bot.stop() == 0, bot.output()[-3000:]


def test_a_key_refused_mid_run_exits_2_after_a_final_checkpoint(tmp_path):
    with MarketThread() as market:
        bot = start_bot(market, tmp_path, "--policy", "ppo", *SMALL_AGENT, "--save-frequency", "1000000")
        bot.wait_for(lambda s: s["steps"] > 10, what="trading")

        async def refuse_and_evict(server):
            server.api_keys.clear()
            await server.evict_all("force_disconnect", "maintenance")

        market.call(refuse_and_evict)
        assert bot.process.wait(60) == 2
    output = bot.output()
    assert "Traceback" not in output and "Event loop is closed" not in output
    assert "final checkpoint saved" in output
    errors = [line for line in output.splitlines() if " ERROR " in line]
    assert len(errors) == 1 and "stopped: the market feed failed" in errors[0]
    assert "refused the API key" in errors[0] or "HTTP 401" in errors[0]
    assert KEY not in output
    with sqlite3.connect(tmp_path / "journal.sqlite") as db:
        (booked,) = db.execute("SELECT count(*) FROM fills WHERE kind IN ('buy', 'sell')").fetchone()
    assert re.search(r"stopped after \d+ steps \(the market feed failed\): .*, (\d+) trades", output)[1] == str(booked)


def test_a_rest_401_mid_run_exits_2_too(tmp_path):
    with MarketThread() as market:
        bot = start_bot(market, tmp_path)
        bot.wait_for(lambda s: s["steps"] > 10, what="trading")

        async def refuse(server):
            server.api_keys.clear()  # the stream's sessions stay; the next chain refresh (every 1 s) gets a 401

        market.call(refuse)
        assert bot.process.wait(60) == 2
    errors = [line for line in bot.output().splitlines() if " ERROR " in line]
    assert len(errors) == 1 and "HTTP 401" in errors[0] and "Traceback" not in bot.output()


def test_a_recording_that_cannot_be_written_stops_and_the_feed_goes_on(tmp_path, tmpfs):
    volume = tmpfs("recordings", size="1m")
    with MarketThread() as market:
        bot = start_bot(market, tmp_path, "--record", str(volume / "session.jsonl.gz"))
        try:
            bot.wait_for(lambda s: s["steps"] > 5, what="trading while recording")
            fill_up(volume)
            failed = bot.wait_for(
                lambda s: (s["feed"].get("recording") or {}).get("failed") and s, 60, what="a full disk"
            )
            assert "No space left on device" in failed["feed"]["recording"]["failed"]
            later = bot.wait_for(lambda s: s["steps"] > failed["steps"] + 20 and s, 30, what="more steps")
            assert later["feed"]["connected"] and ready(bot)[0] == 200  # the feed never went down
        finally:
            assert bot.stop() == 0, bot.output()[-3000:]
    assert "recording to" in bot.output() and "the live feed goes on" in bot.output()
