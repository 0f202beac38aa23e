"""The contract between the operator and the bot, checked from both sides: the environment, mounted
paths, port and probe paths the operator renders are what the bot reads and serves, and the operator
understands the bot's /status."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tradingbot.build import build_trader
from tradingbot.config import Settings, load_settings, setting_sources
from tradingbot.service.metrics import BotMetrics
from tradingbot.service.server import make_app
from tradingbot.service.status import BotStatus, status_document
from tradingbot.snapshot import snapshot
from tradingbot_operator import builders
from tradingbot_operator import identity as ids
from tradingbot_operator.botstatus import parse_status
from tradingbot_operator.spec import parse_spec

ROOT = Path(__file__).resolve().parents[2]
OWNER = builders.Owner("options-bot", "trading", "uid-1")
SPECS = {
    "minimal": {"symbols": ["SPY"]},
    "massive": {
        "symbols": ["SPY", "QQQ"],
        "marketData": {
            "source": "massive",
            "feed": "delayed",
            "decisionIntervalSeconds": 30,
            "credentialsSecretRef": {"name": "massive"},
        },
    },
    "replay": {"symbols": ["SPY"], "marketData": {"source": "replay", "replayFile": "sessions/monday.jsonl.gz"}},
    "seed": {"symbols": ["SPY", "QQQ"], "gpu": {"count": 1}, "suspend": True, "logLevel": "DEBUG"},
    "s3": {
        "symbols": ["AAPL"],
        "initialCapital": 2500,
        "updateFrequency": 10000,
        "saveFrequency": 1,
        "risk": {"maxDrawdownPercent": 100},
        "marketData": {"simulatorPreset": "trending", "seed": 4294967295},
        "s3": {
            "bucket": "bots",
            "endpoint": "https://s3.example.com",
            "prefix": "p",
            "credentialsSecretRef": {"name": "s"},
        },
    },
}


def pod_environment(spec: dict) -> dict[str, str]:
    """What the container sees: the ConfigMap plus each secretKeyRef (as a stand-in value)."""
    parsed = parse_spec(OWNER.name, spec)
    env = dict(builders.config_map(OWNER, parsed)["data"])
    env.update({e["name"]: f"secret-{e['name'].lower()}" for e in builders.secret_environment(parsed)})
    return env


@pytest.mark.parametrize("name", SPECS)
def test_the_rendered_environment_parses_in_the_bots_config(name):
    spec = parse_spec(OWNER.name, SPECS[name])
    settings = load_settings(pod_environment(SPECS[name]))
    assert settings.symbols == spec.symbols and settings.initial_capital == spec.initial_capital
    assert (settings.update_frequency, settings.save_frequency) == (spec.update_frequency, spec.save_frequency)
    assert settings.log_level == spec.log_level and settings.suspend is spec.suspend
    assert settings.max_drawdown_pct == spec.risk.max_drawdown_percent and settings.bot_name == OWNER.name
    assert settings.policy == "ppo" and settings.device == ("auto" if spec.gpu.count else "cpu")
    assert settings.gpu_count == spec.gpu.count
    assert settings.http_port == ids.HTTP_PORT
    mounts = {
        m["mountPath"]
        for m in builders.deployment(OWNER, spec)["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
    }
    for path in (settings.checkpoint_dir, settings.model_dir, settings.log_dir, settings.control_dir):
        assert str(path) in mounts


def test_every_setting_the_pod_needs_is_set():
    required = {setting_sources()[n][0] for n, f in Settings.model_fields.items() if f.is_required()}
    # a pod also needs its volumes, port and name wired, whatever the bot's local defaults are
    required |= {
        "SYMBOLS",
        "HTTP_PORT",
        "HTTP_HOST",
        "CHECKPOINT_DIR",
        "MODEL_DIR",
        "LOG_DIR",
        "CONTROL_DIR",
        "BOT_NAME",
    }
    for spec in SPECS.values():
        assert required <= set(pod_environment(spec))


def test_probe_paths_and_port_are_served_by_the_bot():
    deployment = builders.deployment(OWNER, parse_spec(OWNER.name, SPECS["minimal"]))
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    (port,) = container["ports"]
    assert port["containerPort"] == ids.HTTP_PORT == Settings.model_fields["http_port"].default
    paths = {container[p]["httpGet"]["path"] for p in ("livenessProbe", "readinessProbe", "startupProbe")}
    app = make_app(_status, BotMetrics(("SPY",)), 60.0, 120.0)
    app_paths = {route.resource.canonical for route in app.router.routes() if route.resource}
    assert paths | {"/status", "/metrics"} <= app_paths


def _status() -> BotStatus:
    return BotStatus(0.0, None, None, True, {})


def test_the_operator_reads_the_figures_of_a_real_status_document(tmp_path):
    environment = pod_environment(SPECS["minimal"])
    environment.update(CHECKPOINT_DIR=str(tmp_path / "checkpoints"), MODEL_DIR=str(tmp_path / "models"))
    settings = load_settings(environment)
    trader = build_trader(settings)
    for _ in range(30):
        trader.tick()
    document = json.loads(json.dumps(status_document(settings, snapshot(trader), [0], 1767225600.0)))
    live = parse_status(document)
    portfolio = trader.env.portfolio
    assert live.portfolio_value == f"{portfolio.value:.2f}" and live.trades == portfolio.trades
    assert live.last_checkpoint_time == "2026-01-01T00:00:00Z" and live.risk_halted is False


def test_the_operator_never_imports_the_bot_or_torch():
    code = (
        "import sys, tradingbot_operator;"
        "bad = sorted({m.split('.')[0] for m in sys.modules} & {'tradingbot', 'torch', 'numpy', 'scipy', 'boto3'});"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    env = {"PYTHONPATH": str(ROOT / "operator"), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "torch==" not in (ROOT / "Dockerfile.operator").read_text()
