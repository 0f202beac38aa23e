"""Run a production Prometheus configuration on a laptop: Debian's Prometheus is built without
Kubernetes service discovery, so the tests swap each job's ``kubernetes_sd_configs`` for a file
discovery that hands Prometheus the very ``__meta_kubernetes_*`` labels Kubernetes discovery would
attach to a pod (role ``pod``) or to a Service's endpoint (role ``endpoints``), and keep only the
namespaces the discovery was limited to. The production relabelling then runs unchanged against them.
"""

from __future__ import annotations

from copy import deepcopy
from pathlib import Path
from typing import Any

from promop import sanitize

Labels = dict[str, str]


def _object_labels(kind: str, metadata: dict[str, Any]) -> Labels:
    labels = {f"__meta_kubernetes_{kind}_label_{sanitize(k)}": v for k, v in (metadata.get("labels") or {}).items()}
    labels.update(
        {f"__meta_kubernetes_{kind}_labelpresent_{sanitize(k)}": "true" for k in metadata.get("labels") or {}}
    )
    labels.update(
        {
            f"__meta_kubernetes_{kind}_annotation_{sanitize(k)}": v
            for k, v in (metadata.get("annotations") or {}).items()
        }
    )
    return labels


def pod_discovery_labels(
    pod_template: dict[str, Any], namespace: str, pod_name: str, port_name: str, container: str = "bot"
) -> Labels:
    """The meta labels Kubernetes pod discovery gives a running pod of ``pod_template`` on ``port_name``."""
    labels = _object_labels("pod", pod_template["metadata"])
    labels.update(
        __meta_kubernetes_namespace=namespace,
        __meta_kubernetes_pod_name=pod_name,
        __meta_kubernetes_pod_phase="Running",
        __meta_kubernetes_pod_ready="true",
        __meta_kubernetes_pod_container_name=container,
        __meta_kubernetes_pod_container_port_name=port_name,
    )
    return labels


def endpoint_discovery_labels(
    service: dict[str, Any], pod_template: dict[str, Any], namespace: str, pod_name: str, port_name: str
) -> Labels:
    """The meta labels Kubernetes endpoints discovery gives the address of a ready pod of ``pod_template``
    behind ``service``, on the service port ``port_name``: the endpoint's, the Service's and the pod's."""
    labels = pod_discovery_labels(pod_template, namespace, pod_name, port_name)
    labels.update(_object_labels("service", service["metadata"]))
    labels.update(
        __meta_kubernetes_service_name=service["metadata"]["name"],
        __meta_kubernetes_endpoints_name=service["metadata"]["name"],
        __meta_kubernetes_endpoint_port_name=port_name,
        __meta_kubernetes_endpoint_port_protocol="TCP",
        __meta_kubernetes_endpoint_ready="true",
        __meta_kubernetes_endpoint_address_target_kind="Pod",
        __meta_kubernetes_endpoint_address_target_name=pod_name,
    )
    return labels


def local_config(production: dict[str, Any], rules: Path, targets: Path, interval_s: int = 1) -> dict[str, Any]:
    """``production`` with file discovery from ``targets`` in place of Kubernetes discovery, fast intervals."""
    config = deepcopy(production)
    config["global"] = {"scrape_interval": f"{interval_s}s", "evaluation_interval": f"{interval_s}s"}
    config["rule_files"] = [str(rules)]
    for job in config["scrape_configs"]:
        discovery = job.pop("kubernetes_sd_configs", None)
        if discovery is None:
            continue
        job["file_sd_configs"] = [{"files": [str(targets)], "refresh_interval": f"{interval_s}s"}]
        job.pop("scrape_interval", None)  # the test's fast interval for every job
        names = [n for d in discovery for n in (d.get("namespaces") or {}).get("names", [])]
        if names:  # what discovery limited to these namespaces would have found
            keep = {"action": "keep", "source_labels": ["__meta_kubernetes_namespace"], "regex": "|".join(names)}
            job["relabel_configs"] = [keep, *job.get("relabel_configs", [])]
    return config
