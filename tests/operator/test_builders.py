"""The pure builders: every manifest valid against Kubernetes' own schemas, and each rule the bot's pod
must follow (one replica, Recreate, probes, PSS restricted, GPUs, volumes, ownership, no secrets)."""

from __future__ import annotations

import json
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from tradingbot_contract import __version__
from tradingbot_operator import builders
from tradingbot_operator.builders import Owner
from tradingbot_operator.spec import InvalidSpecError, parse_spec

ROOT = Path(__file__).resolve().parents[2]
KUBERNETES = "1.32.0"
OWNER = Owner("spy", "trading", "0b1c5f9e-0000-4000-8000-000000000001")
FULL = {
    "symbols": ["SPY", "QQQ"],
    "gpu": {"count": 1, "nodeSelector": {"gpu": "a100"}},
    "marketData": {"source": "sim", "credentialsSecretRef": {"name": "massive", "key": "apiKey"}},
    "s3": {"bucket": "bots", "endpoint": "http://minio:9000", "credentialsSecretRef": {"name": "s3"}},
    "journal": {"postgresSecretRef": {"name": "fleet-journal", "key": "url"}},
    "storage": {"storageClassName": "fast", "logs": {"storageClassName": "cheap"}, "retentionPolicy": "Delete"},
    "monitoring": {"serviceMonitor": "Enabled", "labels": {"release": "kube-prometheus-stack"}},
    "serviceAccountName": "bot-s3-irsa",
    "imagePullSecrets": [{"name": "registry"}],
    "nodeSelector": {"kubernetes.io/arch": "amd64"},
    "tolerations": [
        {"key": "trading", "operator": "Equal", "value": "yes", "effect": "NoExecute", "tolerationSeconds": 60}
    ],
    "affinity": {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a", "b"]}]}]
            }
        }
    },
    "priorityClassName": "trading-critical",
    "podAnnotations": {"example.com/owner": "desk-7"},
    "podLabels": {"team": "quant"},
    "networkPolicy": {"prometheus": {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "obs"}}}},
}


def build(spec: dict, crd_present: bool = True, operator_namespace: str = "trading-bot") -> dict[str, dict]:
    cluster = builders.Cluster(crd_present, operator_namespace)
    manifests = builders.children(OWNER, parse_spec(OWNER.name, spec), cluster)
    return {f"{m['kind']}/{m['metadata']['name']}": m for m in manifests}


def selects(selector: dict, labels: dict) -> bool:
    """Whether a label selector (matchLabels) selects an object with ``labels``, as the API server decides."""
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


@pytest.mark.parametrize("spec", [{"symbols": ["SPY"]}, FULL], ids=["minimal", "full"])
def test_every_child_validates_against_the_kubernetes_schemas(spec):
    for name, manifest in build(spec, crd_present=False).items():
        if manifest["kind"] == "ServiceMonitor":  # the Prometheus Operator's CRD: no schema ships for it
            assert manifest["apiVersion"] == "monitoring.coreos.com/v1"
            continue
        assert kubernetes_validate.validate(manifest, KUBERNETES, strict=True), name
        assert manifest["metadata"]["namespace"] == "trading"


def test_children_are_named_after_the_bot():
    names = set(build({"symbols": ["SPY"]}))
    assert names == {
        "PersistentVolumeClaim/spy-models",
        "PersistentVolumeClaim/spy-checkpoints",
        "PersistentVolumeClaim/spy-logs",
        "ConfigMap/spy",
        "ConfigMap/spy-control",
        "Deployment/spy",
        "Service/spy",
        "NetworkPolicy/spy",
        "ServiceMonitor/spy",
    }


def test_the_deployment_is_a_single_recreated_restricted_pod_with_probes():
    deployment = build({"symbols": ["SPY"]})["Deployment/spy"]
    spec = deployment["spec"]
    assert spec["replicas"] == 1 and spec["strategy"] == {"type": "Recreate"}
    pod = spec["template"]["spec"]
    (container,) = pod["containers"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["startupProbe"]["httpGet"]["path"] == "/health"
    security = container["securityContext"]
    assert security["allowPrivilegeEscalation"] is False and security["capabilities"] == {"drop": ["ALL"]}
    assert security["runAsNonRoot"] and security["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["securityContext"]["runAsUser"] != 0 and pod["automountServiceAccountToken"] is False
    allowed = {"persistentVolumeClaim", "configMap", "emptyDir"}  # PSS restricted allows these volume types
    assert all(set(v) - {"name"} <= allowed for v in pod["volumes"])
    mounts = {m["mountPath"]: m.get("readOnly", False) for m in container["volumeMounts"]}
    assert mounts["/models"] is True and mounts["/checkpoints"] is False and mounts["/logs"] is False
    assert container["resources"] == {
        "requests": {"cpu": "2", "memory": "4Gi"},
        "limits": {"cpu": "4", "memory": "8Gi"},
    }
    assert "tolerations" not in pod and "nvidia.com/gpu" not in container["resources"]["limits"]
    assert spec["selector"]["matchLabels"] == {
        "app.kubernetes.io/name": "tradingbot",
        "app.kubernetes.io/instance": "spy",
    }
    annotations = spec["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true" and annotations["prometheus.io/port"] == "8000"


def test_a_gpu_bot_asks_for_gpus_tolerates_gpu_nodes_and_runs_the_agent_on_cuda():
    children = build(FULL)
    pod = children["Deployment/spy"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
    assert pod["nodeSelector"] == {"gpu": "a100", "kubernetes.io/arch": "amd64"}
    assert children["ConfigMap/spy"]["data"]["DEVICE"] == "auto"
    assert children["ConfigMap/spy"]["data"]["GPU_COUNT"] == "1"
    assert container["image"] == f"ghcr.io/tradingbot-dev/tradingbot-bot:{__version__}-cuda"  # the CUDA build of torch


def test_a_cpu_bot_runs_the_cpu_image_single_threaded_unless_an_image_is_given():
    data = build({"symbols": ["SPY"]})["ConfigMap/spy"]["data"]
    assert data["DEVICE"] == "cpu" and data["GPU_COUNT"] == "0"
    assert data["OMP_NUM_THREADS"] == data["OPENBLAS_NUM_THREADS"] == data["MKL_NUM_THREADS"] == "1"
    (container,) = build({"symbols": ["SPY"]})["Deployment/spy"]["spec"]["template"]["spec"]["containers"]
    assert container["image"] == f"ghcr.io/tradingbot-dev/tradingbot-bot:{__version__}"
    (mine,) = build({"symbols": ["SPY"], "image": "registry.example/bot:dev"})["Deployment/spy"]["spec"]["template"][
        "spec"
    ]["containers"]
    assert mine["image"] == "registry.example/bot:dev"


def test_deploy_knobs_reach_the_pod():
    template = build(FULL)["Deployment/spy"]["spec"]["template"]
    pod = template["spec"]
    assert pod["serviceAccountName"] == "bot-s3-irsa" and pod["automountServiceAccountToken"] is False
    assert pod["imagePullSecrets"] == [{"name": "registry"}]
    assert pod["priorityClassName"] == "trading-critical"
    assert pod["affinity"] == FULL["affinity"]
    assert pod["tolerations"] == [
        {"key": "trading", "operator": "Equal", "value": "yes", "effect": "NoExecute", "tolerationSeconds": 60},
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
    ]
    assert template["metadata"]["labels"]["team"] == "quant"
    assert template["metadata"]["labels"]["tradingbot.dev/tradingbot"] == "spy"  # discovery keeps working
    assert template["metadata"]["annotations"]["example.com/owner"] == "desk-7"
    assert builders.CONFIG_HASH_ANNOTATION in template["metadata"]["annotations"]


def test_without_knobs_the_pod_spec_has_none_of_them():
    pod = build({"symbols": ["SPY"]})["Deployment/spy"]["spec"]["template"]["spec"]
    for knob in ("serviceAccountName", "imagePullSecrets", "affinity", "priorityClassName", "nodeSelector"):
        assert knob not in pod


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ({"podLabels": {"app.kubernetes.io/name": "x"}}, "podLabels may not set app.kubernetes.io/name"),
        ({"podLabels": {"tradingbot.dev/tradingbot": "other"}}, "may not set tradingbot.dev/tradingbot"),
        ({"tolerations": [{"key": "a", "operator": "Exists", "value": "b"}]}, "takes no value"),
        ({"tolerations": [{"operator": "Equal", "value": "b"}]}, "without a key must use operator Exists"),
        ({"tolerations": [{"key": "a", "tolerationSeconds": 5}]}, "only to effect NoExecute"),
        ({"serviceAccountName": "Not_A_Name"}, "serviceAccountName"),
        ({"imagePullSecrets": [{"name": ""}]}, "imagePullSecrets"),
        ({"priorityClassName": "UPPER"}, "priorityClassName"),
    ],
)
def test_invalid_deploy_knobs_are_refused_with_the_reason(spec, problem):
    with pytest.raises(InvalidSpecError, match=problem):
        parse_spec("spy", {"symbols": ["SPY"], **spec})


def _config(path: str) -> list[dict]:
    return [d for d in yaml.safe_load_all((ROOT / path).read_text()) if d]


def test_the_network_policy_admits_exactly_the_operator_and_prometheus_on_the_bot_port():
    children = build({"symbols": ["SPY"]}, operator_namespace="trading-bot")
    policy = children["NetworkPolicy/spy"]["spec"]
    pod_labels = children["Deployment/spy"]["spec"]["template"]["metadata"]["labels"]
    assert selects(policy["podSelector"], pod_labels) and policy["policyTypes"] == ["Ingress"]  # egress open
    assert selects(children["Service/spy"]["spec"]["selector"], pod_labels)
    (rule,) = policy["ingress"]
    assert rule["ports"] == [{"port": 8000, "protocol": "TCP"}]
    operator_peer, prometheus_peer = rule["from"]
    # the operator as config/default installs it: its pod labels, in its namespace
    (operator,) = [d for d in _config("config/manager/deployment.yaml") if d["kind"] == "Deployment"]
    namespace = _config("config/default/kustomization.yaml")[0]["namespace"]
    assert selects(operator_peer["podSelector"], operator["spec"]["template"]["metadata"]["labels"])
    assert selects(operator_peer["namespaceSelector"], {"kubernetes.io/metadata.name": namespace})
    # Prometheus as config/monitoring installs it
    (prometheus,) = _config("config/monitoring/prometheus/deployment.yaml")
    monitoring = _config("config/monitoring/kustomization.yaml")[0]["namespace"]
    assert selects(prometheus_peer["podSelector"], prometheus["spec"]["template"]["metadata"]["labels"])
    assert selects(prometheus_peer["namespaceSelector"], {"kubernetes.io/metadata.name": monitoring})
    # nobody else: a pod of the bot's own namespace, Grafana, another namespace's operator look-alike
    for labels, ns in (
        ({"app": "curl"}, "trading"),
        ({"app.kubernetes.io/name": "grafana"}, monitoring),
        (operator["spec"]["template"]["metadata"]["labels"], "elsewhere"),
    ):
        assert not any(
            selects(p["podSelector"], labels) and selects(p["namespaceSelector"], {"kubernetes.io/metadata.name": ns})
            for p in rule["from"]
        )


def test_the_network_policy_follows_the_operator_namespace_and_custom_prometheus_selectors():
    policy = build(FULL, operator_namespace="ops")["NetworkPolicy/spy"]["spec"]
    operator_peer, prometheus_peer = policy["ingress"][0]["from"]
    assert operator_peer["namespaceSelector"] == {"matchLabels": {"kubernetes.io/metadata.name": "ops"}}
    assert prometheus_peer["namespaceSelector"] == {"matchLabels": {"kubernetes.io/metadata.name": "obs"}}
    assert prometheus_peer["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}


def test_the_network_policy_can_be_switched_off():
    assert "NetworkPolicy/spy" not in build({"symbols": ["SPY"], "networkPolicy": {"enabled": False}})


def test_secrets_are_referenced_never_copied():
    children = build(FULL)
    (container,) = children["Deployment/spy"]["spec"]["template"]["spec"]["containers"]
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"]}
    assert refs == {
        "MASSIVE_API_KEY": {"name": "massive", "key": "apiKey"},
        "S3_ACCESS_KEY": {"name": "s3", "key": "S3_ACCESS_KEY"},
        "S3_SECRET_KEY": {"name": "s3", "key": "S3_SECRET_KEY"},
        "JOURNAL": {"name": "fleet-journal", "key": "url"},
    }
    data = children["ConfigMap/spy"]["data"]
    assert not {"MASSIVE_API_KEY", "S3_ACCESS_KEY", "S3_SECRET_KEY", "JOURNAL"} & set(data)
    assert data["S3_BUCKET"] == "bots" and data["S3_PREFIX"] == "trading/spy"


def test_pvcs_are_retained_by_default_and_owned_only_with_delete():
    retained = build({"symbols": ["SPY"]})
    for volume, size in (("models", "10Gi"), ("checkpoints", "50Gi"), ("logs", "20Gi")):
        claim = retained[f"PersistentVolumeClaim/spy-{volume}"]
        assert claim["metadata"]["ownerReferences"] == [] and claim["spec"]["resources"]["requests"]["storage"] == size
        assert "storageClassName" not in claim["spec"]
    deleted = build(FULL)
    (ref,) = deleted["PersistentVolumeClaim/spy-checkpoints"]["metadata"]["ownerReferences"]
    assert ref["uid"] == OWNER.uid and ref["controller"] is True
    assert deleted["PersistentVolumeClaim/spy-checkpoints"]["spec"]["storageClassName"] == "fast"
    assert deleted["PersistentVolumeClaim/spy-logs"]["spec"]["storageClassName"] == "cheap"
    for name in ("Deployment/spy", "Service/spy", "ConfigMap/spy", "NetworkPolicy/spy", "ServiceMonitor/spy"):
        assert deleted[name]["metadata"]["ownerReferences"] == [OWNER.reference()]


def test_a_spec_change_rolls_the_pod_but_suspending_does_not():
    def template(spec: dict) -> str:
        return json.dumps(build(spec)["Deployment/spy"]["spec"]["template"], sort_keys=True)

    base = {"symbols": ["SPY"]}
    assert template(base) == template(dict(base))
    assert template(base) != template({**base, "updateFrequency": 50})
    assert template(base) == template({**base, "suspend": True})
    assert build({**base, "suspend": True})["ConfigMap/spy-control"]["data"] == {"SUSPEND": "true"}


def test_the_service_exposes_a_named_metrics_port_and_the_monitor_scrapes_it():
    children = build(FULL)
    service = children["Service/spy"]
    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["ports"] == [{"name": "metrics", "port": 8000, "targetPort": "metrics", "protocol": "TCP"}]
    monitor = children["ServiceMonitor/spy"]
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()


@pytest.mark.parametrize(
    ("mode", "crd_present", "wanted"),
    [("Auto", True, True), ("Auto", False, False), ("Enabled", False, True), ("Disabled", True, False)],
)
def test_service_monitor_only_when_asked_for_and_possible(mode, crd_present, wanted):
    spec = parse_spec("spy", {"symbols": ["SPY"], "monitoring": {"serviceMonitor": mode}})
    assert builders.wants_service_monitor(spec, crd_present) is wanted
