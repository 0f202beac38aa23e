"""Status conditions in the Kubernetes convention, computed purely from what the operator observed.

``lastTransitionTime`` changes only when a condition's status flips; a new reason or message keeps
it. The whole list is always written (kopf's status patch is a JSON merge patch, which replaces lists).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

Status = Literal["True", "False", "Unknown"]
TYPES = ("Ready", "Reconciled", "Available", "Suspended", "Halted", "DeviceReady", "Storage")
WARNING_REASONS = frozenset(
    {
        "InvalidSpec",
        "ApplyFailed",
        "GPUNotVisible",
        "ShrinkRefused",
        "StorageClassChangeRefused",
        "ExpansionNotSupported",
    }
)
"""Reasons that mean something is wrong and a person should act: their Events are Warnings."""


@dataclass(frozen=True)
class Condition:
    """One condition as the operator wants it now (its transition time is resolved against the old one)."""

    type: str
    status: Status
    reason: str
    message: str


@dataclass(frozen=True)
class Observed:
    """What one reconcile saw. ``None`` means unknown (e.g. the bot has not been reached yet)."""

    invalid_spec: str | None = None
    apply_error: str | None = None
    ready_replicas: int | None = None
    suspended: bool = False
    risk_halted: bool | None = None
    entry_block: str | None = None
    halt_limit: str | None = None
    """The bot's protection that stops entries (``daily loss limit``, ``drawdown protection``)."""
    device: str | None = None
    """What the bot's agent runs on, from its ``/status``; ``None`` until read."""
    device_problem: str | None = None
    storage_refusals: tuple[tuple[str, str], ...] = ()
    """(reason, message) of each volume change the operator refused."""
    adopted_volumes: tuple[str, ...] = ()
    """Claims kept larger than the spec (expanded by hand)."""


def now_rfc3339() -> str:
    """The current UTC time as Kubernetes writes it (second precision, ``Z``)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _reconciled(observed: Observed) -> Condition:
    if observed.invalid_spec is not None:
        return Condition("Reconciled", "False", "InvalidSpec", observed.invalid_spec)
    if observed.apply_error is not None:
        return Condition("Reconciled", "False", "ApplyFailed", observed.apply_error)
    return Condition("Reconciled", "True", "ChildrenApplied", "every child matches the spec")


def _available(observed: Observed) -> Condition:
    if observed.ready_replicas is None:
        return Condition("Available", "Unknown", "DeploymentNotObserved", "the bot Deployment was not seen yet")
    if observed.ready_replicas >= 1:
        return Condition("Available", "True", "MinimumReplicasAvailable", "the bot pod is ready")
    return Condition(
        "Available", "False", "DeploymentUnavailable", "the bot pod is not ready (starting, or its data is stale)"
    )


_HALT_REASONS = {"daily loss limit": "DailyLossLimit", "drawdown protection": "DrawdownProtection"}


def _halted(observed: Observed) -> Condition:
    if observed.risk_halted is None:
        return Condition("Halted", "Unknown", "BotNotReached", "the bot's /status has not been read yet")
    if observed.risk_halted:
        reason = _HALT_REASONS.get(observed.halt_limit or "", "RiskLimitReached")
        return Condition("Halted", "True", reason, observed.entry_block or "a risk protection stops new entries")
    return Condition("Halted", "False", "WithinRiskLimits", "no risk protection stops new entries")


def _device_ready(observed: Observed) -> Condition:
    if observed.device_problem is not None:
        return Condition("DeviceReady", "False", "GPUNotVisible", observed.device_problem)
    if observed.device is None:
        return Condition("DeviceReady", "Unknown", "BotNotReached", "the bot's /status has not been read yet")
    if observed.device == "cuda":
        return Condition("DeviceReady", "True", "RunningOnGPU", "the agent runs on CUDA")
    return Condition("DeviceReady", "True", "RunningOnCPU", "the agent runs on the CPU, as specified")


def _storage(observed: Observed) -> Condition:
    if observed.storage_refusals:
        reason = observed.storage_refusals[0][0]
        return Condition("Storage", "False", reason, "; ".join(message for _, message in observed.storage_refusals))
    if observed.adopted_volumes:
        return Condition("Storage", "True", "LargerThanSpec", "; ".join(observed.adopted_volumes))
    return Condition("Storage", "True", "AsSpecified", "every volume has the size and class the spec asks for")


def event_type(condition: dict[str, Any], before: str | None) -> Literal["Normal", "Warning"]:
    """The type of the Event announcing that ``condition`` flipped from status ``before`` (``None``: first
    seen): a Warning when something needs a person, or a ready bot stopped being available."""
    if condition["reason"] in WARNING_REASONS:
        return "Warning"
    if condition["type"] in ("Ready", "Available") and condition["status"] == "False" and before == "True":
        return "Warning"
    return "Normal"


def desired(observed: Observed) -> list[Condition]:
    """Every condition for what was observed, ``Ready`` summarising the others."""
    reconciled, available, halted = _reconciled(observed), _available(observed), _halted(observed)
    if observed.suspended:
        suspended = Condition("Suspended", "True", "SuspendedBySpec", "spec.suspend: no new entries")
    else:
        suspended = Condition("Suspended", "False", "Running", "new entries allowed")
    if reconciled.status != "True":
        ready = Condition("Ready", "False", reconciled.reason, reconciled.message)
    elif available.status != "True":
        ready = Condition("Ready", available.status, available.reason, available.message)
    elif observed.suspended:
        ready = Condition("Ready", "True", "Suspended", "running, new entries suspended by spec")
    elif halted.status == "True":
        ready = Condition("Ready", "True", "RiskHalted", halted.message)
    else:
        ready = Condition("Ready", "True", "Running", "the bot is trading")
    return [ready, reconciled, available, suspended, halted, _device_ready(observed), _storage(observed)]


def merge(
    old: list[dict[str, Any]] | None, new: list[Condition], generation: int | None, now: str
) -> list[dict[str, Any]]:
    """The full conditions list: ``lastTransitionTime`` kept from ``old`` unless the status flipped."""
    previous = {c.get("type"): c for c in old or [] if isinstance(c, dict)}
    merged = []
    for condition in new:
        before = previous.get(condition.type)
        flipped = before is None or before.get("status") != condition.status or "lastTransitionTime" not in before
        entry: dict[str, Any] = {
            "type": condition.type,
            "status": condition.status,
            "reason": condition.reason,
            "message": condition.message,
            "lastTransitionTime": now if flipped else before["lastTransitionTime"],  # type: ignore[index]
        }
        if generation is not None:
            entry["observedGeneration"] = generation
        merged.append(entry)
    return merged
