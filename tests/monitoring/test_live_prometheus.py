"""The monitoring flow against the real thing, both ways it is deployed: a real bot and a real operator
(reconciling on the test API server), discovered either by the standalone scrape configuration's
relabelling or by the configuration the Prometheus Operator generates from the bot's ServiceMonitor and
the operator's PodMonitor (``promop``), scraped every second by a real Prometheus. Either way the series
carry the same labels, and every panel query of both Grafana dashboards, every template variable, every
recording rule and every alert's signal returns data; every alert expression parses."""

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

import kubeemu
import promop
from bot_process import spawn
from prom_support import endpoint_discovery_labels, local_config, pod_discovery_labels
from tradingbot_operator import builders
from tradingbot_operator.spec import parse_spec

pytestmark = pytest.mark.timeout(300)
NAMESPACE, BOT = "trading", "options-bot"
OPERATOR_NAMESPACE = "trading-bot"
ROOT = Path(__file__).resolve().parents[2]
OWNER = builders.Owner(BOT, NAMESPACE, "uid")
SPEC = parse_spec(BOT, {"symbols": ["SPY", "QQQ"]})
VARIABLES = {"$namespace": NAMESPACE, "$tradingbot": BOT, "$__rate_interval": "10s", "$__range": "1m"}
COMPARISON = re.compile(r"^(?P<signal>.+?)\s*(?:>|<|==|!=|>=|<=)\s*[-+0-9.e]+$", re.DOTALL)
ABSENT = re.compile(r"^absent\((?P<signal>.+)\)$", re.DOTALL)


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


def http(url: str, method: str = "GET", body: dict | None = None, content_type: str = "application/json") -> dict:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(  # noqa: S310 - the test API server on 127.0.0.1
        url, data=data, method=method, headers={"Content-Type": content_type}
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return json.loads(response.read() or b"{}")


def bot_process(tmp_path: Path, port: int) -> subprocess.Popen:
    return spawn(
        [
            "run", "--host", "127.0.0.1", "--port", str(port),
            "--symbols", "SPY,QQQ", "--step-interval", "0.02", "--update-frequency", "20", "--save-frequency", "30",
            "--checkpoint-dir", str(tmp_path / "checkpoints"), "--max-steps", "1000000", "--bot-name", BOT,
        ],
        tmp_path / "bot.log",
    )  # fmt: skip


def drive_operator(api: kubeemu.EmulatorThread) -> None:
    """Give the operator work that feeds every panel: a bot it runs (its pod reported ready, so the
    operator reads its /status), a bot whose spec it must refuse, and one whose updates the API server
    keeps failing (retries, then failed reconciles)."""
    bots = f"{api.url}/apis/tradingbot.dev/v1alpha1/namespaces/{NAMESPACE}/tradingbots"
    http(f"{api.url}/api/v1/namespaces", "POST", {"metadata": {"name": NAMESPACE}})

    def tradingbot(name: str, **spec: object) -> dict:
        body = {"symbols": ["SPY"], **spec}
        return {"apiVersion": "tradingbot.dev/v1alpha1", "kind": "TradingBot", "metadata": {"name": name}, "spec": body}

    http(bots, "POST", tradingbot(BOT, symbols=["SPY", "QQQ"]))
    limits = {"requests": {"cpu": "8", "memory": "1Gi"}, "limits": {"cpu": "4", "memory": "8Gi"}}
    http(bots, "POST", tradingbot("greedy", resources=limits))
    http(bots, "POST", tradingbot("stuck"))
    deployments = f"{api.url}/apis/apps/v1/namespaces/{NAMESPACE}/deployments"
    deadline = time.monotonic() + 60
    while True:  # the operator has created the bots' Deployments
        names = {d["metadata"]["name"] for d in http(deployments)["items"]}
        if {BOT, "stuck"} <= names:
            break
        assert time.monotonic() < deadline, f"the operator created only {names}"
        time.sleep(0.5)
    ready = {"status": {"replicas": 1, "readyReplicas": 1, "availableReplicas": 1}}
    http(f"{deployments}/{BOT}/status", "PATCH", ready, "application/merge-patch+json")  # the controller's part
    api.call(lambda: api.emulator.faults.append(kubeemu.Fault("PUT", "configmaps", 503, times=100_000)))
    http(f"{bots}/stuck", "PATCH", {"spec": {"updateFrequency": 50}}, "application/merge-patch+json")


def operator_process(tmp_path: Path, api: kubeemu.EmulatorThread, metrics_port: int, bot_port: int) -> subprocess.Popen:
    kubeconfig = kubeemu.write_kubeconfig(tmp_path / "kubeconfig", api.url, NAMESPACE)
    environment = dict(
        os.environ,
        KUBECONFIG=str(kubeconfig),
        RESYNC_INTERVAL="1",
        STATUS_INTERVAL="1",
        METRICS_PORT=str(metrics_port),
        BOT_STATUS_URL=f"http://127.0.0.1:{bot_port}/status",
        POD_NAMESPACE=OPERATOR_NAMESPACE,
    )
    command = [sys.executable, "-m", "kopf", "run", "-A", "--standalone", "-m", "tradingbot_operator.handlers"]
    return start(command, tmp_path / "operator.log", env=environment)


def operator_pod_template() -> dict:
    (deployment,) = [
        d
        for d in yaml.safe_load_all((ROOT / "config" / "manager" / "deployment.yaml").read_text())
        if d["kind"] == "Deployment"
    ]
    return deployment["spec"]["template"]


def scrape_config(path: str, monitoring: Path) -> dict:
    """The scrape configuration of a deployment path, before the test's file discovery replaces Kubernetes'."""
    if path == "standalone":
        return yaml.safe_load((monitoring / "prometheus" / "prometheus.yml").read_text())
    monitor = builders.service_monitor(OWNER, SPEC)
    pod_monitor = yaml.safe_load((monitoring / "prometheus-operator" / "podmonitor.yaml").read_text())
    return {"scrape_configs": promop.service_monitor_jobs(monitor) + promop.pod_monitor_jobs(pod_monitor)}


def discovered_targets(bot_port: int, operator_port: int, free_tcp_port) -> list[dict]:
    """What Kubernetes discovery would report: the bot's pod behind its Service, the operator's pod, and
    decoys that no configuration may scrape (the bot on another port, an unlabelled pod)."""
    template = builders.deployment(OWNER, SPEC)["spec"]["template"]
    service = builders.service(OWNER)
    pod = f"{BOT}-7d9f-x2"
    bot = endpoint_discovery_labels(service, template, NAMESPACE, pod, "metrics")
    other_port = endpoint_discovery_labels(service, template, NAMESPACE, pod, "debug")
    stranger = {k: v for k, v in bot.items() if "_label" not in k and "_annotation" not in k}
    operator = pod_discovery_labels(
        operator_pod_template(), OPERATOR_NAMESPACE, "tradingbot-operator-5c4d-q7", "metrics", "operator"
    )
    return [
        {"targets": [f"127.0.0.1:{bot_port}"], "labels": bot},
        {"targets": [f"127.0.0.1:{operator_port}"], "labels": operator},
        {"targets": [f"127.0.0.1:{free_tcp_port()}"], "labels": other_port},
        {"targets": [f"127.0.0.1:{free_tcp_port()}"], "labels": stranger},
    ]


def check_dashboard(prometheus_port: int, board: dict) -> None:
    for variable in board["templating"]["list"]:
        if variable["type"] == "datasource":
            assert variable["query"] == "prometheus"
            continue
        label, selector = re.fullmatch(r"label_values\((?:(.+), )?(\w+)\)", variable["query"]["query"]).group(2, 1)
        selector = selector.replace("$namespace", NAMESPACE) if selector else None
        values = api(prometheus_port, f"/api/v1/label/{label}/values?" + urllib.parse.urlencode({"match[]": selector}))
        assert {NAMESPACE, BOT} & set(values["data"]), variable["name"]
    for panel in board["panels"]:
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]
            promql = target["expr"]
            for name, value in VARIABLES.items():
                promql = promql.replace(name, value)
            assert wait_for_data(prometheus_port, promql, 60), f"panel {panel['title']!r}: {promql}"


def check_rules(prometheus_port: int, rules: Path) -> None:
    for rule in (r for g in yaml.safe_load(rules.read_text())["groups"] for r in g["rules"]):
        if "record" in rule:
            wait_for_data(prometheus_port, rule["record"])
            continue
        assert query(prometheus_port, rule["expr"])["status"] == "success", rule["alert"]
        match = COMPARISON.match(rule["expr"]) or ABSENT.match(rule["expr"])
        signal_expr = match.group("signal")
        assert wait_for_data(prometheus_port, signal_expr, 60), f"alert {rule['alert']}: {signal_expr}"


@pytest.mark.parametrize("path", ["standalone", "prometheus-operator"])
def test_every_panel_rule_and_alert_returns_data_from_a_live_bot_and_operator(
    path, tmp_path, prometheus_binary, monitoring, free_tcp_port
):
    bot_port, operator_port, prometheus_port = free_tcp_port(), free_tcp_port(), free_tcp_port()
    processes: list[subprocess.Popen] = []
    with kubeemu.EmulatorThread() as cluster:
        http(f"{cluster.url}/apis/apiextensions.k8s.io/v1/customresourcedefinitions", "POST",
             yaml.safe_load((ROOT / "crds" / "tradingbots.yaml").read_text()))  # fmt: skip
        try:
            processes.append(bot_process(tmp_path, bot_port))
            processes.append(operator_process(tmp_path, cluster, operator_port, bot_port))
            drive_operator(cluster)
            targets = tmp_path / "targets.json"
            targets.write_text(json.dumps(discovered_targets(bot_port, operator_port, free_tcp_port)))
            rules = monitoring / "prometheus" / "rules.yml"
            config = tmp_path / "prometheus.yml"
            config.write_text(yaml.safe_dump(local_config(scrape_config(path, monitoring), rules, targets)))
            processes.append(
                start(
                    [
                        prometheus_binary,
                        f"--config.file={config}",
                        f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                        f"--web.listen-address=127.0.0.1:{prometheus_port}",
                    ],
                    tmp_path / "prometheus.log",
                )
            )
            wait_for_data(prometheus_port, 'up{job="tradingbots"} == 1', 45)  # discovery takes about 6 s
            wait_for_data(prometheus_port, 'up{job="tradingbot-operator"} == 1', 45)

            active = api(prometheus_port, "/api/v1/targets")["data"]["activeTargets"]
            ours = (t["labels"] for t in active if t["labels"]["job"] != "prometheus")  # Prometheus' own job
            scraped = sorted(ours, key=lambda labels: labels["job"])
            assert scraped == [
                {"instance": f"127.0.0.1:{operator_port}", "job": "tradingbot-operator",
                 "namespace": OPERATOR_NAMESPACE, "pod": "tradingbot-operator-5c4d-q7"},
                {"instance": f"127.0.0.1:{bot_port}", "job": "tradingbots", "namespace": NAMESPACE,
                 "pod": f"{BOT}-7d9f-x2", "tradingbot": BOT},
            ]  # fmt: skip
            for name in ("tradingbot.json", "tradingbot-operator.json"):
                check_dashboard(prometheus_port, json.loads((monitoring / "grafana" / "dashboards" / name).read_text()))
            check_rules(prometheus_port, rules)
        finally:
            for process in reversed(processes):
                process.send_signal(signal.SIGTERM)
                process.wait(30)
    assert processes[0].returncode == 0, (tmp_path / "bot.log").read_text()[-3000:]
    log = (tmp_path / "operator.log").read_text()
    assert "Traceback" not in log, log[-3000:]
