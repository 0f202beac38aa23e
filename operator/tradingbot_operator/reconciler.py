"""One reconcile of one TradingBot: validate, apply the children, observe, write status if it changed.

Called by every trigger (create, update, resume, the resync timer, a child's watch event) with the
same effect, so a trigger more or less never changes the outcome: this is what "level-based" means here.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import kopf

from tradingbot_operator import builders, conditions
from tradingbot_operator import identity as ids
from tradingbot_operator.applying import ApiError, KubeApi, Manifest, Outcome, Ref
from tradingbot_operator.botstatus import LiveFigures
from tradingbot_operator.spec import InvalidSpecError, TradingBotSpec, parse_spec
from tradingbot_operator.storage import ClaimPlan, Refusal, expansion_blocker, plan_claim

log = logging.getLogger("tradingbot_operator")


@dataclass
class Result:
    """What a reconcile did; ``invalid_spec``/``apply_error`` say why it could not finish."""

    spec: TradingBotSpec | None = None
    invalid_spec: str | None = None
    apply_error: str | None = None
    service_monitor: Literal["Created", "Failed", "None"] = "None"
    """Whether the bot's ServiceMonitor exists as the spec wants it (``None``: not wanted)."""
    storage_refusals: list[Refusal] = field(default_factory=list)
    """Volume changes the spec asks for that the operator refused (see :mod:`tradingbot_operator.storage`)."""
    adopted_volumes: list[str] = field(default_factory=list)
    """Claims kept larger than the spec asks (expanded by hand)."""


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
    result = Result(spec=spec)
    errors = []
    if spec.monitoring.service_monitor == "Enabled" and not service_monitor_crd:
        result.service_monitor = "Failed"
        errors.append(
            f"monitoring.serviceMonitor is Enabled but the CRD {ids.SERVICE_MONITOR_CRD} is not installed "
            "(install the Prometheus Operator, or use Auto)"
        )
    for manifest in builders.children(owner, spec, cluster):
        problem = await _apply_child(api, body, manifest, result, restoring)
        if problem is not None:
            errors.append(problem)
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


async def _apply_child(
    api: KubeApi, body: Mapping[str, Any], manifest: Manifest, result: Result, restoring: bool
) -> str | None:
    """Apply one child and announce a change in an Event; the error, if the API refused."""
    ref = Ref.of(manifest)
    try:
        if ref.kind == "PersistentVolumeClaim":
            outcome = await _ensure_claim(api, manifest, result)
        else:
            outcome = await api.ensure(manifest)
    except ApiError as error:
        if ref.kind == "ServiceMonitor":
            result.service_monitor = "Failed"
        return f"{ref}: {error}"
    if ref.kind == "ServiceMonitor":
        result.service_monitor = "Created"
    if outcome != "unchanged":
        verb = "Restored" if restoring else outcome.capitalize()
        post_event(body, "Normal", verb, f"{outcome} {ref.kind} {ref.name}")
    return None


async def _ensure_claim(api: KubeApi, manifest: Manifest, result: Result) -> Outcome:
    """Create a claim, or change only what may change in a live one: it grows (when its StorageClass
    allows), it is never shrunk and its class never changes; a refusal is recorded in ``result``."""
    planned: list[ClaimPlan] = []

    async def plan(current: Manifest | None) -> Manifest:
        claim = plan_claim(manifest, current)
        if claim.expands and current is not None:
            size = str(manifest["spec"]["resources"]["requests"]["storage"])
            blocker = expansion_blocker(await _storage_class(api, current), manifest["metadata"]["name"], size)
            claim = plan_claim(manifest, current, blocker)
        planned.append(claim)
        return claim.manifest

    try:
        outcome = await api.ensure(manifest, plan)
    except ApiError as error:
        if not (planned and planned[-1].expands and error.status in (403, 422)):
            raise
        # the API server's own refusal (e.g. a statically provisioned volume cannot grow): not retried
        name = manifest["metadata"]["name"]
        result.storage_refusals.append(Refusal(name, "ExpansionNotSupported", f"{name}: {error.message}"))
        return "unchanged"
    last = planned[-1]
    if last.refusal is not None:
        result.storage_refusals.append(last.refusal)
    if last.adopted is not None:
        result.adopted_volumes.append(last.adopted)
    return outcome


async def _storage_class(api: KubeApi, claim: Manifest) -> Manifest | None:
    """The claim's StorageClass, or ``None`` when it has none or it cannot be read (the server decides)."""
    name = (claim.get("spec") or {}).get("storageClassName")
    if not name:
        return None
    try:
        return await api.get(Ref("storage.k8s.io/v1", "StorageClass", None, name))
    except ApiError as error:
        if error.status == 403:
            return None
        raise


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
        halt_limit=live.halt_limit if live is not None else None,
        device=live.device if live is not None else None,
        device_problem=live.device_problem if live is not None else None,
        storage_refusals=tuple((r.reason, r.message) for r in result.storage_refusals),
        adopted_volumes=tuple(result.adopted_volumes),
    )
    current: dict[str, Any] = dict(body.get("status") or {})
    generation = body["metadata"].get("generation")
    wanted = conditions.desired(observed)
    merged = conditions.merge(current.get("conditions"), wanted, generation, conditions.now_rfc3339())
    status: dict[str, Any] = {"observedGeneration": generation, "conditions": merged}
    if spec is not None:
        status["serviceMonitor"] = result.service_monitor
    if live is not None:
        status.update(live.status_fields())
    if all(current.get(k) == v for k, v in status.items()):
        return False
    await api.merge_patch(bot_ref(owner.namespace, owner.name), {"status": status}, subresource="status")
    for condition, before in _flips(current.get("conditions"), merged):
        message = f"{condition['type']} is {condition['status']}: {condition['message']}"
        post_event(body, conditions.event_type(condition, before), condition["reason"], message)
    return True


def _flips(old: Any, new: list[dict[str, Any]]) -> list[tuple[dict[str, Any], str | None]]:  # noqa: ANN401
    """The conditions whose status changed, with the status before (``None``: first seen). A first visit
    reports only ``Ready`` and what needs a person."""
    before = {c.get("type"): c.get("status") for c in old or [] if isinstance(c, dict)}
    return [
        (c, before.get(c["type"]))
        for c in new
        if c["status"] != "Unknown"
        and before.get(c["type"]) != c["status"]
        and (c["type"] == "Ready" or c["type"] in before or c["reason"] in conditions.WARNING_REASONS)
    ]
