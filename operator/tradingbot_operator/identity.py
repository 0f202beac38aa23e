"""The operator's names: its API group and kind, labels and finalizer; what the bot shares comes from
:mod:`tradingbot_contract.pod`."""

from __future__ import annotations

from tradingbot_contract.pod import (
    BOT_LABEL,
    CHECKPOINTS_PATH,
    COMPONENT_LABEL,
    CONTROL_PATH,
    GROUP,
    HTTP_PORT,
    HTTP_PORT_NAME,
    LOGS_PATH,
    MODELS_PATH,
    TMP_PATH,
    selector_labels,
)

__all__ = [
    "API_VERSION",
    "BOT_LABEL",
    "CHECKPOINTS_PATH",
    "COMPONENT_LABEL",
    "CONTROL_PATH",
    "FINALIZER",
    "GROUP",
    "HTTP_PORT",
    "HTTP_PORT_NAME",
    "KIND",
    "LOGS_PATH",
    "MANAGED_BY",
    "MODELS_PATH",
    "NAMESPACE_NAME_LABEL",
    "PLURAL",
    "SERVICE_MONITOR_CRD",
    "TMP_PATH",
    "VERSION",
    "labels",
    "operator_selector_labels",
    "selector_labels",
]

VERSION = "v1alpha1"
PLURAL = "tradingbots"
KIND = "TradingBot"
API_VERSION = f"{GROUP}/{VERSION}"

FINALIZER = f"{GROUP}/finalizer"
MANAGED_BY = "tradingbot-operator"

SERVICE_MONITOR_CRD = "servicemonitors.monitoring.coreos.com"
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"  # set on every Namespace by the API server


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
