"""Volumes that only grow: what may change in a PersistentVolumeClaim that exists.

A claim's spec is immutable except its storage request, which may only grow, and only when the claim's
StorageClass allows expansion; a real API server refuses anything else, so asking again every resync
would fail forever. For a claim that exists:

- the spec asks for more than the claim has → expand it (when its class allows expansion, else
  ``ExpansionNotSupported``);
- the spec asks for less than the claim has:

  - because someone expanded the claim by hand (the spec is not below the size the operator last
    applied) → the larger claim is adopted, nothing is written;
  - because the spec was lowered below the size last applied → ``ShrinkRefused``;

- the spec names another ``storageClassName`` than the claim's → ``StorageClassChangeRefused``.

A refusal writes nothing to the claim's spec, is reported in the ``Storage`` condition (and an Event
when it flips) and is not retried: the next reconcile finds the same and says the same. Sizes are
compared as quantities (``1Gi`` = ``1024Mi``).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tradingbot_operator import identity as ids
from tradingbot_operator.spec import quantity

Manifest = dict[str, Any]
APPLIED_SIZE = f"{ids.GROUP}/applied-size"
"""Annotation on a claim: the size the spec asked for when the operator last wrote it."""


@dataclass(frozen=True)
class Refusal:
    """A change to a live claim that the operator will not ask for; ``reason`` is a condition reason."""

    claim: str
    reason: str
    message: str


@dataclass(frozen=True)
class ClaimPlan:
    """What to do with one claim: the manifest to apply (the live spec, grown when it should grow), and
    why a wanted change was not made, or that a larger claim was adopted."""

    manifest: Manifest
    expands: bool = False
    """The storage request grows: the class must allow it."""
    refusal: Refusal | None = None
    adopted: str | None = None
    """A note when the claim is larger than the spec (expanded by hand) and kept so."""


def _size(claim: Manifest) -> str | None:
    requests = ((claim.get("spec") or {}).get("resources") or {}).get("requests") or {}
    value = requests.get("storage")
    return str(value) if value is not None else None


def _bytes(size: str | None) -> Decimal | None:
    if size is None:
        return None
    try:
        return quantity(size)
    except ValueError:
        return None


def plan_claim(manifest: Manifest, current: Manifest | None, expansion_blocked: str | None = None) -> ClaimPlan:
    """The plan for the claim ``manifest`` describes, given the live claim (``None``: create it);
    ``expansion_blocked`` says why the claim cannot grow (see :func:`expansion_blocker`)."""
    want = _size(manifest)
    stamped = copy.deepcopy(manifest)
    annotations = stamped["metadata"].setdefault("annotations", {})
    annotations[APPLIED_SIZE] = want
    if current is None:
        return ClaimPlan(stamped)
    name = manifest["metadata"]["name"]
    live_spec = copy.deepcopy(current.get("spec") or {})
    stamped["spec"] = live_spec
    have = _size(current)
    last = ((current.get("metadata") or {}).get("annotations") or {}).get(APPLIED_SIZE)
    want_b, have_b, last_b = _bytes(want), _bytes(have), _bytes(last)
    wanted_class = (manifest.get("spec") or {}).get("storageClassName")
    live_class = live_spec.get("storageClassName")
    if wanted_class is not None and wanted_class != live_class:
        annotations[APPLIED_SIZE] = last if last is not None else have
        message = (
            f"PersistentVolumeClaim {name} has storageClassName {live_class or '(none)'}; the spec asks for "
            f"{wanted_class}, and a claim's class cannot change: move the data to a new volume, or set the "
            "class back"
        )
        return ClaimPlan(stamped, refusal=Refusal(name, "StorageClassChangeRefused", message))
    if want_b is None or have_b is None or want_b == have_b:
        return ClaimPlan(stamped)
    if want_b > have_b:
        if expansion_blocked is not None:
            annotations[APPLIED_SIZE] = last if last is not None else have
            return ClaimPlan(stamped, refusal=Refusal(name, "ExpansionNotSupported", expansion_blocked))
        live_spec.setdefault("resources", {}).setdefault("requests", {})["storage"] = want
        return ClaimPlan(stamped, expands=True)
    if last_b is not None and want_b < last_b:
        annotations[APPLIED_SIZE] = last
        message = (
            f"PersistentVolumeClaim {name} is {have}; the spec asks for {want}, and volumes are never shrunk: "
            f"set the size back to at least {last}"
        )
        return ClaimPlan(stamped, refusal=Refusal(name, "ShrinkRefused", message))
    return ClaimPlan(stamped, adopted=f"{name} is {have} (the spec asks for {want}): kept, volumes are never shrunk")


def expansion_blocker(storage_class: Manifest | None, claim: str, size: str) -> str | None:
    """Why ``claim`` cannot grow to ``size`` under ``storage_class`` (``None``: unreadable, so the API
    server will decide), or ``None`` when it can."""
    if storage_class is None or storage_class.get("allowVolumeExpansion") is True:
        return None
    return (
        f"PersistentVolumeClaim {claim} cannot grow to {size}: StorageClass {storage_class['metadata']['name']} "
        "does not allow volume expansion (allowVolumeExpansion)"
    )
