"""config/monitoring offline: it renders, validates strictly, and its rules pass promtool's checks and tests."""

from __future__ import annotations

import json
import subprocess

import kubernetes_validate
import yaml

from prom_support import local_config
from tradingbot_operator import builders
from tradingbot_operator import identity as ids
from tradingbot_operator.spec import parse_spec

KUBERNETES = "1.32.0"


def by_kind(rendered, kind):
    return {o["metadata"]["name"]: o for o in rendered if o["kind"] == kind}


def test_the_stack_renders_and_every_object_validates(rendered):
    for obj in rendered:
        assert kubernetes_validate.validate(obj, KUBERNETES, strict=True), obj["metadata"]["name"]
    services = by_kind(rendered, "Service")
    assert (
        services["prometheus"]["spec"]["type"] == "ClusterIP"
        and services["prometheus"]["spec"]["ports"][0]["port"] == 9090
    )
    assert (
        services["grafana"]["spec"]["type"] == "LoadBalancer"
        and services["grafana"]["spec"]["ports"][0]["port"] == 3000
    )
    claims = by_kind(rendered, "PersistentVolumeClaim")
    assert claims["prometheus-data"]["spec"]["resources"]["requests"]["storage"] == "50Gi" and "grafana-data" in claims
    (container,) = by_kind(rendered, "Deployment")["prometheus"]["spec"]["template"]["spec"]["containers"]
    assert "--storage.tsdb.retention.time=30d" in container["args"]
    (role,) = by_kind(rendered, "ClusterRole").values()
    assert role["rules"] == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}]


def test_the_dashboard_ships_for_the_grafana_sidecar_and_is_provisioned(rendered):
    maps = by_kind(rendered, "ConfigMap")
    dashboards = {n.rsplit("-", 1)[0]: m for n, m in maps.items() if n.startswith("grafana-dashboard-")}
    assert set(dashboards) == {"grafana-dashboard-tradingbot", "grafana-dashboard-tradingbot-operator"}
    assert all(m["metadata"]["labels"]["grafana_dashboard"] == "1" for m in dashboards.values())
    board = json.loads(dashboards["grafana-dashboard-tradingbot"]["data"]["tradingbot.json"])
    assert [v["name"] for v in board["templating"]["list"]] == ["datasource", "namespace", "tradingbot"]
    titles = {p["title"] for p in board["panels"]}
    assert {
        "Portfolio value",
        "Win rate",
        "Trade distribution",
        "Reward accumulation",
        "Training losses",
        "Market data freshness",
        "Decision latency",
        "Risk budget",
        "Premium at risk",
        "Binding risk limit",
    } <= titles
    (provisioning,) = [m for n, m in maps.items() if n.startswith("grafana-provisioning")]
    datasources = yaml.safe_load(provisioning["data"]["datasources.yaml"])["datasources"]
    assert datasources[0]["uid"] == "prometheus" and datasources[0]["url"].startswith(
        "http://prometheus.monitoring.svc:9090"
    )
    operator = json.loads(dashboards["grafana-dashboard-tradingbot-operator"]["data"]["tradingbot-operator.json"])
    assert {"Bots managed", "Reconciles", "Reconcile errors", "API writes", "API retries"} <= {
        p["title"] for p in operator["panels"]
    }
    for dashboard in (board, operator):  # importable into any Grafana: the data source is a variable
        (variable,) = [v for v in dashboard["templating"]["list"] if v["type"] == "datasource"]
        assert variable["name"] == "datasource" and variable["query"] == "prometheus"
        assert all(p["datasource"]["uid"] == "${datasource}" for p in dashboard["panels"])
        assert all(t["datasource"]["uid"] == "${datasource}" for p in dashboard["panels"] for t in p["targets"])
        assert all(v["datasource"]["uid"] == "${datasource}" for v in dashboard["templating"]["list"][1:])
    (grafana,) = [d for n, d in by_kind(rendered, "Deployment").items() if n == "grafana"]
    mounted = {v["configMap"]["name"] for v in grafana["spec"]["template"]["spec"]["volumes"] if "configMap" in v}
    assert {"grafana-dashboard-tradingbot", "grafana-dashboard-tradingbot-operator"} <= {
        n.rsplit("-", 1)[0] if n.rsplit("-", 1)[0] in dashboards else n for n in mounted
    }


def test_the_prometheus_rule_carries_exactly_the_rules_file(monitoring):
    rules = yaml.safe_load((monitoring / "prometheus" / "rules.yml").read_text())
    rule = yaml.safe_load((monitoring / "prometheus-operator" / "prometheusrule.yaml").read_text())
    assert rule["kind"] == "PrometheusRule" and rule["metadata"]["labels"]["release"]
    assert rule["spec"] == rules


def test_rules_pass_promtool_and_every_alert_has_a_unit_test(monitoring, promtool):
    folder = monitoring / "prometheus"
    for args in (["check", "rules", "rules.yml"], ["test", "rules", "rules_test.yml"]):
        done = subprocess.run([promtool, *args], cwd=folder, capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
    alerts = {
        r["alert"]
        for g in yaml.safe_load((folder / "rules.yml").read_text())["groups"]
        for r in g["rules"]
        if "alert" in r
    }
    tested = {
        t["alertname"]
        for case in yaml.safe_load((folder / "rules_test.yml").read_text())["tests"]
        for t in case["alert_rule_test"]
    }
    assert (
        alerts
        == tested
        == {
            "TradingBotDown",
            "TradingBotMarketDataStale",
            "TradingBotNoTrainingUpdate",
            "TradingBotCheckpointTooOld",
            "TradingBotCheckpointSavesFailing",
            "TradingBotS3MirrorBehind",
            "TradingBotJournalBlocked",
            "TradingBotEntriesHalted",
            "TradingBotDrawdownHigh",
            "TradingBotDecisionLatencyHigh",
            "TradingBotOperatorDown",
            "TradingBotOperatorReconcileFailing",
        }
    )


def test_the_scrape_config_passes_promtool_with_file_discovery_in_place_of_kubernetes(monitoring, tmp_path, promtool):
    production = yaml.safe_load((monitoring / "prometheus" / "prometheus.yml").read_text())
    assert production["global"]["scrape_interval"] == "15s"
    assert all("kubernetes_sd_configs" in j for j in production["scrape_configs"] if j["job_name"] != "prometheus")
    targets = tmp_path / "targets.json"
    targets.write_text("[]")
    config = tmp_path / "prometheus.yml"
    config.write_text(yaml.safe_dump(local_config(production, monitoring / "prometheus" / "rules.yml", targets)))
    done = subprocess.run(
        [promtool, "check", "config", str(config)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_bots_service_monitor_and_the_operators_pod_monitor_label_series_as_the_standalone_config(monitoring):
    production = yaml.safe_load((monitoring / "prometheus" / "prometheus.yml").read_text())
    jobs = {j["job_name"] for j in production["scrape_configs"]}
    assert {builders.SCRAPE_JOB, "tradingbot-operator"} <= jobs
    owner = builders.Owner("spy", "trading", "uid")
    monitor = builders.service_monitor(owner, parse_spec("spy", {"symbols": ["SPY"]}))
    (endpoint,) = monitor["spec"]["endpoints"]
    assert {"action": "replace", "targetLabel": "job", "replacement": builders.SCRAPE_JOB} in endpoint["relabelings"]
    pod_monitor = yaml.safe_load((monitoring / "prometheus-operator" / "podmonitor.yaml").read_text())
    (endpoint,) = pod_monitor["spec"]["podMetricsEndpoints"]
    assert {"action": "replace", "targetLabel": "job", "replacement": "tradingbot-operator"} in endpoint["relabelings"]
    assert pod_monitor["spec"]["selector"]["matchLabels"] == ids.operator_selector_labels()
