"""The three-way merge: a child converges to exactly what the operator owns, keeping what the API server
and other tools own, and an unchanged bot converges to what the server already has (no write)."""

from __future__ import annotations

import copy
import itertools
import json
from typing import Any

import pytest

import kube_rules
from tradingbot_operator import builders
from tradingbot_operator.builders import Owner
from tradingbot_operator.desired import LAST_APPLIED, converge, drifted, last_applied, stamp
from tradingbot_operator.spec import parse_spec

OWNER = Owner("spy", "trading", "0b1c5f9e-0000-4000-8000-000000000001")
EVERYTHING = {
    "symbols": ["SPY", "QQQ"],
    "gpu": {"count": 1, "nodeSelector": {"gpu": "a100"}},
    "marketData": {"source": "massive", "credentialsSecretRef": {"name": "massive"}, "decisionIntervalSeconds": 60},
    "s3": {"bucket": "bots", "region": "eu-west-1"},
    "serviceAccountName": "bot-s3-irsa",
    "podAnnotations": {"example.com/owner": "desk-7"},
    "podLabels": {"team": "quant"},
    "tolerations": [{"key": "trading", "operator": "Exists", "effect": "NoSchedule"}],
}


def children(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    manifests = builders.children(OWNER, parse_spec(OWNER.name, spec), builders.Cluster(True, "trading-bot"))
    return {m["kind"] if m["kind"] != "ConfigMap" else f"ConfigMap/{m['metadata']['name']}": m for m in manifests}


_ips = itertools.count(1)


def served(manifest: dict[str, Any]) -> dict[str, Any]:
    """The object as an API server stores it after the operator applied ``manifest``: defaults filled in,
    server metadata added."""
    obj = stamp(manifest)
    kube_rules.apply_defaults(obj["kind"], obj, lambda: f"10.96.0.{next(_ips)}")
    obj["metadata"].update(uid="u-1", resourceVersion="7", generation=1, creationTimestamp="2026-11-30T00:00:00Z")
    return obj


def store(current: dict[str, Any], manifest: dict[str, Any]) -> dict[str, Any]:
    """What the server holds after the operator writes its merge (defaults filled in again)."""
    merged = converge(current, stamp(manifest))
    kube_rules.apply_defaults(merged["kind"], merged, lambda: "10.96.9.9", current)
    return merged


@pytest.mark.parametrize(
    "kind", ["ConfigMap/spy", "ConfigMap/spy-control", "Deployment", "Service", "NetworkPolicy", "ServiceMonitor"]
)
def test_an_unchanged_child_with_server_defaults_converges_to_itself(kind):
    manifest = children(EVERYTHING)[kind]
    current = served(manifest)
    assert converge(current, stamp(manifest)) == current
    assert not drifted(current, manifest)


def test_a_setting_removed_from_the_spec_leaves_every_child():
    before = children(EVERYTHING)
    after = children({"symbols": ["SPY"]})
    config = store(served(before["ConfigMap/spy"]), after["ConfigMap/spy"])
    assert not {"S3_BUCKET", "S3_REGION", "S3_PREFIX", "STEP_INTERVAL"} & set(config["data"])
    assert config["data"]["MASSIVE_FEED"] == "realtime"  # back to the default, as the CRD fills it in
    deployment = store(served(before["Deployment"]), after["Deployment"])
    pod = deployment["spec"]["template"]["spec"]
    assert "nodeSelector" not in pod and "tolerations" not in pod
    assert "serviceAccountName" not in pod and "serviceAccount" not in pod
    (container,) = pod["containers"]
    assert "nvidia.com/gpu" not in container["resources"]["limits"] and "env" not in container
    template = deployment["spec"]["template"]["metadata"]
    assert "team" not in template["labels"] and "example.com/owner" not in template["annotations"]
    assert not drifted(deployment, after["Deployment"])


def test_hand_added_fields_inside_what_the_operator_owns_are_reverted():
    wanted = children(EVERYTHING)
    deployment = served(wanted["Deployment"])
    pod = deployment["spec"]["template"]["spec"]
    pod["hostNetwork"] = True
    pod["securityContext"]["runAsUser"] = 0
    pod["containers"][0]["env"].append({"name": "EXTRA", "value": "1"})
    pod["containers"][0]["securityContext"]["privileged"] = True
    config = served(wanted["ConfigMap/spy"])
    config["data"]["EXTRA_KEY"] = "x"
    assert drifted(deployment, wanted["Deployment"]) and drifted(config, wanted["ConfigMap/spy"])
    fixed = store(deployment, wanted["Deployment"])
    assert fixed == served(wanted["Deployment"]) | {"metadata": fixed["metadata"]}
    assert store(config, wanted["ConfigMap/spy"])["data"] == wanted["ConfigMap/spy"]["data"]


def test_what_others_own_is_kept_and_causes_no_write():
    wanted = children(EVERYTHING)["Deployment"]
    current = served(wanted)
    meta, template = current["metadata"], current["spec"]["template"]
    meta["labels"]["cost-center"] = "desk-7"
    meta["annotations"]["deployment.kubernetes.io/revision"] = "3"
    meta["ownerReferences"].append(
        {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "name": "a", "uid": "x"}
    )
    template["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"] = "2026-11-30T10:00:00Z"
    template["spec"]["containers"].append({"name": "istio-proxy", "image": "istio/proxyv2:1.24"})
    template["spec"]["initContainers"] = [{"name": "istio-init", "image": "istio/proxyv2:1.24"}]
    template["spec"]["volumes"].append({"name": "istio-envoy", "emptyDir": {"medium": "Memory"}})
    current["status"] = {"readyReplicas": 1, "observedGeneration": 1}
    assert converge(current, stamp(wanted)) == current


def test_quantities_compare_as_numbers():
    wanted = children(EVERYTHING)["Deployment"]
    current = served(wanted)
    resources = current["spec"]["template"]["spec"]["containers"][0]["resources"]
    resources["requests"]["cpu"] = "2000m"
    resources["limits"]["memory"] = "8192Mi"
    assert converge(current, stamp(wanted)) == current


def test_a_label_the_operator_set_and_dropped_goes_and_one_it_never_set_stays():
    old = children(EVERYTHING)["Deployment"]
    old["metadata"]["labels"]["old-operator-label"] = "1"
    current = served(old)
    current["metadata"]["labels"]["someone-else"] = "2"
    merged = converge(current, stamp(children(EVERYTHING)["Deployment"]))
    assert "old-operator-label" not in merged["metadata"]["labels"]
    assert merged["metadata"]["labels"]["someone-else"] == "2"
    assert "old-operator-label" not in last_applied(merged)["labels"]


def test_the_last_applied_annotation_is_compact_and_garbage_is_survivable():
    stamped = stamp(children(EVERYTHING)["Deployment"])
    record = json.loads(stamped["metadata"]["annotations"][LAST_APPLIED])
    assert set(record) == {"labels", "annotations", "template.labels", "template.annotations"}
    assert len(stamped["metadata"]["annotations"][LAST_APPLIED]) < 1000
    broken = copy.deepcopy(stamped)
    broken["metadata"]["annotations"][LAST_APPLIED] = "{not json"
    assert last_applied(broken) == {}
