"""``tradingbot run --source massive`` end to end against ``tradingbot serve-market``, recording the
session, and ``--source replay`` reproducing it exactly."""

from __future__ import annotations

import gzip
import json
import re
import signal
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from bot_process import spawn, tradingbot

KEY = "e2e-key-71c0d"
pytestmark = pytest.mark.timeout(180)


def get(port: int, path: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def wait_for(check, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            result = check()
        except (urllib.error.URLError, ConnectionError, OSError):
            result = None
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


@pytest.fixture
def market_server(tmp_path, free_tcp_port):
    port = free_tcp_port()
    server = spawn(
        ["serve-market", "--port", str(port), "--symbols", "SPY", "--interval", "0.05"],
        tmp_path / "server.log",
        {"MASSIVE_API_KEY": KEY},
    )
    wait_for(lambda: "serving the Massive protocol" in (tmp_path / "server.log").read_text(), 30, "serve-market")
    yield port
    server.send_signal(signal.SIGTERM)
    server.wait(20)


def unready(port: int) -> dict | None:
    """The /ready body while it answers 503, else None."""
    code, body = get(port, "/ready")
    return body if code == 503 else None


def summary(log: Path) -> str:
    (line,) = re.findall(r"stopped after .*", log.read_text())
    return line


def massive_args(server_port: int) -> list[str]:
    """Point ``tradingbot run`` at ``serve-market`` on 127.0.0.1."""
    base = f"127.0.0.1:{server_port}"
    return ["--source", "massive", "--massive-ws-url", f"ws://{base}", "--massive-rest-url", f"http://{base}"]


def run_args(tmp_path: Path, name: str, http_port: int, *extra: str) -> list[str]:
    return [
        "run",
        "--symbols",
        "SPY",
        "--policy",
        "random",
        "--seed",
        "7",
        "--host",
        "127.0.0.1",
        "--port",
        str(http_port),
        "--checkpoint-dir",
        str(tmp_path / name),
        *extra,
    ]


def test_massive_end_to_end_then_an_exact_replay(tmp_path, market_server, free_tcp_port):
    recording = tmp_path / "session.jsonl.gz"
    http_port = free_tcp_port()
    bot_log = tmp_path / "live.log"
    bot = spawn(
        run_args(
            tmp_path,
            "live",
            http_port,
            *massive_args(market_server),
            "--step-interval",
            "0.1",
            "--max-steps",
            "60",
            "--record",
            str(recording),
        ),
        bot_log,
        {"MASSIVE_API_KEY": KEY},
    )
    ready = wait_for(lambda: get(http_port, "/ready")[0] == 200, 60, "/ready on live data")
    assert ready
    status = get(http_port, "/status")[1]
    assert status["feed"]["source"] == "massive" and status["feed"]["connected"] is True
    assert status["feed"]["events"]["quote"] > 0 and status["config"]["massive_api_key"] == "set"
    metrics = urllib.request.urlopen(f"http://127.0.0.1:{http_port}/metrics", timeout=5).read().decode()
    assert re.search(r'trading_bot_market_events_total\{type="quote"\} [1-9]', metrics)
    assert bot.wait(120) == 0, bot_log.read_text()[-3000:]
    live = summary(bot_log)
    assert "stopped after 60 steps" in live and not re.search(r", 0 trades", live), live
    text = bot_log.read_text()
    assert KEY not in text and "Traceback" not in text

    with gzip.open(recording, "rt") as lines:
        entries = [json.loads(line) for line in lines]
    kinds = {e["c"] for e in entries}
    assert {"stocks", "options", "rest"} <= kinds
    assert not any(KEY in json.dumps(e) for e in entries)

    def replay(name: str) -> str:
        log = tmp_path / f"{name}.log"
        process = spawn(
            run_args(
                tmp_path,
                name,
                free_tcp_port(),
                "--source",
                "replay",
                "--replay-file",
                str(recording),
                "--replay-step",
                "0.5",
            ),
            log,
        )
        assert process.wait(120) == 0, log.read_text()[-3000:]
        assert "the recording is over" in log.read_text()
        return summary(log)

    first, second = replay("replay-1"), replay("replay-2")
    assert first == second and " 0 trades" not in first


def test_a_refused_key_is_a_clear_start_error(tmp_path, market_server, free_tcp_port):
    log = tmp_path / "refused.log"
    bot = spawn(
        run_args(
            tmp_path,
            "refused",
            free_tcp_port(),
            *massive_args(market_server),
            "--max-steps",
            "5",
        ),
        log,
        {"MASSIVE_API_KEY": "not-the-key-9"},
    )
    assert bot.wait(60) == 2
    text = log.read_text()
    assert "refused the API key" in text and "not-the-key-9" not in text and "Traceback" not in text


def test_a_missing_key_or_replay_file_is_a_settings_error(tmp_path):
    for args, message in (
        (["--source", "massive"], "MASSIVE_API_KEY"),
        (["--source", "replay"], "--replay-file"),
        (["--source", "replay", "--replay-file", str(tmp_path / "none.gz")], "cannot read the recording"),
    ):
        done = tradingbot("run", *args, "--checkpoint-dir", str(tmp_path), unset=("MASSIVE_API_KEY",))
        assert done.returncode == 2 and message in done.stdout + done.stderr, done.stdout + done.stderr


def test_readiness_follows_the_feed_through_an_outage(tmp_path, free_tcp_port):
    port, http_port = free_tcp_port(), free_tcp_port()
    server_args = ["serve-market", "--port", str(port), "--symbols", "SPY", "--interval", "0.05"]
    server = spawn(server_args, tmp_path / "server-1.log", {"MASSIVE_API_KEY": KEY})
    bot_log = tmp_path / "bot.log"
    bot = spawn(
        run_args(
            tmp_path,
            "outage",
            http_port,
            *massive_args(port),
            "--step-interval",
            "0.1",
            "--max-data-age",
            "3",
        ),
        bot_log,
        {"MASSIVE_API_KEY": KEY},
    )
    try:
        wait_for(lambda: get(http_port, "/ready")[0] == 200, 60, "ready")
        server.send_signal(signal.SIGTERM)
        server.wait(20)
        body = wait_for(lambda: unready(http_port), 30, "not ready")
        assert "market feed not connected" in body["reasons"]
        assert get(http_port, "/health")[0] == 200  # the loop goes on: not a liveness failure
        server = spawn(server_args, tmp_path / "server-2.log", {"MASSIVE_API_KEY": KEY})
        wait_for(lambda: get(http_port, "/ready")[0] == 200, 60, "ready after the outage")
        assert get(http_port, "/status")[1]["feed"]["reconnects"] >= 1
    finally:
        bot.send_signal(signal.SIGTERM)
        assert bot.wait(60) == 0, bot_log.read_text()[-3000:]
        server.send_signal(signal.SIGTERM)
        server.wait(20)
    assert KEY not in bot_log.read_text()
