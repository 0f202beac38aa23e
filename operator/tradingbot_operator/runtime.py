"""The operator's per-process state, kept in kopf's memo (nothing mutable is module-global)."""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from tradingbot_operator import __version__
from tradingbot_operator.applying import KubeApi
from tradingbot_operator.botstatus import LiveFigures
from tradingbot_operator.metrics import OperatorMetrics
from tradingbot_operator.reconciler import Result

CRD_CACHE_S = 60.0
MAX_POLL_BACKOFF = 10  # a failing bot is polled at most 10 times less often


@dataclass
class Runtime:
    """Clients, metrics and what the operator remembers about each bot, keyed by (namespace, name)."""

    metrics: OperatorMetrics = field(default_factory=OperatorMetrics)
    api: KubeApi = field(init=False)
    http: aiohttp.ClientSession | None = None
    results: dict[tuple[str, str], Result] = field(default_factory=dict)
    live: dict[tuple[str, str], LiveFigures] = field(default_factory=dict)
    poll_failures: dict[tuple[str, str], int] = field(default_factory=dict)
    next_poll: dict[tuple[str, str], float] = field(default_factory=dict)
    _crd: tuple[float, bool] = (0.0, False)

    def __post_init__(self) -> None:
        replica = os.environ.get("POD_ID") or f"{socket.gethostname()}/{os.getpid()}"  # kopf's peering id too
        agent = f"tradingbot-operator/{__version__} ({replica})"
        self.api = KubeApi(on_write=self.metrics.wrote, on_retry=self.metrics.retried, user_agent=agent)

    async def service_monitor_crd(self) -> bool:
        """Whether the Prometheus Operator's ServiceMonitor is served (re-checked every minute)."""
        checked, present = self._crd
        if time.monotonic() - checked >= CRD_CACHE_S:
            present = await self.api.has_resource("monitoring.coreos.com/v1", "servicemonitors")
            self._crd = (time.monotonic(), present)
        return present

    def forget(self, key: tuple[str, str]) -> None:
        for table in (self.results, self.live, self.poll_failures, self.next_poll):
            table.pop(key, None)


def runtime(memo: Any) -> Runtime:  # noqa: ANN401 - kopf.Memo is an untyped attribute bag
    """The process's :class:`Runtime`, created on first use (startup and login may come in either order)."""
    if "runtime" not in memo:
        memo["runtime"] = Runtime()
    rt = memo["runtime"]
    assert isinstance(rt, Runtime)
    return rt
