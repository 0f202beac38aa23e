"""config/monitoring offline: it renders, validates strictly, and its rules pass promtool's checks and tests."""

from __future__ import annotations

import json
import subprocess

import kubernetes_validate
import yaml

from prom_support import local_config

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
    (dashboard,) = [m for n, m in maps.items() if n.startswith("grafana-dashboard-tradingbot")]
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    board = json.loads(dashboard["data"]["tradingbot.json"])
    assert [v["name"] for v in board["templating"]["list"]] == ["namespace", "tradingbot"]
    titles = {p["title"] for p in board["panels"]}
    assert {
        "Portfolio value",
        "Win rate",
        "Trade distribution",
        "Reward accumulation",
        "Training losses",
        "Market data freshness",
        "Decision latency",
    } <= titles
    (provisioning,) = [m for n, m in maps.items() if n.startswith("grafana-provisioning")]
    datasources = yaml.safe_load(provisioning["data"]["datasources.yaml"])["datasources"]
    assert datasources[0]["uid"] == "prometheus" and datasources[0]["url"].startswith(
        "http://prometheus.monitoring.svc:9090"
    )
    assert all(p["datasource"]["uid"] == "prometheus" for p in board["panels"])


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
            "TradingBotDrawdownHigh",
            "TradingBotDecisionLatencyHigh",
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
