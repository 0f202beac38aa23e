"""What a real API server adds and refuses on the kinds the operator writes, for the emulator.

``apply_defaults`` is the subset of Kubernetes 1.32's defaulting (``pkg/apis/*/v1/defaults.go``) that
shows on a TradingBot's children: the pod template's ``dnsPolicy``, ``restartPolicy``,
``schedulerName``, ``enableServiceLinks`` and ``securityContext``; containers' termination message,
pull policy, port protocols and probe settings; a ConfigMap volume's ``defaultMode``; a Service's
cluster IP, families, affinity and traffic policy; a NetworkPolicy's ``policyTypes``; a claim's
``volumeMode``. It runs on every write, as the API server's decoding does, so an operator that does
not tolerate defaults it never asked for writes on every reconcile here too.

``drop_empty_metadata`` stores ObjectMeta's empty ``omitempty`` fields as absent, as Go's encoding does.

``admit_claim`` is the claim rules of validation and admission: the DefaultStorageClass plugin fills
in the default class at creation; afterwards the spec is immutable except the storage request, which
may not shrink and may grow only when the claim's StorageClass has ``allowVolumeExpansion`` (the
PersistentVolumeClaimResize plugin, a 403).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from decimal import Decimal
from typing import Any

Obj = dict[str, Any]
DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"


class RefusedError(Exception):
    """A write the API server refuses: ``code`` and ``reason`` as in its Status answer."""

    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message


def _probe(probe: Obj) -> None:
    for key, value in (("timeoutSeconds", 1), ("periodSeconds", 10), ("successThreshold", 1), ("failureThreshold", 3)):
        probe.setdefault(key, value)
    if isinstance(probe.get("httpGet"), dict):
        probe["httpGet"].setdefault("scheme", "HTTP")


def _container(container: Obj) -> None:
    container.setdefault("terminationMessagePath", "/dev/termination-log")
    container.setdefault("terminationMessagePolicy", "File")
    if "imagePullPolicy" not in container:
        image = str(container.get("image", ""))
        tagged = ":" in image.rsplit("/", 1)[-1] and not image.endswith(":latest")
        container["imagePullPolicy"] = "IfNotPresent" if tagged or "@" in image else "Always"
    for port in container.get("ports") or []:
        port.setdefault("protocol", "TCP")
    for kind in ("livenessProbe", "readinessProbe", "startupProbe"):
        if isinstance(container.get(kind), dict):
            _probe(container[kind])


def _pod_spec(spec: Obj) -> None:
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("enableServiceLinks", True)
    if spec.get("serviceAccountName"):
        spec["serviceAccount"] = spec["serviceAccountName"]  # v1's deprecated mirror, set by conversion
    for container in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
        _container(container)
    for volume in spec.get("volumes") or []:
        for source in ("configMap", "secret"):
            if isinstance(volume.get(source), dict):
                volume[source].setdefault("defaultMode", 0o644)


def _deployment(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    strategy = spec.setdefault("strategy", {})
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        strategy.setdefault("rollingUpdate", {}).update(
            {k: v for k, v in (("maxUnavailable", "25%"), ("maxSurge", "25%")) if k not in strategy["rollingUpdate"]}
        )
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    template = spec.setdefault("template", {})
    template.setdefault("metadata", {}).setdefault("creationTimestamp", None)
    _pod_spec(template.setdefault("spec", {}))


def _service(obj: Obj, allocate: Callable[[], str]) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    if spec["type"] != "ExternalName":
        if "clusterIP" not in spec:
            spec["clusterIP"] = allocate()
        spec.setdefault("clusterIPs", [spec["clusterIP"]])
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
        spec.setdefault("internalTrafficPolicy", "Cluster")
    for port in spec.get("ports") or []:
        port.setdefault("protocol", "TCP")
        port.setdefault("targetPort", port.get("port"))
    obj.setdefault("status", {"loadBalancer": {}})


def _network_policy(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    if not spec.get("policyTypes"):
        spec["policyTypes"] = ["Ingress", *(["Egress"] if spec.get("egress") else [])]
    for rule in [*(spec.get("ingress") or []), *(spec.get("egress") or [])]:
        for port in rule.get("ports") or []:
            port.setdefault("protocol", "TCP")


def drop_empty_metadata(obj: Obj) -> None:
    """Empty ``labels``, ``annotations``, ``ownerReferences`` and ``finalizers`` are stored as absent
    (they are ``omitempty`` in ObjectMeta: an apply of ``[]`` reads back as nothing)."""
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        for key in ("labels", "annotations", "ownerReferences", "finalizers"):
            if key in meta and not meta[key]:
                del meta[key]


def apply_defaults(kind: str, obj: Obj, allocate_ip: Callable[[], str], keep: Obj | None = None) -> None:
    """Fill in ``obj``'s server defaults in place; ``keep`` is the stored object of an update (a
    Service keeps its allocated cluster IP)."""
    if kind == "Deployment":
        _deployment(obj)
    elif kind == "Service":
        if keep is not None:
            for key in ("clusterIP", "clusterIPs"):
                if key in (keep.get("spec") or {}) and key not in obj.setdefault("spec", {}):
                    obj["spec"][key] = copy.deepcopy(keep["spec"][key])
        _service(obj, allocate_ip)
    elif kind == "NetworkPolicy":
        _network_policy(obj)
    elif kind == "PersistentVolumeClaim":
        obj.setdefault("spec", {}).setdefault("volumeMode", "Filesystem")


_SUFFIXES = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}


def _bytes(value: object) -> Decimal:
    text = str(value)
    for suffix, factor in sorted(_SUFFIXES.items(), key=lambda item: -len(item[0])):
        if text.endswith(suffix):
            return Decimal(text[: -len(suffix)]) * factor
    return Decimal(text)


def _request(claim: Obj) -> object:
    return (((claim.get("spec") or {}).get("resources") or {}).get("requests") or {}).get("storage")


def admit_claim(new: Obj, old: Obj | None, storage_classes: list[Obj]) -> None:
    """Apply the claim rules to a create (``old`` is ``None``) or an update of the main resource."""
    spec = new.setdefault("spec", {})
    if old is None:
        if spec.get("storageClassName") is None:
            default = [
                c
                for c in storage_classes
                if ((c.get("metadata") or {}).get("annotations") or {}).get(DEFAULT_CLASS_ANNOTATION) == "true"
            ]
            if default:
                spec["storageClassName"] = default[-1]["metadata"]["name"]
        return
    old_spec = old.get("spec") or {}

    def without_request(claim_spec: Obj) -> Obj:
        stripped = copy.deepcopy(claim_spec)
        (stripped.get("resources") or {}).pop("requests", None)
        return stripped

    if without_request(spec) != without_request(old_spec):
        raise RefusedError(
            422,
            "Invalid",
            f'PersistentVolumeClaim "{new["metadata"]["name"]}" is invalid: spec: Forbidden: spec is immutable '
            "after creation except resources.requests and volumeAttributesClassName for bound claims",
        )
    before, after = _request(old), _request(new)
    if before is None or after is None or _bytes(after) == _bytes(before):
        return
    if _bytes(after) < _bytes(before):
        raise RefusedError(
            422,
            "Invalid",
            f'PersistentVolumeClaim "{new["metadata"]["name"]}" is invalid: spec.resources.requests.storage: '
            "Forbidden: field can not be less than previous value",
        )
    classes = {c["metadata"]["name"]: c for c in storage_classes}
    storage_class = classes.get(str(spec.get("storageClassName")))
    if storage_class is None or storage_class.get("allowVolumeExpansion") is not True:
        raise RefusedError(
            403,
            "Forbidden",
            f'persistentvolumeclaims "{new["metadata"]["name"]}" is forbidden: only dynamically provisioned pvc '
            "can be resized and the storageclass that provisions the pvc must support resize",
        )


def storage_class(name: str, expandable: bool, default: bool = False) -> Obj:
    """A StorageClass whose volumes can grow (``expandable``), marked as the cluster's default or not."""
    annotations = {DEFAULT_CLASS_ANNOTATION: "true"} if default else {}
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": name, "annotations": annotations},
        "provisioner": "example.com/csi",
        "allowVolumeExpansion": expandable,
    }
