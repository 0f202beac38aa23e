"""The operator's own settings (environment variables, documented in the README) and kopf's."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import kopf

from tradingbot_operator.identity import GROUP


@dataclass(frozen=True)
class OperatorConfig:
    """Intervals in seconds."""

    resync_interval_s: float = 60.0
    """How often every bot's children are re-checked and restored (hand edits, deletions missed by watches)."""
    status_interval_s: float = 60.0
    """How often a ready bot's ``/status`` is read for the printer columns."""
    status_url: str = "http://{name}.{namespace}.svc:{port}/status"
    """Where a bot's ``/status`` is (``{name}``, ``{namespace}``, ``{port}`` are filled in)."""
    metrics_port: int = 8081
    """Port of the operator's Prometheus ``/metrics`` (0: off)."""
    namespace: str = "trading-bot"
    """The operator's own namespace (``POD_NAMESPACE``, from the downward API): the bots' NetworkPolicies
    let its pods in."""
    peering_lifetime_s: float = 30.0
    """How long a replica's peering entry lives without a keep-alive: a crashed leader is replaced after
    at most this long (a cleanly exiting one at once)."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> OperatorConfig:
        """Read ``RESYNC_INTERVAL``, ``STATUS_INTERVAL``, ``BOT_STATUS_URL``, ``METRICS_PORT``, ``POD_NAMESPACE``
        and ``PEERING_LIFETIME``."""
        config = cls(
            resync_interval_s=_number(environ, "RESYNC_INTERVAL", cls.resync_interval_s),
            status_interval_s=_number(environ, "STATUS_INTERVAL", cls.status_interval_s),
            status_url=environ.get("BOT_STATUS_URL", cls.status_url),
            metrics_port=int(_number(environ, "METRICS_PORT", cls.metrics_port)),
            namespace=environ.get("POD_NAMESPACE") or cls.namespace,
            peering_lifetime_s=_number(environ, "PEERING_LIFETIME", cls.peering_lifetime_s),
        )
        if min(config.resync_interval_s, config.status_interval_s, config.peering_lifetime_s) <= 0:
            raise ValueError("RESYNC_INTERVAL, STATUS_INTERVAL and PEERING_LIFETIME must be positive seconds")
        if not 0 <= config.metrics_port <= 65535 or config.metrics_port != _number(environ, "METRICS_PORT", 8081):
            raise ValueError("METRICS_PORT must be a port number (0: off)")
        return config


def _number(environ: Mapping[str, str], name: str, default: float) -> float:
    try:
        return float(environ.get(name, default))
    except ValueError:
        raise ValueError(f"{name} must be a number, got {environ[name]!r}") from None


def configure(settings: kopf.OperatorSettings, config: OperatorConfig, started_at_s: float) -> None:
    """Production settings: state under the project's API group, bounded retries, Events for actions, and
    peering in which the replica started first (``started_at_s``, Unix seconds) has the highest priority.

    kopf runs only the replica of the highest priority and pauses every replica if two share it, so
    each gets its own: the negated start time in microseconds. The incumbent keeps the lead when a new
    replica joins (no hand-over on every rolling update or restart of the standby).
    """
    settings.peering.priority = -int(started_at_s * 1_000_000)
    settings.peering.lifetime = max(1, round(config.peering_lifetime_s))
    settings.persistence.finalizer = f"{GROUP}/finalizer"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=GROUP, key="last-handled-configuration"
    )
    settings.networking.request_timeout = 60
    settings.networking.error_backoffs = [1, 2, 5, 10, 20]  # kopf's own requests; then it gives up: about 40 s
    settings.watching.server_timeout = 300
    settings.posting.enabled = True
    settings.posting.level = logging.INFO
    settings.queueing.error_delays = [1, 2, 5, 10, 30, 60, 120, 300]  # unexpected errors in kopf's own machinery
