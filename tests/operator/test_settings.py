"""The operator's own settings and metrics."""

from __future__ import annotations

import pytest
from prometheus_client import generate_latest

from tradingbot_operator.metrics import OperatorMetrics
from tradingbot_operator.settings import OperatorConfig


def test_settings_come_from_the_environment_with_documented_defaults():
    assert OperatorConfig.from_env({}) == OperatorConfig(
        60.0, 60.0, "http://{name}.{namespace}.svc:{port}/status", 8081
    )
    config = OperatorConfig.from_env({"RESYNC_INTERVAL": "5", "STATUS_INTERVAL": "30", "METRICS_PORT": "0"})
    assert (config.resync_interval_s, config.status_interval_s, config.metrics_port) == (5.0, 30.0, 0)


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"RESYNC_INTERVAL": "soon"}, "RESYNC_INTERVAL"),
        ({"STATUS_INTERVAL": "0"}, "STATUS_INTERVAL"),
        ({"METRICS_PORT": "70000"}, "METRICS_PORT"),
        ({"METRICS_PORT": "80.5"}, "METRICS_PORT"),
    ],
)
def test_bad_settings_are_refused_with_the_variable_named(environ, named):
    with pytest.raises(ValueError, match=named):
        OperatorConfig.from_env(environ)


def test_operator_metrics_count_reconciles_errors_and_writes():
    metrics = OperatorMetrics()
    metrics.reconciles.labels("create").inc()
    metrics.errors.labels("InvalidSpec").inc()
    metrics.wrote("patch", "Deployment")
    metrics.bots.set(3)
    text = generate_latest(metrics.registry).decode()
    assert 'tradingbot_operator_reconciles_total{trigger="create"} 1.0' in text
    assert 'tradingbot_operator_reconcile_errors_total{reason="InvalidSpec"} 1.0' in text
    assert 'tradingbot_operator_api_writes_total{kind="Deployment",verb="patch"} 1.0' in text
    assert "tradingbot_operator_bots_managed 3.0" in text
