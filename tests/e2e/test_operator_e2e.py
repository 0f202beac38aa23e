"""A user's path through the operator, on the emulator with real kubectl and the real operator."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest
import yaml

from bot_process import spawn
from e2e_support import BOT_PORT, ROOT, eventually

pytestmark = pytest.mark.timeout(240)
CHILD_WRITES = ("configmaps", "services", "persistentvolumeclaims", "deployments", "tradingbots")


def sample(name: str, namespace: str = "trading") -> dict:
    manifest = yaml.safe_load((ROOT / "config" / "samples" / name).read_text())
    manifest["metadata"]["namespace"] = namespace
    return manifest


def condition(cluster, name: str, kind: str) -> dict:
    bot = cluster.get("tradingbot", name) or {}
    return next((c for c in (bot.get("status") or {}).get("conditions", []) if c["type"] == kind), {})


def play_deployment_controller(cluster, name: str, ready: int) -> None:
    """No controllers run in the emulator: report the Deployment's pod as ready (or not) ourselves."""
    status = json.dumps({"status": {"replicas": 1, "readyReplicas": ready, "availableReplicas": ready}})
    cluster.kubectl("patch", "deployment", name, "-n", "trading", "--subresource=status", "--type=merge", "-p", status)


def test_a_sample_becomes_a_running_bot_that_kubectl_reports(cluster, operator, tmp_path):
    cluster.apply(sample("options-bot.yaml"))
    cluster.kubectl("wait", "--for=condition=Reconciled", "tradingbot/options-bot", "-n", "trading", "--timeout=30s")
    bot = cluster.get("tradingbot", "options-bot")
    deployment = cluster.get("deployment", "options-bot")
    assert deployment["metadata"]["ownerReferences"][0]["uid"] == bot["metadata"]["uid"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert cluster.get("service", "options-bot")["spec"]["ports"][0]["name"] == "metrics"
    assert cluster.get("configmap", "options-bot")["data"]["SYMBOLS"] == "SPY,QQQ"
    for volume in ("models", "checkpoints", "logs"):
        assert not cluster.get("pvc", f"options-bot-{volume}")["metadata"].get("ownerReferences")
    assert condition(cluster, "options-bot", "Available")["status"] == "False"

    play_deployment_controller(cluster, "options-bot", ready=1)
    cluster.kubectl("wait", "--for=condition=Ready", "tradingbot/options-bot", "-n", "trading", "--timeout=30s")
    assert condition(cluster, "options-bot", "Ready")["reason"] == "Running"

    # a real bot answers the operator's /status poll (the URL the Service would route to, on 127.0.0.1 here)
    bot_process = spawn(
        [
            "run",
            "--policy",
            "hold",  # a random bot soon trips its daily loss limit (Halted True), at a time that varies with load
            "--host",
            "127.0.0.1",
            "--port",
            str(BOT_PORT),
            "--step-interval",
            "0.01",
            "--checkpoint-dir",
            str(tmp_path / "ckpt"),
        ],
        tmp_path / "bot.log",
    )
    try:
        eventually(
            lambda: (cluster.get("tradingbot", "options-bot").get("status") or {}).get("portfolioValue"),
            60,
            "the bot's portfolio value in status",
        )
        table = cluster.kubectl("get", "tradingbots", "-n", "trading")
        header, row = table.splitlines()[:2]
        assert header.split()[:6] == ["NAME", "SYMBOLS", "CAPITAL", "READY", "VALUE", "WIN"]
        assert row.split()[:4] == ["options-bot", '["SPY","QQQ"]', "100000", "True"]
        with urllib.request.urlopen(f"http://127.0.0.1:{BOT_PORT}/status", timeout=5) as response:
            value = json.loads(response.read())["portfolio"]["value"]
        assert abs(float(row.split()[4]) - value) < 5_000  # the same account, a few steps apart
        wide = cluster.kubectl("get", "tb", "options-bot", "-n", "trading", "-o", "wide").splitlines()[0]
        assert "REASON" in wide and "TRADES" in wide and "MESSAGE" in wide
        assert condition(cluster, "options-bot", "Halted")["status"] == "False"
    finally:
        bot_process.terminate()
        bot_process.wait(30)
    described = cluster.kubectl("describe", "tradingbot", "options-bot", "-n", "trading")
    assert "Created" in described and "created Deployment options-bot" in described


def test_reapplying_writes_nothing_and_a_spec_change_rolls_the_deployment_once(cluster, operator):
    cluster.apply(sample("minimal.yaml"))
    cluster.kubectl("wait", "--for=condition=Reconciled", "tradingbot/minimal", "-n", "trading", "--timeout=30s")
    eventually(lambda: condition(cluster, "minimal", "Available"), what="Available")
    before = cluster.writes()
    assert "unchanged" in cluster.apply(sample("minimal.yaml"))
    time.sleep(3)  # three resync intervals
    after = cluster.writes()
    changed = {k: after[k] - before.get(k, 0) for k in after if k[1] in CHILD_WRITES and after[k] != before.get(k, 0)}
    assert changed == {}, changed

    changed_spec = sample("minimal.yaml")
    changed_spec["spec"]["updateFrequency"] = 50
    cluster.apply(changed_spec)
    eventually(lambda: cluster.get("configmap", "minimal")["data"]["UPDATE_FREQUENCY"] == "50", what="new config")
    time.sleep(2)
    versions = cluster.history("deployments", "minimal", group="apps")
    hashes = [v["spec"]["template"]["metadata"]["annotations"]["tradingbot.dev/config-hash"] for v in versions]
    assert len(set(hashes)) == 2 and hashes.count(hashes[-1]) == len(hashes) - hashes.index(hashes[-1])
    bot = cluster.get("tradingbot", "minimal")
    assert bot["status"]["observedGeneration"] == bot["metadata"]["generation"] == 2


def test_deleted_and_hand_edited_children_are_restored(cluster, operator):
    cluster.apply(sample("scaling-spy.yaml"))
    cluster.kubectl("wait", "--for=condition=Reconciled", "tradingbot/bot-spy", "-n", "trading", "--timeout=30s")
    cluster.kubectl("delete", "service", "bot-spy", "-n", "trading")
    eventually(lambda: cluster.get("service", "bot-spy"), what="the Service to come back")
    cluster.kubectl(
        "patch",
        "deployment",
        "bot-spy",
        "-n",
        "trading",
        "--type=merge",
        "-p",
        '{"spec": {"replicas": 3, "strategy": {"type": "RollingUpdate"}}}',
    )
    eventually(lambda: cluster.get("deployment", "bot-spy")["spec"]["replicas"] == 1, what="replicas back to 1")
    assert cluster.get("deployment", "bot-spy")["spec"]["strategy"]["type"] == "Recreate"
    cluster.kubectl("delete", "configmap", "bot-spy-control", "-n", "trading")
    eventually(lambda: cluster.get("configmap", "bot-spy-control"), what="the control ConfigMap to come back")
    assert "Restored" in cluster.kubectl("describe", "tb", "bot-spy", "-n", "trading")


def test_an_operator_restart_duplicates_nothing(cluster, operator):
    cluster.apply(sample("scaling-qqq.yaml"))
    cluster.kubectl("wait", "--for=condition=Reconciled", "tradingbot/bot-qqq", "-n", "trading", "--timeout=30s")
    before = cluster.writes()
    operator()  # stop and start again
    time.sleep(3)
    after = cluster.writes()
    creates = {k: after[k] - before.get(k, 0) for k in after if k[0] == "POST" and k[1] in CHILD_WRITES}
    assert all(v == 0 for v in creates.values()), creates
    assert len(json.loads(cluster.kubectl("get", "deployments", "-n", "trading", "-o", "json"))["items"]) == 1


def test_suspending_keeps_the_pod_and_flips_the_control_switch(cluster, operator):
    cluster.apply(sample("scaling-aapl.yaml"))
    cluster.kubectl("wait", "--for=condition=Reconciled", "tradingbot/bot-aapl", "-n", "trading", "--timeout=30s")
    template = cluster.get("deployment", "bot-aapl")["spec"]["template"]
    cluster.kubectl(
        "patch", "tradingbot", "bot-aapl", "-n", "trading", "--type=merge", "-p", '{"spec":{"suspend":true}}'
    )
    cluster.kubectl("wait", "--for=condition=Suspended", "tradingbot/bot-aapl", "-n", "trading", "--timeout=30s")
    assert cluster.get("configmap", "bot-aapl-control")["data"] == {"SUSPEND": "true"}
    assert cluster.get("deployment", "bot-aapl")["spec"]["template"] == template
    play_deployment_controller(cluster, "bot-aapl", ready=1)
    eventually(lambda: condition(cluster, "bot-aapl", "Ready").get("reason") == "Suspended", what="Ready/Suspended")


def test_an_invalid_spec_is_reported_and_creates_nothing(cluster, operator):
    bad = sample("minimal.yaml")
    bad["metadata"]["name"] = "greedy"
    bad["spec"]["resources"] = {"requests": {"cpu": "8", "memory": "4Gi"}, "limits": {"cpu": "4", "memory": "8Gi"}}
    cluster.apply(bad)
    cluster.kubectl("wait", "--for=condition=Ready=False", "tradingbot/greedy", "-n", "trading", "--timeout=30s")
    ready = condition(cluster, "greedy", "Ready")
    assert ready["reason"] == "InvalidSpec" and "requests.cpu (8) exceeds limits.cpu (4)" in ready["message"]
    assert cluster.get("deployment", "greedy") is None and cluster.get("pvc", "greedy-checkpoints") is None
    bad["spec"]["resources"]["requests"]["cpu"] = "2"  # fixed: the bot is created
    cluster.apply(bad)
    cluster.kubectl("wait", "--for=condition=Reconciled", "tradingbot/greedy", "-n", "trading", "--timeout=30s")
    assert cluster.get("deployment", "greedy") is not None


def test_deleting_a_bot_removes_owned_children_and_keeps_retained_volumes(cluster, operator):
    cluster.apply(sample("minimal.yaml"))
    cluster.kubectl("wait", "--for=condition=Reconciled", "tradingbot/minimal", "-n", "trading", "--timeout=30s")
    uid = cluster.get("pvc", "minimal-checkpoints")["metadata"]["uid"]
    cluster.kubectl("delete", "tradingbot", "minimal", "-n", "trading", "--timeout=30s")
    # the emulator's garbage collector plays Kubernetes' for owned children
    eventually(lambda: cluster.get("deployment", "minimal") is None, what="the Deployment to go")
    assert cluster.get("service", "minimal") is None and cluster.get("configmap", "minimal") is None
    assert cluster.get("pvc", "minimal-checkpoints")["metadata"]["uid"] == uid

    before = cluster.writes()
    cluster.apply(sample("minimal.yaml"))  # the same name adopts the retained volumes
    cluster.kubectl("wait", "--for=condition=Reconciled", "tradingbot/minimal", "-n", "trading", "--timeout=30s")
    assert cluster.get("pvc", "minimal-checkpoints")["metadata"]["uid"] == uid
    assert cluster.writes().get(("POST", "persistentvolumeclaims"), 0) == before.get(
        ("POST", "persistentvolumeclaims"), 0
    )

    doomed = sample("scaling-spy.yaml")
    doomed["spec"]["storage"] = {"retentionPolicy": "Delete"}
    cluster.apply(doomed)
    cluster.kubectl("wait", "--for=condition=Reconciled", "tradingbot/bot-spy", "-n", "trading", "--timeout=30s")
    cluster.kubectl("delete", "tradingbot", "bot-spy", "-n", "trading", "--timeout=30s")
    eventually(lambda: cluster.get("pvc", "bot-spy-checkpoints") is None, what="owned volumes to go")


SERVICE_MONITOR_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "servicemonitors.monitoring.coreos.com"},
    "spec": {
        "group": "monitoring.coreos.com",
        "scope": "Namespaced",
        "names": {"kind": "ServiceMonitor", "plural": "servicemonitors", "singular": "servicemonitor"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
            }
        ],
    },
}


def test_a_service_monitor_follows_the_prometheus_operator_and_the_spec(cluster, operator):
    bot = sample("scaling-spy.yaml")
    cluster.apply(bot)
    cluster.kubectl("wait", "--for=condition=Reconciled", "tradingbot/bot-spy", "-n", "trading", "--timeout=30s")
    assert cluster.get("servicemonitor", "bot-spy") is None  # no Prometheus Operator: Auto creates none

    cluster.apply(SERVICE_MONITOR_CRD)
    operator()  # the CRD is detected when the operator (re)checks for it
    bot["spec"]["monitoring"] = {"labels": {"release": "kube-prometheus-stack"}}
    cluster.apply(bot)
    # the restarted operator may first apply the spec it resumed with, then the update: wait for the label
    labelled = "{.metadata.labels.release}"
    eventually(
        lambda: (
            cluster.kubectl(
                "get", "servicemonitor", "bot-spy", "-n", "trading", "-o", f"jsonpath={labelled}", check=False
            )
            == "kube-prometheus-stack"
        ),
        what="the labelled ServiceMonitor",
    )
    monitor = cluster.get("servicemonitor", "bot-spy")
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    assert cluster.get("tradingbot", "bot-spy")["status"]["serviceMonitor"] == "Created"

    bot["spec"]["monitoring"] = {"serviceMonitor": "Disabled"}
    cluster.apply(bot)
    eventually(lambda: cluster.get("servicemonitor", "bot-spy") is None, what="the ServiceMonitor to go")
    assert cluster.get("tradingbot", "bot-spy")["status"]["serviceMonitor"] == "None"
    before = cluster.writes()
    time.sleep(3)  # three resyncs with the CRD present and the monitor disabled: nothing to delete, no DELETE sent
    after = cluster.writes()
    assert after.get(("DELETE", "servicemonitors"), 0) == before.get(("DELETE", "servicemonitors"), 0)
    assert {k: v - before.get(k, 0) for k, v in after.items() if k[1] != "events" and v != before.get(k, 0)} == {}
