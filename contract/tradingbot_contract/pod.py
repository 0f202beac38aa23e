"""The bot's pod as the operator renders it and the bot serves it: port, probe paths, mounted paths, user
and the labels that Prometheus discovery and the NetworkPolicy select on."""

from __future__ import annotations

HTTP_PORT = 8000
HTTP_PORT_NAME = "metrics"
HEALTH_PATH, READY_PATH, STATUS_PATH, METRICS_PATH, TRADES_PATH = "/health", "/ready", "/status", "/metrics", "/trades"
MODELS_PATH = "/models"
CHECKPOINTS_PATH = "/checkpoints"
LOGS_PATH = "/logs"
CONTROL_PATH = "/etc/tradingbot/control"
TMP_PATH = "/tmp"  # noqa: S108 - an emptyDir: the root filesystem is read-only
BOT_UID = 10001
"""The image's non-root user and group."""
GROUP = "tradingbot.dev"
BOT_LABEL = f"{GROUP}/tradingbot"
"""Value: the TradingBot's name; what Prometheus discovers and the relabelling turns into ``tradingbot``."""
COMPONENT_LABEL = "app.kubernetes.io/component"


def selector_labels(name: str) -> dict[str, str]:
    """The immutable Deployment selector of bot ``name``: kept to the bot's identity only."""
    return {"app.kubernetes.io/name": "tradingbot", "app.kubernetes.io/instance": name}
