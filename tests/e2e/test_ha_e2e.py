"""No single point of failure: two operator processes with kopf's peering, as config/manager runs them,
on the test API server. The standby writes nothing while the leader lives; when the leader is killed
(SIGKILL: no goodbye) the standby takes over once the leader's peering entry lapses, and when a leader
exits cleanly (SIGTERM, as in a rolling update) a standby takes over at once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from e2e_support import ROOT, Cluster, eventually

pytestmark = pytest.mark.timeout(240)
NS = "trading"
LIFETIME_S = 5
"""The peering entry's lifetime in this test (the install uses 30 s)."""


def peering_objects() -> list[dict]:
    """The peering CRD and object, as the single-file install ships them."""
    install = [d for d in yaml.safe_load_all((ROOT / "dist" / "install.yaml").read_text()) if d]
    return [d for d in install if d["kind"] == "ClusterKopfPeering" or d["metadata"]["name"].endswith(".kopf.dev")]


def start_replica(cluster: Cluster, name: str, tmp_path: Path) -> subprocess.Popen:
    """One operator replica, started as the install starts it (``--peering``, no ``--standalone``)."""
    environment = dict(
        os.environ,
        KUBECONFIG=str(cluster.kubeconfig),
        POD_ID=name,  # the replica's identity in the peering, as the Deployment sets it
        PEERING_LIFETIME=str(LIFETIME_S),
        RESYNC_INTERVAL="1",
        STATUS_INTERVAL="1",
        METRICS_PORT="0",
    )
    command = [
        sys.executable,
        "-m",
        "kopf",
        "run",
        "-A",
        "--peering=tradingbot-operator",
        "-m",
        "tradingbot_operator.handlers",
    ]
    log = (tmp_path / f"{name}.log").open("w")
    return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=environment)


def writes_by(cluster: Cluster, replica: str, since: float = 0.0) -> list[tuple[float, str, str, str]]:
    """The write requests the operator replica ``replica`` made (after ``since``, monotonic seconds)."""

    def read() -> list[tuple[float, str, str, str]]:
        return [
            (t, method, plural, name)
            for t, agent, method, plural, name in cluster.server.emulator.requests
            if f"({replica})" in agent and method in ("POST", "PUT", "PATCH", "DELETE") and t >= since
        ]

    return list(cluster.server.call(read))


def peers(cluster: Cluster) -> dict:
    """The replicas announced in the ClusterKopfPeering, by identity."""
    out = cluster.kubectl("get", "clusterkopfpeering", "tradingbot-operator", "-o", "json")
    return dict(json.loads(out).get("status") or {})


def update_frequency(cluster: Cluster) -> str:
    return str(cluster.get("configmap", "ha")["data"]["UPDATE_FREQUENCY"])


def set_update_frequency(cluster: Cluster, value: int) -> None:
    patch = json.dumps({"spec": {"updateFrequency": value}})
    cluster.kubectl("patch", "tradingbot", "ha", "-n", NS, "--type=merge", "-p", patch)


def test_a_standby_takes_over_when_the_leader_dies_and_never_acts_while_it_lives(cluster, tmp_path):
    for obj in peering_objects():
        cluster.apply(obj)
    replicas: dict[str, subprocess.Popen] = {}
    try:
        replicas["op-a"] = start_replica(cluster, "op-a", tmp_path)
        bot = {
            "apiVersion": "tradingbot.dev/v1alpha1",
            "kind": "TradingBot",
            "metadata": {"name": "ha", "namespace": NS},
        }
        cluster.apply({**bot, "spec": {"symbols": ["SPY"]}})
        cluster.kubectl("wait", "--for=condition=Reconciled", "tradingbot/ha", "-n", NS, "--timeout=60s")
        assert writes_by(cluster, "op-a"), "the leader reconciled"

        replicas["op-b"] = start_replica(cluster, "op-b", tmp_path)
        eventually(lambda: {"op-a", "op-b"} <= set(peers(cluster)), 30, "both replicas in the peering")
        time.sleep(2)
        set_update_frequency(cluster, 50)  # work for the leader, none for the standby
        eventually(lambda: update_frequency(cluster) == "50", 20, "the leader to apply the change")
        time.sleep(3)  # resyncs: a standby that acted would write here
        assert writes_by(cluster, "op-b") == [], "the standby wrote while the leader lived"
        assert "succeeded" not in (tmp_path / "op-b.log").read_text().split("Initial authentication")[-1]

        replicas["op-a"].send_signal(signal.SIGKILL)  # a crash: no clean goodbye in the peering
        replicas["op-a"].wait(10)
        killed = time.monotonic()
        set_update_frequency(cluster, 60)
        eventually(lambda: update_frequency(cluster) == "60", LIFETIME_S + 20, "the standby to take over")
        takeover_s = time.monotonic() - killed
        assert takeover_s <= LIFETIME_S + 10, takeover_s
        assert writes_by(cluster, "op-a", since=killed) == []
        print(f"takeover after SIGKILL: {takeover_s:.1f} s (peering lifetime {LIFETIME_S} s)")

        replicas["op-c"] = start_replica(cluster, "op-c", tmp_path)  # a rolling update's new pod
        eventually(lambda: "op-c" in peers(cluster), 30, "op-c in the peering")
        time.sleep(2)
        assert writes_by(cluster, "op-c") == []
        replicas["op-b"].send_signal(signal.SIGTERM)  # the old pod goes cleanly
        replicas["op-b"].wait(30)
        stopped = time.monotonic()
        set_update_frequency(cluster, 70)
        eventually(lambda: update_frequency(cluster) == "70", 20, "op-c to take over")
        handover_s = time.monotonic() - stopped
        assert handover_s < LIFETIME_S, handover_s  # a clean exit hands over without waiting for the lapse
        print(f"hand-over after SIGTERM: {handover_s:.1f} s")
        b_writes = writes_by(cluster, "op-b")
        c_writes = writes_by(cluster, "op-c")
        assert c_writes and (not b_writes or max(t for t, *_ in b_writes) < min(t for t, *_ in c_writes))
    finally:
        for process in replicas.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(30)
    for name in ("op-b", "op-c"):
        log = (tmp_path / f"{name}.log").read_text()
        assert "Traceback" not in log, log[-3000:]
