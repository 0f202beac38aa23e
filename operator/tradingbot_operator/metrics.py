"""The operator's own Prometheus metrics, on their own port (kopf has none built in)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server


class OperatorMetrics:
    """Reconciles, errors, API writes and managed bots, in one registry of its own."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.reconciles = Counter(
            "tradingbot_operator_reconciles_total", "Reconciles of a TradingBot, by trigger", ["trigger"], registry=r
        )
        self.errors = Counter(
            "tradingbot_operator_reconcile_errors_total", "Reconciles that failed, by reason", ["reason"], registry=r
        )
        self.writes = Counter(
            "tradingbot_operator_api_writes_total",
            "Write requests to the API, by verb and kind",
            ["verb", "kind"],
            registry=r,
        )
        self.retries = Counter(
            "tradingbot_operator_api_retries_total",
            "API requests retried after a transient failure, by HTTP status (0: no answer)",
            ["status"],
            registry=r,
        )
        self.duration = Histogram("tradingbot_operator_reconcile_duration_seconds", "Time of one reconcile", registry=r)
        self.bots = Gauge("tradingbot_operator_bots_managed", "TradingBots the operator manages", registry=r)
        self.status_failures = Counter(
            "tradingbot_operator_status_poll_failures_total", "Failed reads of a bot's /status", registry=r
        )

    def serve(self, port: int) -> None:
        """Expose ``/metrics`` on ``port`` (all interfaces, a daemon thread)."""
        start_http_server(port, registry=self.registry)

    def wrote(self, verb: str, kind: str) -> None:
        self.writes.labels(verb, kind).inc()

    def retried(self, status: int) -> None:
        self.retries.labels(str(status)).inc()
