"""kopf handlers: thin edges that hand each trigger to the reconciler.

Triggers: create/update/resume of a TradingBot; a resync timer (restores hand-edited or deleted
children, ``RESYNC_INTERVAL``); watch events of the children themselves (a deleted or edited child is
restored at once, a Deployment becoming ready updates ``Available``); a live-status timer that reads the
bot's ``/status`` (``STATUS_INTERVAL``). Handlers return ``None``: nothing lands in status by accident.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from typing import Any

import aiohttp
import kopf

from tradingbot_operator import builders
from tradingbot_operator import identity as ids
from tradingbot_operator.applying import ApiError
from tradingbot_operator.botstatus import BotUnreachableError, fetch_status
from tradingbot_operator.desired import drifted
from tradingbot_operator.reconciler import Result, apply_children, bot_ref, owner_of, post_event, write_status
from tradingbot_operator.runtime import MAX_POLL_BACKOFF, Runtime, runtime
from tradingbot_operator.settings import OperatorConfig, configure
from tradingbot_operator.spec import InvalidSpecError, parse_spec
from tradingbot_operator.storage import plan_claim

CONFIG = OperatorConfig.from_env(os.environ)
BOTS: dict[str, Any] = {"group": ids.GROUP, "version": ids.VERSION, "plural": ids.PLURAL}
OURS: dict[str, Any] = {"labels": {"app.kubernetes.io/managed-by": ids.MANAGED_BY}}
log = logging.getLogger("tradingbot_operator")
RETRY_DELAY_S = 30.0
"""A reconcile that failed after its requests' own retries (see ``applying``) runs again this much later."""


STARTED_AT_S = time.time()


@kopf.on.startup()
async def startup(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    configure(settings, CONFIG, STARTED_AT_S)
    rt = runtime(memo)
    rt.http = aiohttp.ClientSession()
    if CONFIG.metrics_port:
        rt.metrics.serve(CONFIG.metrics_port)
    log.info(
        "resync every %.0f s, bot status every %.0f s, metrics on port %s",
        CONFIG.resync_interval_s,
        CONFIG.status_interval_s,
        CONFIG.metrics_port or "(off)",
    )


@kopf.on.cleanup()
async def cleanup(memo: kopf.Memo, **_: Any) -> None:
    rt = runtime(memo)
    await rt.api.close()
    if rt.http is not None:
        await rt.http.close()


@kopf.on.login()
async def login(memo: kopf.Memo, **kwargs: Any) -> kopf.ConnectionInfo | None:
    """kopf's own login (in-cluster service account, else kubeconfig), shared with the operator's client."""
    info = kopf.login_via_client(**kwargs) or kopf.login_with_service_account(**kwargs)
    info = info or kopf.login_with_kubeconfig(**kwargs)
    if info is not None:
        await runtime(memo).api.connect(info)
    return info


@kopf.on.probe(id="api")
def probe(memo: kopf.Memo, **_: Any) -> str:
    """Part of ``--liveness``: the operator's event loop answers."""
    return "ok"


@kopf.index(**BOTS, id="bots")
def bots(*, namespace: str | None, name: str, **_: Any) -> dict[tuple[str | None, str], bool]:
    """The TradingBots that exist, for the child watches (cheap: no body is kept)."""
    return {(namespace, name): True}


async def _reconcile(rt: Runtime, body: Mapping[str, Any], trigger: str, restoring: bool = False) -> Result:
    key = (body["metadata"]["namespace"], body["metadata"]["name"])
    started = time.perf_counter()
    try:
        cluster = builders.Cluster(await rt.service_monitor_crd(), CONFIG.namespace)
        result = await apply_children(rt.api, body, cluster, restoring)
        rt.results[key] = result
        await write_status(rt.api, body, result, rt.live.get(key))
    except ApiError as error:
        rt.metrics.errors.labels("ApiError").inc()
        raise kopf.TemporaryError(f"Kubernetes API: {error}", delay=RETRY_DELAY_S) from error
    finally:
        rt.metrics.duration.observe(time.perf_counter() - started)
    rt.metrics.reconciles.labels(trigger).inc()
    if result.invalid_spec is not None:
        rt.metrics.errors.labels("InvalidSpec").inc()
    elif result.apply_error is not None:
        rt.metrics.errors.labels("ApplyFailed").inc()
    return result


@kopf.on.resume(**BOTS, id="resume")
@kopf.on.create(**BOTS, id="create")
@kopf.on.update(**BOTS, id="update")
async def reconcile(body: kopf.Body, memo: kopf.Memo, reason: str, **_: Any) -> None:
    """Apply the spec. An invalid spec is reported in status and not retried until the spec changes."""
    result = await _reconcile(runtime(memo), body, str(reason))
    if result.invalid_spec is not None:
        raise kopf.PermanentError(result.invalid_spec)
    if result.apply_error is not None:
        raise kopf.TemporaryError(result.apply_error, delay=RETRY_DELAY_S)


@kopf.timer(**BOTS, id="resync", interval=CONFIG.resync_interval_s, initial_delay=CONFIG.resync_interval_s)
async def resync(*, body: kopf.Body, memo: kopf.Memo, bots: kopf.Index[Any, Any] | None = None, **_: Any) -> None:
    """Level-based safety net: restore whatever drifted, refresh conditions (writes only on change)."""
    rt = runtime(memo)
    if bots is not None:
        rt.metrics.bots.set(len(bots))
    await _reconcile(rt, body, "resync", restoring=True)


@kopf.timer(**BOTS, id="live-status", interval=CONFIG.status_interval_s, initial_delay=CONFIG.status_interval_s)
async def live_status(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """Read a ready bot's ``/status`` for the printer columns; back off (up to 10 times) while it fails."""
    rt = runtime(memo)
    key = (body["metadata"]["namespace"], body["metadata"]["name"])
    result = rt.results.get(key)
    available = any(
        c.get("type") == "Available" and c.get("status") == "True"
        for c in (body.get("status") or {}).get("conditions") or []
    )
    if result is None or not available or time.monotonic() < rt.next_poll.get(key, 0.0):
        return
    if rt.http is None or rt.http.closed:  # not started yet, or shutting down (cleanup closed it)
        return
    url = CONFIG.status_url.format(name=key[1], namespace=key[0], port=ids.HTTP_PORT)
    try:
        live = await fetch_status(rt.http, url)
    except BotUnreachableError as error:
        failures = rt.poll_failures[key] = rt.poll_failures.get(key, 0) + 1
        rt.metrics.status_failures.inc()
        rt.next_poll[key] = time.monotonic() + CONFIG.status_interval_s * (min(2**failures, MAX_POLL_BACKOFF) - 1)
        log.warning("%s/%s: cannot read the bot's status (%d in a row): %s", *key, failures, error)
        return
    rt.poll_failures.pop(key, None)
    rt.next_poll.pop(key, None)
    rt.live[key] = live
    try:
        await write_status(rt.api, body, result, live)
    except ApiError as error:
        raise kopf.TemporaryError(f"Kubernetes API: {error}", delay=RETRY_DELAY_S) from error


@kopf.on.delete(**BOTS, id="delete")
async def delete(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """Owned children go with the bot (garbage collection); retained volumes are named in an Event."""
    owner = owner_of(body)
    runtime(memo).forget((owner.namespace, owner.name))
    try:
        spec = parse_spec(owner.name, dict(body.get("spec") or {}))
    except InvalidSpecError:
        return
    if spec.storage.retention_policy == "Retain":
        claims = ", ".join(builders.child_name(owner, v) for v in builders.VOLUMES)
        post_event(
            body,
            "Normal",
            "VolumesRetained",
            message=f"kept PersistentVolumeClaims {claims}; a new TradingBot named {owner.name} adopts them",
        )


async def _child_event(
    kind: str, event: Mapping[str, Any], body: kopf.Body, memo: kopf.Memo, bots: kopf.Index[Any, Any] | None
) -> None:
    """A child changed: restore it if it was deleted or drifted, refresh status if its readiness changed."""
    namespace = body["metadata"].get("namespace")
    name = (body["metadata"].get("labels") or {}).get(ids.BOT_LABEL)
    if not name or bots is None or (namespace, name) not in bots:
        return
    rt = runtime(memo)
    try:
        owner_body = await rt.api.get(bot_ref(namespace, name))
    except ApiError as error:
        log.warning("%s/%s: cannot read the TradingBot after a %s event: %s", namespace, name, kind, error)
        return
    if owner_body is None or owner_body["metadata"].get("deletionTimestamp"):
        return
    if event.get("type") == "DELETED" or _drifted(kind, owner_body, body):
        await _reconcile(rt, owner_body, "child", restoring=True)


def _drifted(kind: str, owner_body: Mapping[str, Any], child: Mapping[str, Any]) -> bool:
    try:
        spec = parse_spec(owner_body["metadata"]["name"], dict(owner_body.get("spec") or {}))
    except InvalidSpecError:
        return False
    owner = owner_of(owner_body)
    name = child["metadata"].get("name")
    children = builders.children(owner, spec, builders.Cluster(False, CONFIG.namespace))
    wanted = [m for m in children if m["kind"] == kind and m["metadata"]["name"] == name]
    if wanted:
        manifest = wanted[0]
        if kind == "PersistentVolumeClaim":
            manifest = plan_claim(manifest, dict(child)).manifest
        if drifted(dict(child), manifest):
            return True
    if kind == "Deployment":
        ready = int((child.get("status") or {}).get("readyReplicas") or 0) >= 1
        conditions = (owner_body.get("status") or {}).get("conditions") or []
        shown = any(c.get("type") == "Available" and c.get("status") == "True" for c in conditions)
        return ready != shown
    return False


CHILD_KINDS = (
    ("apps", "v1", "deployments", "Deployment"),
    ("", "v1", "services", "Service"),
    ("", "v1", "configmaps", "ConfigMap"),
    ("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim"),
    ("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy"),
)


def _watch_children(group: str, version: str, plural: str, kind: str) -> None:
    @kopf.on.event(group, version, plural, id=f"watch-{plural}", **OURS)
    async def child_event(
        *, event: kopf.RawEvent, body: kopf.Body, memo: kopf.Memo, bots: kopf.Index[Any, Any] | None = None, **_: Any
    ) -> None:
        await _child_event(kind, event, body, memo, bots)


for _child in CHILD_KINDS:
    _watch_children(*_child)
