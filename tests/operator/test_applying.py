"""Drift detection: a child matches its manifest when the server holds everything the manifest says."""

from __future__ import annotations

from tradingbot_operator.applying import Ref, matches


def test_server_added_fields_are_not_drift():
    want = {"spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "bot", "image": "b:1"}]}}}}
    have = {
        "metadata": {"uid": "u", "resourceVersion": "9"},
        "spec": {
            "replicas": 1,
            "revisionHistoryLimit": 10,
            "template": {"spec": {"containers": [{"name": "bot", "image": "b:1", "terminationMessagePath": "/x"}]}},
        },
        "status": {"readyReplicas": 1},
    }
    assert matches(want, have)


def test_edits_and_removed_list_items_are_drift():
    want = {"spec": {"ports": [{"name": "metrics", "port": 8000}], "type": "ClusterIP"}}
    assert not matches(want, {"spec": {"ports": [{"name": "metrics", "port": 9000}], "type": "ClusterIP"}})
    assert not matches(want, {"spec": {"ports": [], "type": "ClusterIP"}})
    assert not matches(
        want, {"spec": {"ports": [{"name": "metrics", "port": 8000}, {"name": "x"}], "type": "ClusterIP"}}
    )
    assert not matches(want, {"spec": {"ports": [{"name": "metrics", "port": 8000}], "type": "NodePort"}})


def test_quantities_compare_by_value_and_empty_values_match_absent_ones():
    assert matches(
        {"resources": {"limits": {"cpu": "2000m", "memory": "8Gi"}}},
        {"resources": {"limits": {"cpu": "2", "memory": "8589934592"}}},
    )
    assert not matches({"resources": {"limits": {"cpu": "2"}}}, {"resources": {"limits": {"cpu": "3"}}})
    assert matches({"metadata": {"ownerReferences": []}}, {"metadata": {}})
    assert not matches({"metadata": {"ownerReferences": []}}, {"metadata": {"ownerReferences": [{"uid": "u"}]}})


def test_paths_of_core_and_group_resources():
    assert Ref("v1", "Service", "ns", "spy").path() == "/api/v1/namespaces/ns/services/spy"
    assert Ref("apps/v1", "Deployment", "ns", "spy").collection() == "/apis/apps/v1/namespaces/ns/deployments"
    bot = Ref("tradingbot.dev/v1alpha1", "TradingBot", "ns", "spy")
    assert bot.path("status") == "/apis/tradingbot.dev/v1alpha1/namespaces/ns/tradingbots/spy/status"
