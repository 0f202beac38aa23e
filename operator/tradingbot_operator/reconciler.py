"""One reconcile of one TradingBot: validate, apply the children, observe, write status if it changed.

Called by every trigger (create, update, resume, the resync timer, a child's watch event) with the
same effect, so a trigger more or less never changes the outcome: this is what "level-based" means here.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

import kopf

from tradingbot_operator import builders, conditions
from tradingbot_operator import identity as ids
from tradingbot_operator.applying import ApiError, KubeApi, Ref
from tradingbot_operator.botstatus import LiveFigures
from tradingbot_operator.spec import InvalidSpecError, TradingBotSpec, parse_spec

log = logging.getLogger("tradingbot_operator")


@dataclass
class Result:
    """What a reconcile did; ``invalid_spec``/``apply_error`` say why it could not finish."""

    spec: TradingBotSpec | None = None
    invalid_spec: str | None = None
    apply_error: str | None = None
    service_monitor: bool = False


def post_event(body: Mapping[str, Any], kind: str, reason: str, message: str) -> None:
    """An Event on the TradingBot (kopf posts it in the background; never with a secret in it)."""
    kopf.event(cast(kopf.Body, body), type=kind, reason=reason, message=message)


def owner_of(body: Mapping[str, Any]) -> builders.Owner:
    meta = body["metadata"]
    return builders.Owner(meta["name"], meta["namespace"], meta["uid"])


def bot_ref(namespace: str, name: str) -> Ref:
    return Ref(ids.API_VERSION, ids.KIND, namespace, name)


async def apply_children(
    api: KubeApi, body: Mapping[str, Any], cluster: builders.Cluster, restoring: bool = False
) -> Result:
    """Make every child match the spec, remove the optional ones it no longer wants; an Event for each change."""
    owner = owner_of(body)
    try:
        spec = parse_spec(owner.name, dict(body.get("spec") or {}))
    except InvalidSpecError as error:
        return Result(invalid_spec=str(error))
    service_monitor_crd = cluster.service_monitor_crd
    result = Result(spec=spec, service_monitor=builders.wants_service_monitor(spec, service_monitor_crd))
    errors = []
    if spec.monitoring.service_monitor == "Enabled" and not service_monitor_crd:
        errors.append(
            f"monitoring.serviceMonitor is Enabled but the CRD {ids.SERVICE_MONITOR_CRD} is not installed "
            "(install the Prometheus Operator, or use Auto)"
        )
    for manifest in builders.children(owner, spec, cluster):
        ref = Ref.of(manifest)
        try:
            outcome = await api.ensure(manifest)
        except ApiError as error:
            errors.append(f"{ref}: {error}")
            continue
        if outcome != "unchanged":
            verb = "Restored" if restoring else outcome.capitalize()
            post_event(body, "Normal", verb, f"{outcome} {ref.kind} {ref.name}")
    unwanted = []
    if service_monitor_crd and not builders.wants_service_monitor(spec, service_monitor_crd):
        unwanted.append(Ref("monitoring.coreos.com/v1", "ServiceMonitor", owner.namespace, owner.name))
    if not spec.network_policy.enabled:
        unwanted.append(Ref("networking.k8s.io/v1", "NetworkPolicy", owner.namespace, owner.name))
    for ref in unwanted:
        try:
            if await api.remove(ref):
                post_event(body, "Normal", "Deleted", f"deleted {ref.kind} {ref.name}: disabled in the spec")
        except ApiError as error:
            errors.append(f"{ref}: {error}")
    if errors:
        result.apply_error = "; ".join(errors)
    return result


async def write_status(
    api: KubeApi,
    body: Mapping[str, Any],
    result: Result,
    live: LiveFigures | None,
) -> bool:
    """Observe the Deployment and write conditions and live figures, only if they changed. Returns whether."""
    owner = owner_of(body)
    spec = result.spec
    ready_replicas = None
    if spec is not None:
        deployment = await api.get(Ref("apps/v1", "Deployment", owner.namespace, owner.name))
        if deployment is not None:
            ready_replicas = int((deployment.get("status") or {}).get("readyReplicas") or 0)
    observed = conditions.Observed(
        invalid_spec=result.invalid_spec,
        apply_error=result.apply_error,
        ready_replicas=ready_replicas,
        suspended=spec.suspend if spec is not None else False,
        risk_halted=live.risk_halted if live is not None else None,
        entry_block=live.entry_block if live is not None else None,
        max_drawdown_percent=spec.risk.max_drawdown_percent if spec is not None else None,
        device=live.device if live is not None else None,
        device_problem=live.device_problem if live is not None else None,
    )
    current: dict[str, Any] = dict(body.get("status") or {})
    generation = body["metadata"].get("generation")
    wanted = conditions.desired(observed)
    merged = conditions.merge(current.get("conditions"), wanted, generation, conditions.now_rfc3339())
    status: dict[str, Any] = {"observedGeneration": generation, "conditions": merged}
    if spec is not None:
        status["serviceMonitor"] = "Created" if result.service_monitor else "None"
    if live is not None:
        status.update(live.status_fields())
    if all(current.get(k) == v for k, v in status.items()):
        return False
    await api.merge_patch(bot_ref(owner.namespace, owner.name), {"status": status}, subresource="status")
    flips = _flips(current.get("conditions"), merged)
    for condition in flips:
        message = f"{condition['type']} is {condition['status']}: {condition['message']}"
        healthy = condition["status"] == "True" or condition["type"] in ("Suspended", "Halted")
        post_event(body, "Normal" if healthy else "Warning", condition["reason"], message)
    return True


def _flips(old: Any, new: list[dict[str, Any]]) -> list[dict[str, Any]]:  # noqa: ANN401 - status from the API
    before = {c.get("type"): c.get("status") for c in old or [] if isinstance(c, dict)}
    return [
        c
        for c in new
        if c["status"] != "Unknown"
        and before.get(c["type"]) != c["status"]
        and (c["type"] == "Ready" or c["type"] in before)  # a first visit reports only Ready
    ]
