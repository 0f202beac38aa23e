"""Names the operator and the bot agree on: the API group, labels, ports, paths and finalizer."""

from __future__ import annotations

GROUP = "tradingbot.dev"
VERSION = "v1alpha1"
PLURAL = "tradingbots"
KIND = "TradingBot"
API_VERSION = f"{GROUP}/{VERSION}"

FINALIZER = f"{GROUP}/finalizer"
MANAGED_BY = "tradingbot-operator"
BOT_LABEL = f"{GROUP}/tradingbot"  # value: the TradingBot's name; what Prometheus discovers
COMPONENT_LABEL = "app.kubernetes.io/component"

HTTP_PORT = 8000
HTTP_PORT_NAME = "metrics"
MODELS_PATH = "/models"
CHECKPOINTS_PATH = "/checkpoints"
LOGS_PATH = "/logs"
CONTROL_PATH = "/etc/tradingbot/control"
TMP_PATH = "/tmp"  # noqa: S108 - an emptyDir: the root filesystem is read-only

SERVICE_MONITOR_CRD = "servicemonitors.monitoring.coreos.com"
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"  # set on every Namespace by the API server


def selector_labels(name: str) -> dict[str, str]:
    """The immutable Deployment selector of bot ``name``: kept to the bot's identity only."""
    return {"app.kubernetes.io/name": "tradingbot", "app.kubernetes.io/instance": name}


def operator_selector_labels() -> dict[str, str]:
    """The operator's pod labels (config/manager): what the bots' NetworkPolicies let in."""
    return {"app.kubernetes.io/name": "tradingbot-operator"}


def labels(name: str, component: str) -> dict[str, str]:
    """Labels on every child of bot ``name``."""
    return {
        **selector_labels(name),
        COMPONENT_LABEL: component,
        "app.kubernetes.io/part-of": "tradingbot",
        "app.kubernetes.io/managed-by": MANAGED_BY,
        BOT_LABEL: name,
    }
