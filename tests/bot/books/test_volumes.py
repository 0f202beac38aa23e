"""Real volumes that fail as real ones do: a small tmpfs filled up, a read-only mount. The bot trades on
while its checkpoints cannot be saved, stops trading (and says why) while its journal cannot book, and
recovers by itself once space is freed. Mounting needs root: CI runs as root; elsewhere these skip."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot_process import SMALL_AGENT, BotProcess
from volumes import fill_up

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
ARGS = ("--step-interval", "0.01", "--update-frequency", "20", "--steps-per-day", "26", *SMALL_AGENT)


def checkpoints(status: dict) -> dict:
    return status.get("checkpoints") or {}


def saving_bot(volume: Path, tmp_path: Path) -> BotProcess:
    """A bot that saves every 25 steps into ``volume``, its journal elsewhere."""
    args = ["--save-frequency", "25", "--checkpoint-dir", str(volume), "--journal", str(tmp_path / "journal.sqlite")]
    return BotProcess([*ARGS, *args], tmp_path / "bot.log")


def test_a_full_checkpoint_volume_is_reported_trading_goes_on_and_saves_resume_when_space_returns(tmp_path, tmpfs):
    volume = tmpfs("checkpoints")
    filler = fill_up(volume)
    bot = saving_bot(volume, tmp_path)
    try:
        failing = bot.wait_for(lambda s: checkpoints(s).get("failures", 0) >= 2 and s, what="failed saves")
        assert "No space left on device" in checkpoints(failing)["last_error"]
        trades = failing["portfolio"]["trades"]
        later = bot.wait_for(lambda s: s["steps"] > failing["steps"] + 50 and s, what="more steps")
        assert later["portfolio"]["trades"] > trades  # trading goes on
        _, metrics = bot.get("/metrics")
        assert "trading_bot_checkpoint_failures_total" in metrics
        filler.unlink()
        saved = bot.wait_for(lambda s: checkpoints(s).get("saves", 0) >= 1 and s, what="a save after space returned")
        assert checkpoints(saved)["last_error"] is None
        assert list(volume.glob("checkpoint-*.pt"))
    finally:
        assert bot.stop() == 0, bot.output()[-2000:]
    assert "Traceback" not in bot.output()


def test_a_read_only_checkpoint_volume_is_reported_and_trading_goes_on(tmp_path, tmpfs):
    volume = tmpfs("read-only", read_only=True)
    bot = saving_bot(volume, tmp_path)
    try:
        failing = bot.wait_for(lambda s: checkpoints(s).get("failures", 0) >= 2 and s, what="failed saves")
        assert "Read-only file system" in checkpoints(failing)["last_error"]
        bot.wait_for(lambda s: s["portfolio"]["trades"] > failing["portfolio"]["trades"], what="more trades")
    finally:
        assert bot.stop() == 0, bot.output()[-2000:]


def test_a_full_journal_volume_stops_trading_says_why_and_resumes_with_exact_books(tmp_path, tmpfs):
    volume = tmpfs("journal", size="2m")
    journal = volume / "journal.sqlite"
    bot = BotProcess(
        [*ARGS, "--save-frequency", "1000000", "--checkpoint-dir", str(tmp_path / "ck"), "--journal", str(journal)],
        tmp_path / "bot.log",
    )
    try:
        bot.wait_for(lambda s: s["portfolio"]["trades"] > 20, what="some trades")
        filler = fill_up(volume)
        blocked = bot.wait_for(lambda s: (s.get("journal") or {}).get("blocked") and s, what="a blocked journal")
        code, body = bot.get("/ready")
        assert code == 503 and "trade journal refuses writes" in body
        trades = blocked["portfolio"]["trades"]
        paused = bot.wait_for(lambda s: s["steps"] > blocked["steps"] + 50 and s, what="steps while blocked")
        assert paused["portfolio"]["trades"] == trades  # nothing traded while nothing could be booked
        assert paused["journal"]["failures"] >= 1
        filler.unlink()
        resumed = bot.wait_for(
            lambda s: not s["journal"]["blocked"] and s["portfolio"]["trades"] > trades and s, what="trading again"
        )
        assert bot.get("/ready")[0] == 200
        assert resumed["journal"]["last_error"] is None
    finally:
        assert bot.stop() == 0, bot.output()[-2000:]
    output = bot.output()
    assert "trading pauses until the journal takes writes again" in output and "trading resumes" in output
    # and the books the bot ended with are the journal's: a replay of it reports the same account
    replay = BotProcess(
        ["--policy", "hold", "--max-steps", "1", "--checkpoint-dir", str(tmp_path / "ck"), "--journal", str(journal)],
        tmp_path / "replay.log",
    )
    assert replay.process.wait(120) == 0
    assert summary(replay.output()) == summary(output)


def summary(output: str) -> str:
    """The trades and win rate in a run's last line (a step of hold changes neither; marks may move)."""
    line = [line for line in output.splitlines() if "stopped after" in line][-1]
    return line.split("P&L ", 1)[1].split(", ", 1)[1].split(", total reward")[0]
