"""Pure builders: a TradingBot (name, namespace, uid, validated spec) → the manifests of its children.

Nothing here talks to the API. Each builder returns a plain dict ready to create or merge-patch; the
same input always gives the same output, which is what makes reconciling idempotent.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from tradingbot_contract import env, pod
from tradingbot_contract.pod import BOT_UID
from tradingbot_operator import __version__
from tradingbot_operator import identity as ids
from tradingbot_operator.spec import LabelSelector, TradingBotSpec

Manifest = dict[str, Any]
VOLUMES = ("models", "checkpoints", "logs")
CONFIG_HASH_ANNOTATION = f"{ids.GROUP}/config-hash"
SCRAPE_JOB = "tradingbots"
"""The ``job`` label of every bot's series, under the standalone Prometheus and the Prometheus Operator."""
GRACE_PERIOD_S = 30  # SIGTERM → final checkpoint → exit; the bot finishes well inside it


@dataclass(frozen=True)
class Cluster:
    """What the operator knows of the cluster that shapes the children."""

    service_monitor_crd: bool = False
    """The Prometheus Operator's ServiceMonitor CRD is installed."""
    operator_namespace: str = "trading-bot"
    """Where the operator runs: its pods may read the bots' ``/status`` through their NetworkPolicy."""


@dataclass(frozen=True)
class Owner:
    """The TradingBot that owns the children."""

    name: str
    namespace: str
    uid: str

    def reference(self) -> Manifest:
        """An ownerReference to this bot (garbage collection removes the child with it)."""
        return {
            "apiVersion": ids.API_VERSION,
            "kind": ids.KIND,
            "name": self.name,
            "uid": self.uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }


def child_name(owner: Owner, volume: str | None = None) -> str:
    """``<bot>`` for the Deployment, Service and ConfigMap; ``<bot>-<volume>`` for a PVC."""
    return owner.name if volume is None else f"{owner.name}-{volume}"


def control_name(owner: Owner) -> str:
    """The ConfigMap of runtime switches, mounted (not in env) so that flipping one restarts nothing."""
    return f"{owner.name}-control"


def _metadata(owner: Owner, name: str, component: str, owned: bool = True) -> Manifest:
    meta: Manifest = {"name": name, "namespace": owner.namespace, "labels": ids.labels(owner.name, component)}
    # an explicit empty list drops a reference left from an earlier retention policy of Delete
    meta["ownerReferences"] = [owner.reference()] if owned else []
    return meta


def _rendered(value: object) -> str:
    """A spec value as the bot's environment takes it (lists comma-separated, booleans lower-case)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return str(value)


def _at(document: dict[str, Any], path: str) -> object:
    """The value at a dotted path of a spec dump, ``None`` where any part is missing."""
    value: object = document
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def bot_environment(owner: Owner, spec: TradingBotSpec) -> dict[str, str]:
    """The bot's settings as environment variables (names from the contract); no secrets.

    Every variable a TradingBot sets (``source == "spec"``) is rendered from its spec path, defaults
    included, so the ConfigMap is the bot's whole configuration; the operator adds the pod's layout.
    """
    dumped = spec.model_dump(by_alias=True)
    environment = {}
    for variable in env.VARIABLES:
        if variable.source == "spec" and variable.spec is not None:
            value = _at(dumped, variable.spec)
            if value is not None:
                environment[variable.name] = _rendered(value)
    if spec.market_data.replay_file is not None:
        environment[env.REPLAY_FILE.name] = f"{ids.MODELS_PATH}/{spec.market_data.replay_file}"
    if spec.s3 is not None and spec.s3.prefix is None:
        environment[env.S3_PREFIX.name] = f"{owner.namespace}/{owner.name}"
    layout = {
        env.BOT_NAME: owner.name,
        env.DEVICE: "auto" if spec.gpu.count > 0 else "cpu",
        env.GPU_COUNT: str(spec.gpu.count),
        env.HTTP_HOST: "0.0.0.0",  # noqa: S104 - the pod's own address space; the Service fronts it
        env.HTTP_PORT: str(ids.HTTP_PORT),
        env.CHECKPOINT_DIR: ids.CHECKPOINTS_PATH,
        env.MODEL_DIR: ids.MODELS_PATH,
        env.LOG_DIR: ids.LOGS_PATH,
        env.CONTROL_DIR: ids.CONTROL_PATH,
    }
    environment.update({variable.name: value for variable, value in layout.items()})
    environment.update(env.NUMERIC_LIBRARY_VARIABLES)
    return environment


def secret_environment(spec: TradingBotSpec) -> list[Manifest]:
    """Environment variables taken from Secrets by reference; the operator never reads a Secret."""
    refs: list[tuple[env.Variable, str, str]] = []
    if spec.market_data.credentials_secret_ref is not None:
        ref = spec.market_data.credentials_secret_ref
        refs.append((env.MASSIVE_API_KEY, ref.name, ref.key))
    if spec.journal.postgres_secret_ref is not None:
        journal = spec.journal.postgres_secret_ref
        refs.append((env.JOURNAL, journal.name, journal.key))
    if spec.s3 is not None and spec.s3.credentials_secret_ref is not None:
        s3 = spec.s3.credentials_secret_ref
        refs.append((env.S3_ACCESS_KEY, s3.name, s3.access_key_id_key))
        refs.append((env.S3_SECRET_KEY, s3.name, s3.secret_access_key_key))
    return [
        {"name": variable.name, "valueFrom": {"secretKeyRef": {"name": name, "key": key}}}
        for variable, name, key in refs
    ]


def config_map(owner: Owner, spec: TradingBotSpec) -> Manifest:
    """The bot's settings, consumed with ``envFrom``."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _metadata(owner, child_name(owner), "config"),
        "data": bot_environment(owner, spec),
    }


def control_map(owner: Owner, spec: TradingBotSpec) -> Manifest:
    """Runtime switches the bot polls from its mounted ``CONTROL_DIR``."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _metadata(owner, control_name(owner), "control"),
        "data": {env.SUSPEND.name: _rendered(spec.suspend)},
    }


def persistent_volume_claim(owner: Owner, spec: TradingBotSpec, volume: str) -> Manifest:
    """The ``volume`` PVC; owned (deleted with the bot) only when the retention policy is ``Delete``."""
    wanted = getattr(spec.storage, volume)
    claim: Manifest = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": _metadata(
            owner, child_name(owner, volume), volume, owned=spec.storage.retention_policy == "Delete"
        ),
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": wanted.size}},
        },
    }
    storage_class = spec.storage.class_of(wanted)
    if storage_class is not None:
        claim["spec"]["storageClassName"] = storage_class
    return claim


def _config_hash(owner: Owner, spec: TradingBotSpec) -> str:
    """Changes exactly when the pod must restart: its environment changed (``SUSPEND`` aside: the running
    bot follows the mounted control file, so suspending or resuming keeps the pod)."""
    environment = {k: v for k, v in bot_environment(owner, spec).items() if k != env.SUSPEND.name}
    payload = json.dumps([environment, secret_environment(spec)], sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _probe(path: str, period_s: int, failures: int) -> Manifest:
    return {
        "httpGet": {"path": path, "port": ids.HTTP_PORT_NAME},
        "periodSeconds": period_s,
        "timeoutSeconds": 3,
        "failureThreshold": failures,
    }


def _container(owner: Owner, spec: TradingBotSpec) -> Manifest:
    limits: Manifest = {"cpu": str(spec.resources.limits.cpu), "memory": str(spec.resources.limits.memory)}
    requests: Manifest = {"cpu": str(spec.resources.requests.cpu), "memory": str(spec.resources.requests.memory)}
    if spec.gpu.count > 0:
        limits["nvidia.com/gpu"] = str(spec.gpu.count)
        requests["nvidia.com/gpu"] = str(spec.gpu.count)
    container: Manifest = {
        "name": "bot",
        "image": spec.bot_image(__version__),
        "imagePullPolicy": spec.image_pull_policy,
        "args": ["run"],
        "ports": [{"name": ids.HTTP_PORT_NAME, "containerPort": ids.HTTP_PORT, "protocol": "TCP"}],
        "envFrom": [{"configMapRef": {"name": child_name(owner)}}],
        "resources": {"requests": requests, "limits": limits},
        # checkpoint restore and the first market data: up to 5 minutes before liveness counts
        "startupProbe": _probe(pod.HEALTH_PATH, 5, 60),
        "livenessProbe": _probe(pod.HEALTH_PATH, 15, 4),
        "readinessProbe": _probe(pod.READY_PATH, 10, 3),
        "volumeMounts": [
            {"name": "models", "mountPath": ids.MODELS_PATH, "readOnly": True},
            {"name": "checkpoints", "mountPath": ids.CHECKPOINTS_PATH},
            {"name": "logs", "mountPath": ids.LOGS_PATH},
            {"name": "control", "mountPath": ids.CONTROL_PATH, "readOnly": True},
            {"name": "tmp", "mountPath": ids.TMP_PATH},
        ],
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }
    secrets = secret_environment(spec)
    if secrets:
        container["env"] = secrets
    return container


def deployment(owner: Owner, spec: TradingBotSpec) -> Manifest:
    """The bot: one replica, ``Recreate`` (one portfolio, ReadWriteOnce volumes: never two pods at once)."""
    pod_labels = {**spec.pod_labels, **ids.labels(owner.name, "bot")}
    pod_spec: Manifest = {
        # a ServiceAccount for workload identity (IRSA, GKE, Azure) needs no mounted API token either
        "automountServiceAccountToken": False,
        "terminationGracePeriodSeconds": GRACE_PERIOD_S,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": BOT_UID,
            "runAsGroup": BOT_UID,
            "fsGroup": BOT_UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [_container(owner, spec)],
        "volumes": [
            *(
                {"name": volume, "persistentVolumeClaim": {"claimName": child_name(owner, volume)}}
                for volume in VOLUMES
            ),
            {"name": "control", "configMap": {"name": control_name(owner)}},
            {"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}},
        ],
    }
    _scheduling(spec, pod_spec)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(owner, child_name(owner), "bot"),
        "spec": {
            "replicas": 1,
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": ids.selector_labels(owner.name)},
            "template": {
                "metadata": {
                    "labels": pod_labels,
                    "annotations": {
                        **spec.pod_annotations,
                        CONFIG_HASH_ANNOTATION: _config_hash(owner, spec),
                        "prometheus.io/scrape": "true",
                        "prometheus.io/port": str(ids.HTTP_PORT),
                        "prometheus.io/path": pod.METRICS_PATH,
                    },
                },
                "spec": pod_spec,
            },
        },
    }


def _scheduling(spec: TradingBotSpec, pod_spec: Manifest) -> None:
    """Where and as whom the pod runs: the deploy knobs of the spec, and the GPU's toleration."""
    tolerations = [t.manifest() for t in spec.tolerations]
    if spec.gpu.count > 0:
        tolerations.append({"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"})
    node_selector = {**spec.node_selector, **spec.gpu.node_selector}
    optional: Manifest = {
        "serviceAccountName": spec.service_account_name,
        "imagePullSecrets": [{"name": s.name} for s in spec.image_pull_secrets],
        "tolerations": tolerations,
        "nodeSelector": node_selector,
        "affinity": spec.affinity,
        "priorityClassName": spec.priority_class_name,
    }
    pod_spec.update({k: v for k, v in optional.items() if v})


def _selector(selector: LabelSelector) -> Manifest:
    return {"matchLabels": dict(selector.match_labels)}


def network_policy(owner: Owner, spec: TradingBotSpec, cluster: Cluster) -> Manifest:
    """Ingress to the bot's pod only on its HTTP port, only from the operator and from Prometheus.

    ``/status`` shows positions and settings: nothing else in the cluster may read it. Egress stays open
    (market data, S3, DNS); the README shows a stricter policy to add by hand.
    """
    prometheus = spec.network_policy.prometheus
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _metadata(owner, child_name(owner), "bot"),
        "spec": {
            "podSelector": {"matchLabels": ids.selector_labels(owner.name)},
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "from": [
                        {
                            "namespaceSelector": {
                                "matchLabels": {ids.NAMESPACE_NAME_LABEL: cluster.operator_namespace}
                            },
                            "podSelector": {"matchLabels": ids.operator_selector_labels()},
                        },
                        {
                            "namespaceSelector": _selector(prometheus.namespace_selector),
                            "podSelector": _selector(prometheus.pod_selector),
                        },
                    ],
                    "ports": [{"port": ids.HTTP_PORT, "protocol": "TCP"}],
                }
            ],
        },
    }


def service(owner: Owner) -> Manifest:
    """ClusterIP in front of the bot's HTTP port, named ``metrics`` for ServiceMonitors and discovery."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(owner, child_name(owner), "bot"),
        "spec": {
            "type": "ClusterIP",
            "selector": ids.selector_labels(owner.name),
            "ports": [
                {"name": ids.HTTP_PORT_NAME, "port": ids.HTTP_PORT, "targetPort": ids.HTTP_PORT_NAME, "protocol": "TCP"}
            ],
        },
    }


def service_monitor(owner: Owner, spec: TradingBotSpec) -> Manifest:
    """A Prometheus Operator ServiceMonitor for the bot's Service (extra labels e.g. ``release``).

    Its relabelings give the bot's series the labels of the standalone configuration
    (config/monitoring/prometheus): ``job="tradingbots"``, ``namespace``, ``pod`` and ``tradingbot``,
    without the ``service``, ``container`` and ``endpoint`` labels the Prometheus Operator adds, so the
    dashboard, the recording rules and the alerts work the same under either.
    """
    meta = _metadata(owner, child_name(owner), "bot")
    meta["labels"] = {**spec.monitoring.labels, **meta["labels"]}
    relabelings = [
        {"action": "replace", "targetLabel": "job", "replacement": SCRAPE_JOB},
        {
            "action": "replace",
            "sourceLabels": [f"__meta_kubernetes_pod_label_{_prometheus_name(ids.BOT_LABEL)}"],
            "targetLabel": "tradingbot",
        },
        {"action": "labeldrop", "regex": "service|container|endpoint"},
    ]
    endpoint = {"port": ids.HTTP_PORT_NAME, "path": pod.METRICS_PATH, "interval": "15s", "relabelings": relabelings}
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": meta,
        "spec": {
            "selector": {"matchLabels": {**ids.selector_labels(owner.name), ids.COMPONENT_LABEL: "bot"}},
            "endpoints": [endpoint],
        },
    }


def _prometheus_name(label: str) -> str:
    """A Kubernetes label name as Prometheus discovery spells it in a meta label."""
    return "".join(c if c.isalnum() or c == "_" else "_" for c in label)


def wants_service_monitor(spec: TradingBotSpec, crd_present: bool) -> bool:
    """``Enabled`` always (a missing CRD is then an error), ``Auto`` when the CRD exists, ``Disabled`` never."""
    mode = spec.monitoring.service_monitor
    return mode == "Enabled" or (mode == "Auto" and crd_present)


def children(owner: Owner, spec: TradingBotSpec, cluster: Cluster) -> list[Manifest]:
    """Every child, in the order they are applied (volumes and config before the Deployment that uses them)."""
    manifests = [persistent_volume_claim(owner, spec, volume) for volume in VOLUMES]
    manifests += [config_map(owner, spec), control_map(owner, spec), deployment(owner, spec), service(owner)]
    if spec.network_policy.enabled:
        manifests.append(network_policy(owner, spec, cluster))
    if wants_service_monitor(spec, cluster.service_monitor_crd):
        manifests.append(service_monitor(owner, spec))
    return manifests
