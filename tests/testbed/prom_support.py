"""Run the production Prometheus configuration on a laptop: Debian's Prometheus is built without
Kubernetes service discovery, so the tests swap each job's ``kubernetes_sd_configs`` for a file
discovery that hands Prometheus the very ``__meta_kubernetes_*`` labels Kubernetes discovery would
attach to a pod. The production relabelling then runs unchanged against those labels.
"""

from __future__ import annotations

import re
from copy import deepcopy
from pathlib import Path
from typing import Any


def _sanitize(name: str) -> str:
    """A Kubernetes label name as Prometheus writes it in a meta label."""
    return re.sub(r"[^a-zA-Z0-9_]", "_", name)


def pod_discovery_labels(pod_template: dict[str, Any], namespace: str, pod_name: str, port_name: str) -> dict[str, str]:
    """The meta labels Kubernetes pod discovery gives a running pod of ``pod_template`` on ``port_name``."""
    labels = {f"__meta_kubernetes_pod_label_{_sanitize(k)}": v for k, v in pod_template["metadata"]["labels"].items()}
    labels.update(
        {f"__meta_kubernetes_pod_labelpresent_{_sanitize(k)}": "true" for k in pod_template["metadata"]["labels"]}
    )
    labels.update(
        {
            f"__meta_kubernetes_pod_annotation_{_sanitize(k)}": v
            for k, v in pod_template["metadata"].get("annotations", {}).items()
        }
    )
    labels.update(
        __meta_kubernetes_namespace=namespace,
        __meta_kubernetes_pod_name=pod_name,
        __meta_kubernetes_pod_phase="Running",
        __meta_kubernetes_pod_container_port_name=port_name,
    )
    return labels


def local_config(production: dict[str, Any], rules: Path, targets: Path, interval_s: int = 1) -> dict[str, Any]:
    """``production`` with file discovery from ``targets`` in place of Kubernetes discovery, fast intervals."""
    config = deepcopy(production)
    config["global"] = {"scrape_interval": f"{interval_s}s", "evaluation_interval": f"{interval_s}s"}
    config["rule_files"] = [str(rules)]
    for job in config["scrape_configs"]:
        if job.pop("kubernetes_sd_configs", None) is not None:
            job["file_sd_configs"] = [{"files": [str(targets)], "refresh_interval": f"{interval_s}s"}]
    return config
