"""Exactly the desired state for what the operator owns, and nothing else touched: a three-way merge.

:func:`converge` takes a child as the API server has it and the manifest the spec asks for, and returns
the object to store. What the operator owns is declared per kind (``RULES``):

- **Owned subtrees are closed**: the bot container, the pod spec, the ConfigMap's data, the Service's,
  NetworkPolicy's and ServiceMonitor's specs are exactly the manifest. A key the manifest lacks is
  removed (a setting dropped from the spec, a hand-added ``hostNetwork`` or env entry), except the keys
  listed as the server's: defaults the API server fills in (``dnsPolicy``, ``terminationMessagePath``,
  ``clusterIP``, …), which stay as the server has them.
- **Shared lists keep strangers**: containers, init containers and volumes that are not the operator's
  (a sidecar an admission webhook injected) are kept; the operator's are matched by name.
- **Open maps merge three ways**: labels and annotations (of the object and of the pod template) are
  shared with people and tools (``kubectl rollout restart``'s annotation, a cost-allocation label). The
  keys the operator set last time are recorded in the ``tradingbot.dev/last-applied`` annotation; a key
  it set before and no longer wants is removed, anyone else's stays.
- **Ownership references**: the TradingBot's is the operator's; anyone else's stays.
- Status, uid, resourceVersion, managedFields and every other metadata field are the server's.

The result is written with a plain update (PUT, guarded by the resourceVersion read) only when it
differs from what the server has, so a reconcile of an unchanged bot still writes nothing.

Why not server-side apply: SSA removes a field the manager applied before and no longer applies, which
is the first half of the job, but it never reverts a field another manager set (a hand-added
``hostNetwork: true`` stays), so the closed-subtree rule would be needed anyway; SSA also sends a request
per child on every reconcile (zero writes needs a local comparison first) and needs managedFields
bookkeeping the test API server would have to emulate. The three-way merge gives both halves with one
read and at most one write per child, on any API server.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tradingbot_operator import identity as ids
from tradingbot_operator.spec import quantity

Manifest = dict[str, Any]
LAST_APPLIED = f"{ids.GROUP}/last-applied"
"""Annotation: the label and annotation keys the operator set last time (JSON), for the three-way merge."""
QUANTITY_KEYS = frozenset({"cpu", "memory", "storage", "nvidia.com/gpu", "sizeLimit"})
"""Values the API server canonicalises (``1000m`` → ``1``): equal quantities are equal."""


@dataclass(frozen=True)
class Closed:
    """A mapping the operator owns: exactly the manifest's keys, plus ``server`` keys the manifest lacks
    (defaults the API server fills in), each child following its own rule (exact when unnamed)."""

    server: frozenset[str] = frozenset()
    children: Mapping[str, Rule] = field(default_factory=dict)
    mirrors: Mapping[str, str] = field(default_factory=dict)
    """A server key kept only while it equals a sibling (``serviceAccount`` mirrors ``serviceAccountName``)."""


@dataclass(frozen=True)
class Named:
    """A list of objects keyed by ``name``: the operator's follow ``item``; others' are kept when
    ``keep_others`` (an injected sidecar), else dropped."""

    item: Rule
    keep_others: bool = True


@dataclass(frozen=True)
class Each:
    """A list whose items pair up by position, each following ``item`` (exact when the lengths differ)."""

    item: Rule


Rule = Closed | Named | Each | None
"""``None``: exactly the manifest's value."""

_PROBE = Closed(server=frozenset({"successThreshold"}), children={"httpGet": Closed(server=frozenset({"scheme"}))})
_CONTAINER = Closed(
    server=frozenset({"terminationMessagePath", "terminationMessagePolicy"}),
    children={
        "ports": Each(Closed(server=frozenset({"protocol"}))),
        "startupProbe": _PROBE,
        "livenessProbe": _PROBE,
        "readinessProbe": _PROBE,
        "resources": Closed(children={"requests": Closed(), "limits": Closed()}),
    },
)
_VOLUME = Closed(children={"configMap": Closed(server=frozenset({"defaultMode"})), "emptyDir": Closed()})
_POD_SPEC = Closed(
    server=frozenset(
        {"restartPolicy", "dnsPolicy", "schedulerName", "enableServiceLinks", "serviceAccount", "initContainers"}
    ),
    children={
        "containers": Named(_CONTAINER),
        "volumes": Named(_VOLUME),
        "securityContext": Closed(),
    },
    mirrors={"serviceAccount": "serviceAccountName"},
)
RULES: dict[str, Closed] = {
    "ConfigMap": Closed(),
    "Service": Closed(
        server=frozenset({"status"}),
        children={
            "spec": Closed(
                server=frozenset(
                    {
                        "clusterIP",
                        "clusterIPs",
                        "ipFamilies",
                        "ipFamilyPolicy",
                        "sessionAffinity",
                        "internalTrafficPolicy",
                    }
                ),
                children={"ports": Each(Closed(server=frozenset({"protocol"})))},
            )
        },
    ),
    "Deployment": Closed(
        server=frozenset({"status"}),
        children={
            "spec": Closed(
                server=frozenset({"revisionHistoryLimit", "progressDeadlineSeconds"}),
                children={"template": Closed(children={"spec": _POD_SPEC})},
            )
        },
    ),
    "NetworkPolicy": Closed(server=frozenset({"status"})),
    "ServiceMonitor": Closed(server=frozenset({"status"})),
    "PersistentVolumeClaim": Closed(server=frozenset({"status"})),
}
"""Per kind, the rule for everything outside ``metadata`` (a PVC's manifest carries the spec
:mod:`tradingbot_operator.storage` planned from the live one)."""


def _absent(value: object) -> bool:
    """The API server omits empty lists and maps: they and ``None`` all mean "not there"."""
    return value is None or value in ({}, [])


def _value(want: Any, have: Any, rule: Rule, key: str = "") -> Any:  # noqa: ANN401 - JSON values
    if isinstance(rule, Closed) and isinstance(want, dict):
        return _closed(want, have if isinstance(have, dict) else {}, rule)
    if isinstance(rule, Named) and isinstance(want, list):
        return _named(want, have if isinstance(have, list) else [], rule)
    if isinstance(rule, Each) and isinstance(want, list) and isinstance(have, list) and len(want) == len(have):
        return [_value(w, h, rule.item) for w, h in zip(want, have, strict=True)]
    if key in QUANTITY_KEYS and _same_quantity(want, have):
        return have
    return copy.deepcopy(want)


def _closed(want: Mapping[str, Any], have: Mapping[str, Any], rule: Closed) -> Manifest:
    result: Manifest = {}
    for key, value in want.items():
        merged = _value(value, have.get(key), rule.children.get(key), key)
        if not (_absent(merged) and key not in have):
            result[key] = merged
    for key, value in have.items():
        if key in want or key not in rule.server:
            continue
        mirrored = rule.mirrors.get(key)
        if mirrored is None or result.get(mirrored) == value:
            result[key] = copy.deepcopy(value)
    return result


def _named(want: list[Any], have: list[Any], rule: Named) -> list[Any]:
    wanted = {item.get("name"): item for item in want if isinstance(item, dict)}
    result = []
    for item in have:
        name = item.get("name") if isinstance(item, dict) else None
        if name in wanted:
            result.append(_value(wanted.pop(name), item, rule.item))
        elif rule.keep_others:
            result.append(copy.deepcopy(item))
    result += [copy.deepcopy(item) for item in wanted.values()]
    return result


def _same_quantity(want: object, have: object) -> bool:
    if not (isinstance(want, str | int) and isinstance(have, str | int)):
        return False
    try:
        return quantity(want) == quantity(have)
    except ValueError:
        return False


def stamp(manifest: Manifest) -> Manifest:
    """``manifest`` with its :data:`LAST_APPLIED` annotation: the label and annotation keys it sets."""
    stamped = copy.deepcopy(manifest)
    meta = stamped["metadata"]
    owned: dict[str, list[str]] = {}
    template = _template(stamped)
    holders = [("", meta)] + ([("template.", template.setdefault("metadata", {}))] if template is not None else [])
    for where, holder in holders:
        for kind in ("labels", "annotations"):
            keys = sorted(holder.get(kind) or {})
            if where == "" and kind == "annotations":
                keys = sorted({*keys, LAST_APPLIED})
            if keys:
                owned[where + kind] = keys
    meta.setdefault("annotations", {})[LAST_APPLIED] = json.dumps(owned, sort_keys=True, separators=(",", ":"))
    return stamped


def last_applied(current: Mapping[str, Any]) -> dict[str, list[str]]:
    """The keys the operator set last time, from ``current``'s annotation (none when absent or garbled)."""
    raw = ((current.get("metadata") or {}).get("annotations") or {}).get(LAST_APPLIED)
    try:
        parsed = json.loads(raw) if isinstance(raw, str) else {}
    except ValueError:
        return {}
    if not isinstance(parsed, dict):
        return {}
    return {k: [str(x) for x in v] for k, v in parsed.items() if isinstance(v, list)}


def _template(obj: Mapping[str, Any]) -> dict[str, Any] | None:
    template = (obj.get("spec") or {}).get("template")
    return template if isinstance(template, dict) else None


def _open_map(want: Mapping[str, str], have: Mapping[str, str], owned_before: list[str]) -> dict[str, str]:
    """Others' keys stay; the operator's are the manifest's (one it set before and dropped goes)."""
    merged = {k: v for k, v in have.items() if k not in owned_before and k not in want}
    merged.update(want)
    return merged


def _ours(reference: object) -> bool:
    return isinstance(reference, dict) and reference.get("apiVersion", "").startswith(f"{ids.GROUP}/")


def _references(want: list[Any], have: list[Any]) -> list[Any]:
    """The operator's ownerReference(s) where the first one was, anyone else's where they were."""
    result: list[Any] = []
    placed = False
    for reference in have:
        if not _ours(reference):
            result.append(copy.deepcopy(reference))
        elif not placed:
            result += copy.deepcopy(want)
            placed = True
    return result if placed else result + copy.deepcopy(want)


def _merge_metadata(want: Manifest, have: Manifest, owned: dict[str, list[str]], prefix: str) -> Manifest:
    result = copy.deepcopy(have)
    for kind in ("labels", "annotations"):
        merged = _open_map(want.get(kind) or {}, have.get(kind) or {}, owned.get(prefix + kind, []))
        if merged:
            result[kind] = merged
        else:
            result.pop(kind, None)
    if prefix == "":
        references = _references(want.get("ownerReferences") or [], have.get("ownerReferences") or [])
        if references:
            result["ownerReferences"] = references
        else:
            result.pop("ownerReferences", None)
    return result


def converge(current: Manifest, manifest: Manifest) -> Manifest:
    """The object to store: ``current`` (from the server) made to match ``manifest`` (already stamped)
    in everything the operator owns, and left as it is in everything else."""
    rule = RULES[manifest["kind"]]
    owned = last_applied(current)
    body_want = {k: v for k, v in manifest.items() if k != "metadata"}
    body_have = {k: v for k, v in current.items() if k != "metadata"}
    result = _closed(body_want, body_have, rule)
    result["metadata"] = _merge_metadata(manifest["metadata"], current.get("metadata") or {}, owned, "")
    want_template, have_template = _template(manifest), _template(current) or {}
    if want_template is not None:
        result["spec"]["template"]["metadata"] = _merge_metadata(
            want_template.get("metadata") or {}, have_template.get("metadata") or {}, owned, "template."
        )
    return result


def drifted(current: Manifest, manifest: Manifest) -> bool:
    """Whether ``current`` differs from ``manifest`` in anything the operator owns."""
    return converge(current, stamp(manifest)) != current
