"""The bot's HTTP endpoints, from a real bot process as Kubernetes and Prometheus see it."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import time
import urllib.error
import urllib.request

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot_process import BotProcess
from tiny import TINY_FLAGS
from tradingbot.agent.checkpoint import checkpoint_name
from tradingbot.config import load_settings
from tradingbot.service.metrics import BotMetrics
from tradingbot.service.server import make_app
from tradingbot.service.status import BotStatus, health, public_settings, readiness

SECRETS = {"S3_ACCESS_KEY": "AKIATESTLEAKCHECK001", "S3_SECRET_KEY": "tOpSeCrEt/ValueThatMustNotLeak42"}


def get(port, path):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.fixture
def bot(tmp_path):
    args = ["--step-interval", "0.005", "--checkpoint-dir", str(tmp_path), *TINY_FLAGS, "--log-level", "DEBUG"]
    bot = BotProcess([*args, "--update-frequency", "50", "--save-frequency", "60"], tmp_path / "bot.log", SECRETS)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and bot.get("/ready")[0] != 200:
        time.sleep(0.2)
    yield bot.process, bot.port, bot.log
    if bot.process.poll() is None:
        bot.process.kill()
        bot.process.wait(10)


def test_endpoints_serve_health_readiness_status_and_metrics_without_secrets(bot):
    proc, port, log = bot
    time.sleep(3)  # let it train and checkpoint
    bodies = {}
    for path in ("/health", "/ready", "/status", "/metrics"):
        status, body = get(port, path)
        assert status == 200, (path, body)
        bodies[path] = body
    document = json.loads(bodies["/status"])
    assert (
        document["bot"]["policy"] == "ppo"
        and document["config"]["s3_access_key"] == document["config"]["s3_secret_key"] == "set"
    )
    assert {"cash", "value", "positions", "realized_pnl", "unrealized_pnl", "win_rate", "trades"} <= set(
        document["portfolio"]
    )
    assert document["training"]["updates"] >= 1 and document["checkpoints"]["saves"] >= 1
    assert document["feed"]["connected"] and document["uptime_s"] > 0
    for name in (
        "trading_bot_portfolio_value",
        "trading_bot_win_rate",
        "trading_bot_trades_total",
        "trading_bot_reward_total",
        "trading_bot_decision_latency_seconds_bucket",
    ):
        assert name in bodies["/metrics"]

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    logs = log.read_text()
    assert "fill buy" in logs  # DEBUG logs every fill
    final_step = int(re.search(r"stopped after (\d+) steps \(signal\)", logs).group(1))
    assert (log.parent / checkpoint_name(final_step)).exists()  # the last step is checkpointed, just now or before
    for secret in SECRETS.values():
        for text in (*bodies.values(), logs):
            assert secret not in text
            assert secret[:8] not in text  # not even partially


def test_health_fails_when_the_loop_stalls():
    status = BotStatus(started=100.0, heartbeat=150.0, last_market_data=150.0, feed_connected=True)
    assert health(status, now=200.0, stall_s=60)[0]
    ok, body = health(status, now=211.0, stall_s=60)
    assert not ok and body["status"] == "stuck"
    assert health(BotStatus(100.0, None, None, True), now=130.0, stall_s=60)[0]  # still starting


def test_readiness_flips_with_data_freshness_and_says_why():
    fresh = BotStatus(100.0, 150.0, 150.0, True)
    assert readiness(fresh, now=160.0, max_data_age_s=120)[0]
    ok, body = readiness(fresh, now=300.0, max_data_age_s=120)
    assert not ok and "market data is 150 s old" in body["reasons"][0]
    recovered = BotStatus(100.0, 299.0, 299.0, True)
    assert readiness(recovered, now=300.0, max_data_age_s=120)[0]
    ok, body = readiness(BotStatus(100.0, None, None, False), now=101.0, max_data_age_s=120)
    assert not ok and set(body["reasons"]) == {"market feed not connected", "no market data yet"}


def test_public_settings_never_contain_credentials():
    settings = load_settings(SECRETS)
    text = json.dumps(public_settings(settings))
    assert all(secret not in text for secret in SECRETS.values()) and '"s3_secret_key": "set"' in text


def test_the_ready_route_flips_to_503_when_data_goes_stale_and_back_when_it_recovers():
    clock = {"now": 1000.0}
    current = {"status": BotStatus(900.0, 990.0, 990.0, True)}
    app = make_app(
        lambda: current["status"], BotMetrics(("SPY",)), stall_s=60, max_data_age_s=120, clock=lambda: clock["now"]
    )

    async def scenario():
        async with TestClient(TestServer(app)) as client:
            assert (await client.get("/ready")).status == 200
            clock["now"] = 1200.0  # no data for 210 s
            stale = await client.get("/ready")
            assert stale.status == 503 and "old" in (await stale.json())["reasons"][0]
            assert (await client.get("/health")).status == 503  # and no step either
            current["status"] = BotStatus(900.0, 1199.0, 1199.0, True)
            assert (await client.get("/ready")).status == 200
            assert (await client.get("/health")).status == 200
            metrics = await client.get("/metrics")
            assert metrics.status == 200 and metrics.content_type == "text/plain"

    asyncio.run(scenario())
