"""The monitoring flow against the real thing: a real bot, discovered by the production scrape
configuration's relabelling from the labels the operator puts on its pod, scraped every second by a
real Prometheus; every Grafana panel query, every template variable, every recording rule and every
alert's signal must return data, and every alert expression must parse."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import yaml

from prom_support import local_config, pod_discovery_labels
from tradingbot_operator import builders
from tradingbot_operator.spec import parse_spec

pytestmark = pytest.mark.timeout(300)
NAMESPACE, BOT = "trading", "options-bot"
VARIABLES = {"$namespace": NAMESPACE, "$tradingbot": BOT, "$__rate_interval": "10s", "$__range": "1m"}
COMPARISON = re.compile(r"^(?P<signal>.+?)\s*(?:>|<|==|!=|>=|<=)\s*[-+0-9.e]+$", re.DOTALL)


def query(port: int, promql: str) -> dict:
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        return json.loads(error.read())


def api(port: int, path: str) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
        return json.loads(response.read())


def wait_for_data(port: int, promql: str, timeout_s: float = 30.0) -> list:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            answer = query(port, promql)
        except urllib.error.URLError:  # Prometheus is still starting
            answer = {"status": "success", "data": {"result": []}}
        assert answer["status"] == "success", f"{promql}: {answer.get('error')}"
        if answer["data"]["result"]:
            return answer["data"]["result"]
        if time.monotonic() > deadline:
            raise AssertionError(f"no data from {promql!r} within {timeout_s} s")
        time.sleep(0.5)


def start(command: list[str], log: Path, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(command, stdout=log.open("w"), stderr=subprocess.STDOUT, **kwargs)


def test_every_panel_and_alert_returns_data_from_a_live_bot(tmp_path, prometheus_binary, monitoring, free_tcp_port):
    bot_port, prometheus_port = free_tcp_port(), free_tcp_port()
    bot = start(
        [
            sys.executable,
            "-m",
            "tradingbot",
            "run",
            "--host",
            "127.0.0.1",
            "--port",
            str(bot_port),
            "--symbols",
            "SPY,QQQ",
            "--step-interval",
            "0.02",
            "--update-frequency",
            "20",
            "--save-frequency",
            "30",
            "--checkpoint-dir",
            str(tmp_path / "checkpoints"),
            "--max-steps",
            "1000000",
            "--bot-name",
            BOT,
        ],
        tmp_path / "bot.log",
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )
    prometheus = None
    try:
        # the pod the operator would run for this bot, as Kubernetes discovery would describe it
        spec = parse_spec(BOT, {"symbols": ["SPY", "QQQ"]})
        template = builders.deployment(builders.Owner(BOT, NAMESPACE, "uid"), spec)["spec"]["template"]
        bot_pod = pod_discovery_labels(template, NAMESPACE, f"{BOT}-7d9f-x2", "metrics")
        other_port = pod_discovery_labels(template, NAMESPACE, f"{BOT}-7d9f-x2", "debug")
        unlabelled = {**bot_pod, "__meta_kubernetes_pod_label_tradingbot_dev_tradingbot": ""}
        targets = tmp_path / "targets.json"
        targets.write_text(
            json.dumps(
                [
                    {"targets": [f"127.0.0.1:{bot_port}"], "labels": bot_pod},
                    {"targets": [f"127.0.0.1:{free_tcp_port()}"], "labels": other_port},
                    {"targets": [f"127.0.0.1:{free_tcp_port()}"], "labels": unlabelled},
                ]
            )
        )
        rules = monitoring / "prometheus" / "rules.yml"
        production = yaml.safe_load((monitoring / "prometheus" / "prometheus.yml").read_text())
        config = tmp_path / "prometheus.yml"
        config.write_text(yaml.safe_dump(local_config(production, rules, targets)))
        prometheus = start(
            [
                prometheus_binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{prometheus_port}",
            ],
            tmp_path / "prometheus.log",
        )
        wait_for_data(prometheus_port, 'up{job="tradingbots"} == 1', 45)  # discovery takes about 6 s

        active = api(prometheus_port, "/api/v1/targets")["data"]["activeTargets"]
        scraped = [t["labels"] for t in active if t["labels"]["job"] == "tradingbots"]
        assert scraped == [
            {
                "instance": f"127.0.0.1:{bot_port}",
                "job": "tradingbots",
                "namespace": NAMESPACE,
                "pod": f"{BOT}-7d9f-x2",
                "tradingbot": BOT,
            }
        ]

        board = json.loads((monitoring / "grafana" / "dashboards" / "tradingbot.json").read_text())
        for variable in board["templating"]["list"]:
            label, selector = re.fullmatch(r"label_values\((?:(.+), )?(\w+)\)", variable["query"]["query"]).group(2, 1)
            selector = selector.replace("$namespace", NAMESPACE) if selector else None
            values = api(
                prometheus_port, f"/api/v1/label/{label}/values?" + urllib.parse.urlencode({"match[]": selector})
            )
            assert {NAMESPACE, BOT} & set(values["data"]), variable["name"]

        for panel in board["panels"]:
            for target in panel["targets"]:
                promql = target["expr"]
                for name, value in VARIABLES.items():
                    promql = promql.replace(name, value)
                assert wait_for_data(prometheus_port, promql), f"panel {panel['title']!r}: {promql}"

        for rule in (r for g in yaml.safe_load(rules.read_text())["groups"] for r in g["rules"]):
            if "record" in rule:
                wait_for_data(prometheus_port, rule["record"])
                continue
            assert query(prometheus_port, rule["expr"])["status"] == "success", rule["alert"]
            signal_expr = COMPARISON.match(rule["expr"]).group("signal")
            assert wait_for_data(prometheus_port, signal_expr), f"alert {rule['alert']}: {signal_expr}"
    finally:
        for process in (prometheus, bot):
            if process is not None:
                process.send_signal(signal.SIGTERM)
                process.wait(30)
    assert bot.returncode == 0, (tmp_path / "bot.log").read_text()[-3000:]
