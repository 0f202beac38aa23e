"""Exactly the desired state, calm under API errors, volumes that only grow: the operator's children
after a removed setting, a hand edit, a failing or throttling API server and storage changes, on the
emulator with real kubectl and the real operator. The emulator runs no controllers; where a Deployment
would become ready these tests play the controller by patching its status."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

import kube_rules
import kubeemu
from e2e_support import Cluster, eventually

pytestmark = pytest.mark.timeout(240)
NS = "trading"
PUT_CONFIG = ("PUT", "configmaps", "calm")


def bot(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "tradingbot.dev/v1alpha1",
        "kind": "TradingBot",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"symbols": ["SPY"], **spec},
    }


def condition(cluster: Cluster, name: str, kind: str) -> dict[str, Any]:
    status = (cluster.get("tradingbot", name) or {}).get("status") or {}
    return next((c for c in status.get("conditions", []) if c["type"] == kind), {})


def ready(cluster: Cluster, name: str) -> None:
    """Reconciled, and its pod reported ready (the Deployment controller's part, played here)."""
    cluster.kubectl("wait", "--for=condition=Reconciled", f"tradingbot/{name}", "-n", NS, "--timeout=30s")
    status = json.dumps({"status": {"replicas": 1, "readyReplicas": 1, "availableReplicas": 1}})
    cluster.kubectl("patch", "deployment", name, "-n", NS, "--subresource=status", "--type=merge", "-p", status)
    cluster.kubectl("wait", "--for=condition=Ready", f"tradingbot/{name}", "-n", NS, "--timeout=30s")


def child_writes(cluster: Cluster) -> dict[tuple[str, str], int]:
    return {k: v for k, v in cluster.writes().items() if k[1] != "events"}


def writes_during(cluster: Cluster, seconds: float) -> dict[tuple[str, str], int]:
    """The write requests (Events aside) made while ``seconds`` of resyncs (1 s each here) go by."""
    before = child_writes(cluster)
    time.sleep(seconds)
    after = child_writes(cluster)
    return {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}


def ready_history(cluster: Cluster, name: str) -> list[str]:
    """The Ready status of every stored version of the TradingBot, oldest first."""
    statuses = []
    for version in cluster.history("tradingbots", name, group="tradingbot.dev", version="v1alpha1"):
        for c in (version.get("status") or {}).get("conditions", []):
            if c["type"] == "Ready":
                statuses.append(c["status"])
    return statuses


def warnings(cluster: Cluster, name: str) -> list[str]:
    return [f"{e['reason']}: {e['message']}" for e in cluster.events(name) if e.get("type") == "Warning"]


def patch(cluster: Cluster, kind: str, name: str, body: Any, kind_of_patch: str = "merge") -> None:
    cluster.kubectl("patch", kind, name, "-n", NS, f"--type={kind_of_patch}", "-p", json.dumps(body))


def test_a_setting_removed_from_the_spec_leaves_the_children(cluster, operator):
    full = bot(
        "full",
        gpu={"count": 1, "nodeSelector": {"gpu": "a100"}},
        marketData={"source": "massive", "feed": "delayed", "credentialsSecretRef": {"name": "massive"}},
        s3={"bucket": "bots", "region": "eu-west-1"},
        podLabels={"team": "quant"},
    )
    cluster.apply(full)
    ready(cluster, "full")
    data = cluster.get("configmap", "full")["data"]
    assert data["S3_BUCKET"] == "bots" and data["MASSIVE_FEED"] == "delayed" and data["MARKET_SOURCE"] == "massive"
    assert warnings(cluster, "full") == []  # a normal start warns of nothing

    cluster.apply(bot("full"))  # re-applied with only symbols
    eventually(lambda: "S3_BUCKET" not in cluster.get("configmap", "full")["data"], what="S3 settings to go")
    data = cluster.get("configmap", "full")["data"]
    assert not {"S3_BUCKET", "S3_REGION", "S3_PREFIX", "STEP_INTERVAL"} & set(data)
    assert data["MASSIVE_FEED"] == "realtime" and data["MARKET_SOURCE"] == "sim"
    eventually(lambda: "nodeSelector" not in cluster.get("deployment", "full")["spec"]["template"]["spec"])
    template = cluster.get("deployment", "full")["spec"]["template"]
    (container,) = template["spec"]["containers"]
    assert "tolerations" not in template["spec"] and "nvidia.com/gpu" not in container["resources"]["limits"]
    assert "env" not in container and "team" not in template["metadata"]["labels"]
    assert condition(cluster, "full", "Reconciled")["status"] == "True"
    assert writes_during(cluster, 3) == {}  # resyncs find nothing left to do


def test_hand_added_fields_are_reverted_and_an_injected_sidecar_is_kept(cluster, operator):
    cluster.apply(bot("edited"))
    ready(cluster, "edited")
    patch(cluster, "deployment", "edited", {"spec": {"template": {"spec": {"hostNetwork": True}}}})
    eventually(lambda: "hostNetwork" not in cluster.get("deployment", "edited")["spec"]["template"]["spec"])
    extra_env = [{"op": "add", "path": "/spec/template/spec/containers/0/env", "value": [{"name": "X", "value": "1"}]}]
    patch(cluster, "deployment", "edited", extra_env, "json")
    eventually(lambda: "env" not in cluster.get("deployment", "edited")["spec"]["template"]["spec"]["containers"][0])
    patch(cluster, "configmap", "edited", {"data": {"EXTRA": "1"}})
    eventually(lambda: "EXTRA" not in cluster.get("configmap", "edited")["data"], what="the extra key to go")

    sidecar = [{"op": "add", "path": "/spec/template/spec/containers/-", "value": {"name": "proxy", "image": "p:1"}}]
    patch(cluster, "deployment", "edited", sidecar, "json")
    patch(cluster, "deployment", "edited", {"metadata": {"annotations": {"example.com/cost-center": "7"}}})
    assert writes_during(cluster, 3) == {}
    deployment = cluster.get("deployment", "edited")
    assert [c["name"] for c in deployment["spec"]["template"]["spec"]["containers"]] == ["bot", "proxy"]
    assert deployment["metadata"]["annotations"]["example.com/cost-center"] == "7"
    assert condition(cluster, "edited", "Ready")["status"] == "True"


@pytest.mark.parametrize(
    "fault",
    [
        kubeemu.Fault("PUT", "configmaps", 503),
        kubeemu.Fault("PUT", "configmaps", 0),
        kubeemu.Fault("PUT", "configmaps", 429, retry_after=2),
    ],
    ids=["503", "dropped-connection", "429-retry-after"],
)
def test_a_transient_api_error_is_retried_without_failing_the_bot(cluster, operator, fault):
    cluster.apply(bot("calm"))
    ready(cluster, "calm")
    cluster.inject(fault)
    cluster.apply(bot("calm", updateFrequency=50))
    eventually(lambda: cluster.get("configmap", "calm")["data"]["UPDATE_FREQUENCY"] == "50", what="the new config")
    time.sleep(3)
    history = ready_history(cluster, "calm")
    assert "False" not in history[history.index("True") :], history  # Ready never flipped back
    assert warnings(cluster, "calm") == []
    puts = cluster.server.call(
        lambda: [
            t for t, _, verb, plural, name in cluster.server.emulator.requests if (verb, plural, name) == PUT_CONFIG
        ]
    )
    failed_at = puts[0]  # the first update of the ConfigMap took the fault
    if fault.retry_after is not None:
        # the request that was throttled was sent again, and not before Retry-After (another reconcile may
        # have written the change meanwhile: then the late retry finds a newer resourceVersion, a 409, and
        # converges with nothing left to write)
        assert any(t >= failed_at + fault.retry_after for t in puts[1:]), puts
    assert cluster.server.call(lambda: [f.times for f in cluster.server.emulator.faults]) == [0]


def test_a_persistent_api_error_fails_the_reconcile_with_its_reason_then_recovers(cluster, operator):
    cluster.apply(bot("stormy"))
    ready(cluster, "stormy")
    cluster.inject(kubeemu.Fault("PUT", "configmaps", 503, times=10))
    cluster.apply(bot("stormy", updateFrequency=50))
    eventually(lambda: condition(cluster, "stormy", "Ready").get("reason") == "ApplyFailed", 40, "ApplyFailed")
    assert "HTTP 503" in condition(cluster, "stormy", "Ready")["message"]
    assert any(w.startswith("ApplyFailed") for w in warnings(cluster, "stormy"))
    eventually(lambda: condition(cluster, "stormy", "Ready").get("status") == "True", 60, "recovery")
    assert cluster.get("configmap", "stormy")["data"]["UPDATE_FREQUENCY"] == "50"


def claim_size(cluster: Cluster, name: str) -> str:
    return str(cluster.get("pvc", name)["spec"]["resources"]["requests"]["storage"])


def test_volumes_grow_are_adopted_when_expanded_by_hand_and_never_shrink(cluster, operator):
    cluster.apply(kube_rules.storage_class("standard", expandable=True, default=True))
    cluster.apply(bot("vol"))
    ready(cluster, "vol")
    assert cluster.get("pvc", "vol-checkpoints")["spec"]["storageClassName"] == "standard"

    patch(cluster, "pvc", "vol-checkpoints", {"spec": {"resources": {"requests": {"storage": "100Gi"}}}})
    eventually(lambda: condition(cluster, "vol", "Storage").get("reason") == "LargerThanSpec", what="adoption")
    assert claim_size(cluster, "vol-checkpoints") == "100Gi" and writes_during(cluster, 3) == {}

    cluster.apply(bot("vol", storage={"logs": {"size": "10Gi"}}))  # 20Gi → 10Gi: a shrink
    eventually(lambda: condition(cluster, "vol", "Storage").get("reason") == "ShrinkRefused", what="the refusal")
    assert claim_size(cluster, "vol-logs") == "20Gi"
    assert any(w.startswith("ShrinkRefused") and "vol-logs" in w for w in warnings(cluster, "vol"))
    assert condition(cluster, "vol", "Ready")["status"] == "True"  # the bot runs on, on its volumes
    assert writes_during(cluster, 3) == {}  # refused once, not retried

    cluster.apply(bot("vol", storage={"logs": {"size": "40Gi"}}))  # grows: the class allows it
    eventually(lambda: claim_size(cluster, "vol-logs") == "40Gi", what="the expansion")
    eventually(lambda: condition(cluster, "vol", "Storage").get("status") == "True", what="Storage True")

    cluster.apply(bot("vol", storage={"logs": {"size": "40Gi", "storageClassName": "fast"}}))
    eventually(lambda: condition(cluster, "vol", "Storage").get("reason") == "StorageClassChangeRefused")
    assert cluster.get("pvc", "vol-logs")["spec"]["storageClassName"] == "standard"


def test_a_class_that_cannot_expand_is_refused_before_asking(cluster, operator):
    cluster.apply(kube_rules.storage_class("fixed", expandable=False))
    cluster.apply(bot("rigid", storage={"storageClassName": "fixed"}))
    ready(cluster, "rigid")
    before = child_writes(cluster).get(("PUT", "persistentvolumeclaims"), 0)
    cluster.apply(bot("rigid", storage={"storageClassName": "fixed", "checkpoints": {"size": "60Gi"}}))
    eventually(lambda: condition(cluster, "rigid", "Storage").get("reason") == "ExpansionNotSupported")
    assert "allowVolumeExpansion" in condition(cluster, "rigid", "Storage")["message"]
    time.sleep(2)
    assert child_writes(cluster).get(("PUT", "persistentvolumeclaims"), 0) == before
