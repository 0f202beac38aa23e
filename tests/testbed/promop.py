"""The scrape configuration the Prometheus Operator generates for a ServiceMonitor or a PodMonitor.

No Prometheus Operator runs here, so the monitoring tests translate the monitors themselves, following
the mapping of prometheus-operator's ``pkg/prometheus/promcfg.go`` (``generateServiceMonitorConfig``
and ``generatePodMonitorConfig``, the ``endpoints`` discovery role, one shard), in the same order:

1. ``job`` is copied to ``__tmp_prometheus_job_name``;
2. the selector's ``matchLabels`` become ``keep`` rules on ``__meta_kubernetes_service_label_<k>`` (pods:
   ``__meta_kubernetes_pod_label_<k>``) and its ``labelpresent`` twin, regex ``(<value>);true``;
3. the endpoint's named ``port`` is kept (``__meta_kubernetes_endpoint_port_name``; pods:
   ``__meta_kubernetes_pod_container_port_name``);
4. ServiceMonitor: ``node`` or ``pod`` from the endpoint address's target; then ``namespace``,
   ``service``, ``pod``, ``container`` (PodMonitor: ``namespace``, ``container``, ``pod``);
5. ``job`` is the Service's name (PodMonitor: ``<namespace>/<name>`` of the monitor), ``endpoint`` the
   port's name;
6. the endpoint's own ``relabelings``, in order;
7. the sharding pair (``hashmod`` of ``__address__`` into ``__tmp_hash``, ``keep`` shard 0).

Discovery is limited to the monitor's namespace (or its ``namespaceSelector.matchNames``).
"""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]
_RELABEL_KEYS = {
    "sourceLabels": "source_labels",
    "separator": "separator",
    "targetLabel": "target_label",
    "regex": "regex",
    "modulus": "modulus",
    "replacement": "replacement",
    "action": "action",
}


def sanitize(name: str) -> str:
    """A Kubernetes label name as Prometheus discovery writes it in a meta label."""
    return "".join(c if c.isalnum() or c == "_" else "_" for c in name)


def _relabel(rule: Obj) -> Obj:
    return {_RELABEL_KEYS[k]: v for k, v in rule.items() if k in _RELABEL_KEYS}


def _selector_rules(selector: Obj, kind: str) -> list[Obj]:
    return [
        {
            "action": "keep",
            "source_labels": [
                f"__meta_kubernetes_{kind}_label_{sanitize(k)}",
                f"__meta_kubernetes_{kind}_labelpresent_{sanitize(k)}",
            ],
            "regex": f"({v});true",
        }
        for k, v in sorted((selector.get("matchLabels") or {}).items())
    ]


def _sharding() -> list[Obj]:
    return [
        {"source_labels": ["__address__"], "target_label": "__tmp_hash", "modulus": 1, "action": "hashmod"},
        {"source_labels": ["__tmp_hash"], "regex": "0", "action": "keep"},
    ]


def _discovery(monitor: Obj) -> list[Obj]:
    names = (monitor["spec"].get("namespaceSelector") or {}).get("matchNames") or [monitor["metadata"]["namespace"]]
    return [{"role": "endpoints" if monitor["kind"] == "ServiceMonitor" else "pod", "namespaces": {"names": names}}]


def _job(job_name: str, monitor: Obj, endpoint: Obj, generated: list[Obj]) -> Obj:
    """The scrape config: the generated relabelings, then the endpoint's own, then sharding."""
    config: Obj = {"job_name": job_name, "honor_labels": False, "kubernetes_sd_configs": _discovery(monitor)}
    for source, target in (("interval", "scrape_interval"), ("path", "metrics_path"), ("scheme", "scheme")):
        if endpoint.get(source):
            config[target] = endpoint[source]
    own = [_relabel(r) for r in endpoint.get("relabelings") or []]
    config["relabel_configs"] = generated + own + _sharding()
    config["metric_relabel_configs"] = [_relabel(r) for r in endpoint.get("metricRelabelings") or []]
    return config


def service_monitor_jobs(monitor: Obj) -> list[Obj]:
    """One scrape config per endpoint of a ServiceMonitor."""
    namespace, name = monitor["metadata"]["namespace"], monitor["metadata"]["name"]
    jobs = []
    for index, endpoint in enumerate(monitor["spec"]["endpoints"]):
        target = ["__meta_kubernetes_endpoint_address_target_kind", "__meta_kubernetes_endpoint_address_target_name"]
        rules: list[Obj] = [{"source_labels": ["job"], "target_label": "__tmp_prometheus_job_name"}]
        rules += _selector_rules(monitor["spec"]["selector"], "service")
        rules.append(
            {"action": "keep", "source_labels": ["__meta_kubernetes_endpoint_port_name"], "regex": endpoint["port"]}
        )
        rules += [
            {
                "source_labels": target,
                "separator": ";",
                "regex": "Node;(.*)",
                "replacement": "${1}",
                "target_label": "node",
            },
            {
                "source_labels": target,
                "separator": ";",
                "regex": "Pod;(.*)",
                "replacement": "${1}",
                "target_label": "pod",
            },
            {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
            {"source_labels": ["__meta_kubernetes_service_name"], "target_label": "service"},
            {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
            {"source_labels": ["__meta_kubernetes_pod_container_name"], "target_label": "container"},
            {"source_labels": ["__meta_kubernetes_service_name"], "target_label": "job", "replacement": "${1}"},
            {"target_label": "endpoint", "replacement": endpoint["port"]},
        ]
        jobs.append(_job(f"serviceMonitor/{namespace}/{name}/{index}", monitor, endpoint, rules))
    return jobs


def pod_monitor_jobs(monitor: Obj) -> list[Obj]:
    """One scrape config per endpoint of a PodMonitor."""
    namespace, name = monitor["metadata"]["namespace"], monitor["metadata"]["name"]
    jobs = []
    for index, endpoint in enumerate(monitor["spec"]["podMetricsEndpoints"]):
        rules: list[Obj] = [{"source_labels": ["job"], "target_label": "__tmp_prometheus_job_name"}]
        rules += _selector_rules(monitor["spec"]["selector"], "pod")
        rules.append(
            {
                "action": "keep",
                "source_labels": ["__meta_kubernetes_pod_container_port_name"],
                "regex": endpoint["port"],
            }
        )
        rules += [
            {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
            {"source_labels": ["__meta_kubernetes_pod_container_name"], "target_label": "container"},
            {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
            {"target_label": "job", "replacement": f"{namespace}/{name}"},
            {"target_label": "endpoint", "replacement": endpoint["port"]},
        ]
        jobs.append(_job(f"podMonitor/{namespace}/{name}/{index}", monitor, endpoint, rules))
    return jobs
