"""A Kubernetes API server for tests: KMock's emulator with the gaps that kopf and kubectl hit closed.

KMock (``kmock==0.8``, pinned: this subclass touches its private modules) stores objects and serves
discovery. This subclass serves every request on a known resource itself, adding what a real
apiserver does and KMock does not (the numbers follow ``kube-testbed.md``):

1. server-set ``uid``, ``creationTimestamp``, ``resourceVersion``, ``generation`` and namespace;
2. ``/api/v1/namespaces[/<name>]`` (KMock's path parser fails on it);
3. typed lists (``kind: …List``, a real list ``resourceVersion``);
4. correct core discovery (``groupVersion: v1``, no shortNames on subresources);
5. PUT (replace), with the status subresource;
6. ``as=Table`` answers built from a CRD's printer columns (``kubectl get``);
7. CRDs register their kinds when created;
8. watches served as ``application/json``, resumable from a ``resourceVersion``;
9. ``?dryRun=All`` computes without storing;
10. equality label selectors and ``metadata.name``/``metadata.namespace`` field selectors;
11. ``metadata.generateName``;
12. a failed JSON-patch ``test`` is 422 (kopf's resourceVersion guard).

Also: the status subresource is isolated (a main-resource write never changes ``.status`` and a
``/status`` write changes only it), a write that changes nothing is a no-op (no new resourceVersion,
no event), finalizers hold deletion, and a background garbage collector deletes dependents whose owner
(by ``ownerReferences[].uid``) is gone. Writes of the kinds a TradingBot owns get the API server's
defaults, empty ObjectMeta lists and maps are stored as absent, and claims follow the DefaultStorageClass
and resize rules (``kube_rules``); custom resources are pruned, defaulted and validated against their
CRD's structural schema and CEL rules, refusals worded as the API server words them
(``kube_validation``). Strategic merge patches are applied as JSON merge patches with the
``$``-directives dropped. For tests: :class:`Fault` makes chosen requests fail (an HTTP status with an
optional ``Retry-After``, or a dropped connection), and every request is logged with its User-Agent.
Still absent: controllers (no ReplicaSets or Pods; tests patch a Deployment's status themselves),
RBAC and authentication, server-side apply, protobuf, watch bookmarks and ``410 Gone``.

Run it in-process with :class:`EmulatorThread` or as ``python tests/testbed/kubeemu.py --kubeconfig F``.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import copy
import json
import re
import secrets
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp.web
import attrs
import jsonpatch
import kmock
from kmock._internal import parsing, rendering

import kube_rules
import kube_validation

Obj = dict[str, Any]
Key = tuple[kmock.resource, str | None, str]
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CRD_RESOURCE = kmock.resource("apiextensions.k8s.io", "v1", "customresourcedefinitions")
STORAGE_CLASSES = kmock.resource("storage.k8s.io", "v1", "storageclasses")
ALL_VERBS = {"create", "delete", "get", "list", "patch", "update", "watch"}

_parse_path_of_kmock = parsing.parse_path


def _parse_path(path: str) -> parsing.ParsedPath:
    """KMock's parser, plus the cluster-scoped core ``namespaces`` resource (gap 2)."""
    parts = path.strip("/").split("/")
    if parts[:3] == ["api", "v1", "namespaces"] and len(parts) <= 5:
        name = parts[3] if len(parts) > 3 else None
        sub = parts[4] if len(parts) > 4 else None
        if sub in (None, "status", "finalize"):
            return parsing.ParsedPath("", "v1", "namespaces", None, name, sub)
    return _parse_path_of_kmock(path)


parsing.parse_path = _parse_path  # rendering.Request._parse looks it up on the module at each request


class ApiStatusError(Exception):
    """An error answered as a ``v1 Status`` (the way kubectl and kopf expect it)."""

    def __init__(self, code: int, reason: str, message: str, details: Obj | None = None) -> None:
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _merge(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge(result.get(key), value)
    return result


def _strip_directives(patch: Any) -> Any:
    """A strategic merge patch without its ``$setElementOrder``-style directives."""
    if isinstance(patch, dict):
        return {k: _strip_directives(v) for k, v in patch.items() if not k.startswith("$")}
    if isinstance(patch, list):
        return [_strip_directives(v) for v in patch]
    return patch


def _age(timestamp: str) -> str:
    try:
        then = datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except (TypeError, ValueError):
        return "<unknown>"
    seconds = max(0, int((datetime.now(UTC) - then).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= 2 * size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


_JSONPATH_TOKEN = re.compile(r"\.([A-Za-z0-9_-]+)|\[(\d+)\]|\[\?\(@\.([A-Za-z0-9_-]+)==[\"']([^\"']*)[\"']\)\]")


def jsonpath(obj: Any, path: str) -> list[Any]:
    """The values at a printer-column JSONPath (fields, indexes, ``[?(@.k=="v")]``)."""
    values = [obj]
    position = 0
    while position < len(path):
        match = _JSONPATH_TOKEN.match(path, position)
        if match is None:
            raise ValueError(f"unsupported JSONPath {path!r}")
        position = match.end()
        field, index, key, wanted = match.groups()
        found = []
        for value in values:
            if field is not None and isinstance(value, dict) and field in value:
                found.append(value[field])
            elif index is not None and isinstance(value, list) and int(index) < len(value):
                found.append(value[int(index)])
            elif key is not None and isinstance(value, list):
                found += [v for v in value if isinstance(v, dict) and str(v.get(key)) == wanted]
        values = found
    return values


def _label_match(labels: dict[str, str], selector: str) -> bool:
    for term in filter(None, (t.strip() for t in selector.split(","))):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key.strip()) == value.strip():
                return False
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            if labels.get(key.strip()) != value.strip():
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


def _field_match(obj: Obj, selector: str) -> bool:
    """Equality field selectors on any dotted path (``metadata.name``, ``involvedObject.uid``, …)."""
    for term in filter(None, (t.strip() for t in selector.split(","))):
        negate = "!=" in term
        path, value = term.replace("!=", "=").replace("==", "=").split("=", 1)
        actual: Any = obj
        for part in path.strip().split("."):
            actual = actual.get(part) if isinstance(actual, dict) else None
        if (str(actual) == value.strip() if actual is not None else value.strip() == "") == negate:
            return False
    return True


@attrs.define
class Fault:
    """Answer the next ``times`` requests matching ``method`` and ``plural`` (``*``: any) with ``code``
    (0: drop the connection without an answer) and, when set, a ``Retry-After`` header in seconds."""

    method: str
    plural: str
    code: int
    times: int = 1
    retry_after: int | None = None

    def takes(self, method: str, plural: str | None) -> bool:
        """Whether this fault answers the request (and uses up one of its times)."""
        if self.times <= 0 or self.method not in ("*", method) or self.plural not in ("*", plural):
            return False
        self.times -= 1
        return True


@attrs.define(kw_only=True)
class KubeEmulator(kmock.KubernetesEmulator):
    """KMock's emulator serving CRUD, watches and tables like an apiserver (see the module docstring)."""

    garbage_collect: bool = True
    writes: collections.Counter[tuple[str, str]] = attrs.field(factory=collections.Counter, init=False)
    """Write requests received, by (method, plural): what a benchmark counts."""
    faults: list[Fault] = attrs.field(factory=list, init=False)
    """Injected failures, consumed in order (see :class:`Fault`)."""
    requests: list[tuple[float, str, str, str, str]] = attrs.field(factory=list, init=False)
    """Every request on a resource: (monotonic time, User-Agent, method, plural, name), for tests that
    ask who wrote what when."""
    _rv: int = attrs.field(default=0, init=False)
    _log: list[tuple[int, kmock.resource, Obj]] = attrs.field(factory=list, init=False)
    _changed: asyncio.Event = attrs.field(factory=asyncio.Event, init=False)
    _columns: dict[kmock.resource, list[Obj]] = attrs.field(factory=dict, init=False)
    _ips: int = attrs.field(default=0, init=False)
    _schemas: dict[kmock.resource, tuple[Obj, str, str]] = attrs.field(factory=dict, init=False)
    """A CRD version's (openAPIV3Schema, kind, group), for validating its objects."""

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        self.resources.load_bundled()
        for namespace in ("default", "kube-system"):
            self._insert(kmock.resource("", "v1", "namespaces"), None, {"metadata": {"name": namespace}})

    # -- discovery (gap 4) ----------------------------------------------------------------------
    async def _serve_version(self, request: rendering.Request) -> rendering.Payload:
        payload = await super()._serve_version(request)
        assert isinstance(payload, dict)
        if payload.get("groupVersion") == "/v1":
            payload["groupVersion"] = "v1"
        for entry in payload.get("resources", []):
            if "/" in entry["name"]:
                entry["shortNames"], entry["categories"] = [], []
        return payload

    # -- dispatch -------------------------------------------------------------------------------
    async def _handle(self, request: rendering.Request) -> aiohttp.web.StreamResponse:
        resource = request.resource
        if resource is None or resource.plural is None:
            return await kmock.RawHandler._handle(self, request)  # discovery, /version, …
        method = request.method.upper()
        user_agent = request.headers.get("User-Agent", "")
        self.requests.append((time.monotonic(), user_agent, method, resource.plural, str(request.name or "")))
        fault = next((f for f in self.faults if f.takes(method, resource.plural)), None)
        if fault is not None:
            return self._fail(request, fault)
        if method in WRITE_METHODS:
            self.writes[(method, resource.plural)] += 1
        try:
            info = self._info(resource)
            if method == "GET" and request.params.get("watch") in ("true", "1"):
                return await self._watch(request, resource, info)
            if method == "GET" and request.name is None:
                return self._respond(request, self._list(request, resource, info), resource)
            if method == "GET":
                return self._respond(request, self._read(self._key(request, resource, info)), resource)
            if method == "POST" and request.name is None:
                return self._respond(request, await self._create(request, resource, info), resource, 201)
            if method == "PATCH" and request.name is not None:
                return self._respond(request, await self._patch(request, resource, info), resource)
            if method == "PUT" and request.name is not None:
                return self._respond(request, await self._replace(request, resource, info), resource)
            if method == "DELETE" and request.name is not None:
                return self._respond(request, await self._delete(request, resource, info), resource)
            raise ApiStatusError(405, "MethodNotAllowed", f"{method} is not supported on {request.url.path}")
        except ApiStatusError as error:
            return aiohttp.web.json_response(
                {
                    "apiVersion": "v1",
                    "kind": "Status",
                    "metadata": {},
                    "status": "Failure",
                    "code": error.code,
                    "reason": error.reason,
                    "message": error.message,
                    **({"details": error.details} if error.details else {}),
                },
                status=error.code,
            )

    @staticmethod
    def _fail(request: rendering.Request, fault: Fault) -> aiohttp.web.StreamResponse:
        if fault.code == 0:
            raw = request._raw_request
            assert raw is not None and raw.transport is not None
            raw.transport.close()  # the client sees the connection drop without an answer
            return aiohttp.web.Response(status=500)
        headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
        body = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": fault.code, "message": "injected"}
        return aiohttp.web.json_response(body, status=fault.code, headers=headers)

    def _info(self, resource: kmock.resource) -> kmock.ResourceInfo:
        if resource not in self.resources:
            raise ApiStatusError(404, "NotFound", f"the server could not find the requested resource {resource}")
        return self.resources[resource]

    def _key(self, request: rendering.Request, resource: kmock.resource, info: kmock.ResourceInfo) -> Key:
        namespace = request.namespace if info.namespaced else None
        if info.namespaced and namespace is None and request.name is not None:
            raise ApiStatusError(404, "NotFound", f"{resource.plural} are namespaced: name a namespace")
        return (resource, namespace, str(request.name))

    def _read(self, key: Key) -> Obj:
        if key not in self.objects or self.objects[key].deleted:
            raise ApiStatusError(404, "NotFound", f'{key[0].plural} "{key[2]}" not found')
        return copy.deepcopy(self.objects[key].raw)

    # -- writes ---------------------------------------------------------------------------------
    def _next_rv(self) -> str:
        self._rv += 1
        return str(self._rv)

    def _emit(self, resource: kmock.resource, kind: str, obj: Obj) -> None:
        self._log.append((self._rv, resource, {"type": kind, "object": copy.deepcopy(obj)}))
        self._changed.set()
        self._changed = asyncio.Event()

    def _insert(self, resource: kmock.resource, namespace: str | None, body: Obj) -> Obj:
        obj = copy.deepcopy(body)
        meta = obj.setdefault("metadata", {})
        info = self.resources[resource]
        obj.setdefault("apiVersion", f"{resource.group}/{resource.version}".lstrip("/"))
        obj.setdefault("kind", info.kind or resource.plural.capitalize())
        if namespace is not None:
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)  # ignored on a cluster-scoped object, as the API server does
        meta.update(uid=str(uuid.uuid4()), creationTimestamp=_now(), generation=1, resourceVersion=self._next_rv())
        for transient in ("deletionTimestamp", "deletionGracePeriodSeconds"):
            meta.pop(transient, None)
        if "status" in info.subresources:
            obj.pop("status", None)
        key = (resource, namespace, meta["name"])
        if key in self.objects:
            self.objects[key].create(obj)
        else:
            self.objects[key] = obj
        self._emit(resource, "ADDED", obj)
        if resource == CRD_RESOURCE:
            self._register(obj)
        return obj

    def _register(self, crd: Obj) -> None:
        """Serve the kinds of a created CRD (gap 7) and remember its printer columns (gap 6)."""
        spec = crd.get("spec", {})
        names = spec.get("names", {})
        for version in spec.get("versions", []):
            if not version.get("served", True):
                continue
            resource = kmock.resource(spec["group"], version["name"], names["plural"])
            self.resources[resource] = kmock.ResourceInfo(
                kind=names["kind"],
                singular=names.get("singular") or names["kind"].lower(),
                namespaced=spec.get("scope") == "Namespaced",
                shortnames=set(names.get("shortNames", [])),
                categories=set(names.get("categories", [])),
                subresources={"status"} if "status" in (version.get("subresources") or {}) else set(),
                verbs=set(ALL_VERBS),
            )
            self._columns[resource] = list(version.get("additionalPrinterColumns", []))
            schema = (version.get("schema") or {}).get("openAPIV3Schema")
            if isinstance(schema, dict):
                self._schemas[resource] = (schema, names["kind"], spec["group"])

    async def _create(self, request: rendering.Request, resource: kmock.resource, info: kmock.ResourceInfo) -> Obj:
        body = request.data
        if not isinstance(body, dict):
            raise ApiStatusError(400, "BadRequest", "the body must be a JSON object")
        meta = body.setdefault("metadata", {})
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + secrets.token_hex(3)[:5]
        if not meta.get("name"):
            raise ApiStatusError(422, "Invalid", "metadata.name: Required value")
        namespace = (request.namespace or meta.get("namespace")) if info.namespaced else None
        if info.namespaced and not namespace:
            raise ApiStatusError(400, "BadRequest", "a namespaced object needs a namespace")
        if meta.get("namespace") and request.namespace and meta["namespace"] != request.namespace:
            raise ApiStatusError(400, "BadRequest", "the namespace of the object does not match the URL")
        key: Key = (resource, namespace, meta["name"])
        if key in self.objects and not self.objects[key].deleted:
            raise ApiStatusError(409, "AlreadyExists", f'{resource.plural} "{meta["name"]}" already exists')
        body = self._admit(request, resource, info, body, None)
        if request.params.get("dryRun"):
            return body
        return self._insert(resource, namespace, body)

    def _admit(
        self,
        request: rendering.Request,
        resource: kmock.resource,
        info: kmock.ResourceInfo,
        new: Obj,
        old: Obj | None,
        builtin: bool = True,
    ) -> Obj:
        """The object to store after, for a custom resource, its CRD's schema (``kube_validation``) and, on
        the main resource (``builtin``), the server's defaulting and the claim rules (``kube_rules``)."""
        if resource in self._schemas:
            schema, kind, group = self._schemas[resource]
            strict = request.params.get("fieldValidation") == "Strict"
            try:
                new = kube_validation.admit(new, old, schema, kind, group, strict)
            except kube_validation.Rejection as rejection:
                raise ApiStatusError(rejection.code, rejection.reason, rejection.message, rejection.details) from None
        if builtin:
            self._admit_builtin(info, new, old)
        return new

    def _admit_builtin(self, info: kmock.ResourceInfo, new: Obj, old: Obj | None) -> None:
        kind = str(info.kind)
        kube_rules.drop_empty_metadata(new)
        kube_rules.apply_defaults(kind, new, self._allocate_ip, old)
        if kind == "PersistentVolumeClaim":
            classes = [o.raw for (res, _, _), o in self.objects.items() if res == STORAGE_CLASSES and not o.deleted]
            try:
                kube_rules.admit_claim(new, old, classes)
            except kube_rules.RefusedError as refusal:
                raise ApiStatusError(refusal.code, refusal.reason, refusal.message) from None

    def _allocate_ip(self) -> str:
        self._ips += 1
        return f"10.96.{self._ips // 250}.{self._ips % 250 + 1}"

    def _commit(  # noqa: PLR0912 - the apiserver's write rules, in one place
        self, request: rendering.Request, key: Key, info: kmock.ResourceInfo, current: Obj, new: Obj
    ) -> Obj:
        """Store ``new`` (keeping server-owned fields), unless nothing changed or it is a dry run."""
        meta, old_meta = new.setdefault("metadata", {}), current["metadata"]
        for fixed in ("uid", "creationTimestamp", "name", "namespace", "generation", "deletionTimestamp"):
            if fixed in old_meta:
                meta[fixed] = old_meta[fixed]
            else:
                meta.pop(fixed, None)
        meta["resourceVersion"] = old_meta["resourceVersion"]
        if "status" in info.subresources:
            if request.subresource == "status":
                new = {**copy.deepcopy(current), "status": new.get("status")}
                if new["status"] is None:
                    new.pop("status")
            else:
                new.pop("status", None)
                if "status" in current:
                    new["status"] = copy.deepcopy(current["status"])
        new = self._admit(request, key[0], info, new, current, builtin=request.subresource != "status")
        if new == current:
            return current
        body_changed = any(
            new.get(k) != current.get(k) for k in set(new) | set(current) if k not in ("metadata", "status")
        )
        if body_changed:
            new["metadata"]["generation"] = int(old_meta.get("generation", 1)) + 1
        if request.params.get("dryRun"):
            return new
        new["metadata"]["resourceVersion"] = self._next_rv()
        resource = key[0]
        if new["metadata"].get("deletionTimestamp") and not new["metadata"].get("finalizers"):
            self.objects[key].history.append(new)
            self._remove(key)
            return new
        self.objects[key].history.append(new)
        self._emit(resource, "MODIFIED", new)
        if resource == CRD_RESOURCE:
            self._register(new)
        return new

    async def _patch(self, request: rendering.Request, resource: kmock.resource, info: kmock.ResourceInfo) -> Obj:
        key = self._key(request, resource, info)
        current = self._read(key)
        content_type = request.headers.get("Content-Type", "").split(";")[0].strip()
        body = request.data
        if content_type == "application/json-patch+json":
            try:
                new = jsonpatch.apply_patch(current, body)
            except jsonpatch.JsonPatchTestFailed as error:
                raise ApiStatusError(422, "Invalid", f"the JSON patch test failed: {error}") from None
            except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as error:
                raise ApiStatusError(422, "Invalid", f"the JSON patch cannot apply: {error}") from None
        elif content_type in ("application/merge-patch+json", "application/strategic-merge-patch+json"):
            if not isinstance(body, dict):
                raise ApiStatusError(400, "BadRequest", "a merge patch must be a JSON object")
            wanted_rv = (body.get("metadata") or {}).get("resourceVersion")
            if wanted_rv is not None and wanted_rv != current["metadata"]["resourceVersion"]:
                raise ApiStatusError(409, "Conflict", "the object has been modified; apply to the latest version")
            new = _merge(current, _strip_directives(body))
        else:
            raise ApiStatusError(415, "UnsupportedMediaType", f"unsupported patch type {content_type!r}")
        return self._commit(request, key, info, current, new)

    async def _replace(self, request: rendering.Request, resource: kmock.resource, info: kmock.ResourceInfo) -> Obj:
        key = self._key(request, resource, info)
        current = self._read(key)
        body = request.data
        if not isinstance(body, dict):
            raise ApiStatusError(400, "BadRequest", "the body must be a JSON object")
        wanted_rv = (body.get("metadata") or {}).get("resourceVersion")
        if wanted_rv and wanted_rv != current["metadata"]["resourceVersion"]:
            raise ApiStatusError(409, "Conflict", "the object has been modified; apply to the latest version")
        return self._commit(request, key, info, current, copy.deepcopy(body))

    async def _delete(self, request: rendering.Request, resource: kmock.resource, info: kmock.ResourceInfo) -> Obj:
        key = self._key(request, resource, info)
        current = self._read(key)
        if request.params.get("dryRun"):
            return current
        if current["metadata"].get("finalizers"):
            if not current["metadata"].get("deletionTimestamp"):
                current["metadata"]["deletionTimestamp"] = _now()
                current["metadata"]["resourceVersion"] = self._next_rv()
                self.objects[key].history.append(current)
                self._emit(resource, "MODIFIED", current)
            return current
        self._remove(key)
        return current

    def _remove(self, key: Key) -> None:
        """Delete for good, then let the garbage collector delete dependents of the removed owner."""
        last = copy.deepcopy(self.objects[key].raw)
        last["metadata"]["resourceVersion"] = self._next_rv()
        self.objects[key].delete()
        self._emit(key[0], "DELETED", last)
        if key[0] == CRD_RESOURCE:
            for version in last.get("spec", {}).get("versions", []):
                gone = kmock.resource(last["spec"]["group"], version["name"], last["spec"]["names"]["plural"])
                self._columns.pop(gone, None)
        if self.garbage_collect:
            self._collect(last["metadata"]["uid"])

    def _collect(self, owner_uid: str) -> None:
        for key, obj in list(self.objects.items()):
            if obj.deleted:
                continue
            refs = obj.raw.get("metadata", {}).get("ownerReferences") or []
            if not any(ref.get("uid") == owner_uid for ref in refs):
                continue
            if obj.raw["metadata"].get("finalizers"):
                if not obj.raw["metadata"].get("deletionTimestamp"):
                    marked = copy.deepcopy(obj.raw)
                    marked["metadata"]["deletionTimestamp"] = _now()
                    marked["metadata"]["resourceVersion"] = self._next_rv()
                    obj.history.append(marked)
                    self._emit(key[0], "MODIFIED", marked)
            else:
                self._remove(key)

    # -- reads ----------------------------------------------------------------------------------
    def _selected(self, request: rendering.Request, resource: kmock.resource) -> Iterator[Obj]:
        labels, fields = request.params.get("labelSelector", ""), request.params.get("fieldSelector", "")
        for (res, namespace, _), obj in self.objects.items():
            if res != resource or obj.deleted or (request.namespace and namespace != request.namespace):
                continue
            raw = obj.raw
            if _label_match(raw.get("metadata", {}).get("labels") or {}, labels) and _field_match(raw, fields):
                yield copy.deepcopy(raw)

    def _list(self, request: rendering.Request, resource: kmock.resource, info: kmock.ResourceInfo) -> Obj:
        return {
            "apiVersion": f"{resource.group}/{resource.version}".lstrip("/"),
            "kind": f"{info.kind or resource.plural.capitalize()}List",
            "metadata": {"resourceVersion": str(self._rv)},
            "items": sorted(
                self._selected(request, resource),
                key=lambda o: (o["metadata"].get("namespace") or "", o["metadata"]["name"]),
            ),
        }

    async def _watch(
        self, request: rendering.Request, resource: kmock.resource, info: kmock.ResourceInfo
    ) -> aiohttp.web.StreamResponse:
        raw_request = request._raw_request
        assert raw_request is not None
        response = aiohttp.web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(raw_request)
        since = request.params.get("resourceVersion", "")
        timeout = float(request.params.get("timeoutSeconds") or 0) or None
        deadline = None if timeout is None else time.monotonic() + timeout
        labels, fields = request.params.get("labelSelector", ""), request.params.get("fieldSelector", "")
        if since in ("", "0"):
            position = len(self._log)
            initial = [{"type": "ADDED", "object": o} for o in self._selected(request, resource)]
        else:
            position = next((i for i, (rv, _, _) in enumerate(self._log) if rv > int(since)), len(self._log))
            initial = []
        try:
            for event in initial:
                await response.write(self._event_bytes(request, resource, event))
            while deadline is None or time.monotonic() < deadline:
                changed = self._changed
                for _, res, event in self._log[position:]:
                    obj = event["object"]
                    meta = obj.get("metadata", {})
                    if res != resource or (request.namespace and meta.get("namespace") != request.namespace):
                        continue
                    if _label_match(meta.get("labels") or {}, labels) and _field_match(obj, fields):
                        await response.write(self._event_bytes(request, resource, event))
                position = len(self._log)
                remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
                try:
                    async with asyncio.timeout(remaining):
                        await changed.wait()
                except TimeoutError:
                    break
        except (ConnectionResetError, aiohttp.ClientConnectionResetError):
            return response
        await response.write_eof()
        return response

    def _event_bytes(self, request: rendering.Request, resource: kmock.resource, event: Obj) -> bytes:
        obj = event["object"]
        if self._wants_table(request):
            obj = self._table(resource, [obj])
        return json.dumps({"type": event["type"], "object": obj}).encode() + b"\n"

    # -- tables (gap 6) -------------------------------------------------------------------------
    @staticmethod
    def _wants_table(request: rendering.Request) -> bool:
        return "as=Table" in request.headers.get("Accept", "")

    def _respond(
        self, request: rendering.Request, payload: Obj, resource: kmock.resource, code: int = 200
    ) -> aiohttp.web.StreamResponse:
        if self._wants_table(request) and request.method.upper() == "GET":
            items = payload.get("items", [payload])
            table = self._table(resource, items)
            table["metadata"] = {"resourceVersion": str(self._rv)}
            payload = table
        return aiohttp.web.json_response(payload, status=code)

    def _table(self, resource: kmock.resource, objects: list[Obj]) -> Obj:
        columns = self._columns.get(resource)
        if not columns:
            columns = [{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}]
        definitions = [{"name": "Name", "type": "string", "format": "name", "description": "", "priority": 0}]
        definitions += [
            {
                "name": c["name"],
                "type": c.get("type", "string"),
                "format": c.get("format", ""),
                "description": c.get("description", ""),
                "priority": c.get("priority", 0),
            }
            for c in columns
        ]
        rows = []
        for obj in objects:
            cells: list[Any] = [obj.get("metadata", {}).get("name")]
            for column in columns:
                values = jsonpath(obj, column["jsonPath"])
                value = values[0] if len(values) == 1 else (values or None)
                if value is not None and column.get("type") == "date":
                    value = _age(str(value))
                elif isinstance(value, dict | list):
                    value = json.dumps(value, separators=(",", ":"))
                cells.append(value)
            rows.append(
                {
                    "cells": cells,
                    "object": {
                        "apiVersion": "meta.k8s.io/v1",
                        "kind": "PartialObjectMetadata",
                        "metadata": obj.get("metadata", {}),
                    },
                }
            )
        return {"apiVersion": "meta.k8s.io/v1", "kind": "Table", "columnDefinitions": definitions, "rows": rows}


def write_kubeconfig(path: Path, url: str, namespace: str = "default") -> Path:
    """A kubeconfig pointing kubectl and kopf at the emulator (plain HTTP, a dummy token)."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "emulator", "cluster": {"server": url}}],
        "users": [{"name": "tester", "user": {"token": "emulator-token"}}],
        "contexts": [
            {"name": "emulator", "context": {"cluster": "emulator", "user": "tester", "namespace": namespace}}
        ],
        "current-context": "emulator",
    }
    path.write_text(json.dumps(config, indent=2))
    return path


class EmulatorThread:
    """The emulator on 127.0.0.1 in a thread of its own (its own event loop), as a context manager."""

    def __init__(self, port: int = 0) -> None:
        self.port = port
        self.url = ""
        self.emulator: KubeEmulator | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._run, name="kube-emulator", daemon=True)
        self._error: BaseException | None = None

    def __enter__(self) -> EmulatorThread:
        self._thread.start()
        if not self._ready.wait(30) or self._error is not None:
            raise RuntimeError(f"the emulator did not start: {self._error!r}")
        return self

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)

    def call(self, fn: Any, *args: Any) -> Any:
        """Run ``fn(*args)`` on the emulator's loop (safe access to its state) and return the result."""
        assert self._loop is not None

        async def run() -> Any:
            return fn(*args)

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(30)

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as error:  # noqa: BLE001 - reported to the starting thread
            self._error = error
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self.emulator = KubeEmulator()
        async with self.emulator, kmock.Server(self.emulator, host="127.0.0.1", port=self.port) as server:
            self.url = f"http://127.0.0.1:{server.port}"
            self._ready.set()
            await self._stop.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description="Run the test Kubernetes API emulator on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--kubeconfig", type=Path, help="write a kubeconfig for it here")
    parser.add_argument("--namespace", default="default", help="the kubeconfig's namespace")
    args = parser.parse_args()
    with EmulatorThread(args.port) as server:
        if args.kubeconfig is not None:
            write_kubeconfig(args.kubeconfig, server.url, args.namespace)
        print(server.url, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
