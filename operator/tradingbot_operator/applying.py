"""The operator's only door to the Kubernetes API: read, create, update, patch and delete objects as dicts.

A :class:`KubeApi` wraps one aiohttp session built from kopf's login result (in-cluster service
account or kubeconfig). :meth:`KubeApi.ensure` makes a child match its manifest level-based: it reads
the object, creates it when missing and, only when it drifted, stores the three-way merge of
:mod:`tradingbot_operator.desired` with an update guarded by the resourceVersion it read, so
reconciling an unchanged bot writes nothing.

Every request retries what is transient: a lost connection or timeout, ``429 Too Many Requests``
(waiting at least its ``Retry-After``, up to 30 s) and ``500``/``502``/``503``/``504``; up to 4 retries
with jittered exponential waits (0.25-0.5 s, 0.5-1 s, 1-2 s, 2-4 s), and never past 60 s after the
first attempt. Only then does the request fail with :class:`ApiError`. Retrying a write is safe: a
create that did land answers 409 (read and compared again), an update carries the resourceVersion it
was computed from (409 if anything changed: computed again), a delete answers 404.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote, urlencode

import aiohttp
import kopf

from tradingbot_contract.backoff import Backoff
from tradingbot_operator.desired import converge, stamp
from tradingbot_operator.identity import API_VERSION, KIND, PLURAL

Manifest = dict[str, Any]
Outcome = Literal["created", "updated", "unchanged"]
Planner = Callable[[Manifest | None], Awaitable[Manifest]]
"""The live object (``None``: absent) → the manifest to apply to it."""
MERGE_PATCH = "application/merge-patch+json"
REQUEST_TIMEOUT_S = 30.0
TRANSIENT_STATUSES = frozenset({0, 429, 500, 502, 503, 504})
"""0: no answer (connection refused or lost, timeout)."""
MAX_RETRIES = 4
RETRY_BUDGET_S = 60.0
"""No retry starts later than this after a request's first attempt."""
MAX_RETRY_AFTER_S = 30.0
CONFLICT_ATTEMPTS = 5
"""Read-merge-update rounds when the object keeps changing under the operator (409 Conflict)."""

# (apiVersion, kind) → plural, for every (namespaced) kind the operator touches
_PLURALS: dict[tuple[str, str], str] = {
    ("v1", "ConfigMap"): "configmaps",
    ("v1", "Service"): "services",
    ("v1", "PersistentVolumeClaim"): "persistentvolumeclaims",
    ("apps/v1", "Deployment"): "deployments",
    ("networking.k8s.io/v1", "NetworkPolicy"): "networkpolicies",
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "servicemonitors",
    ("storage.k8s.io/v1", "StorageClass"): "storageclasses",
    (API_VERSION, KIND): PLURAL,
}


class ApiError(Exception):
    """The API server refused a request (``status`` 0: no answer); the message is the server's."""

    def __init__(self, status: int, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(f"HTTP {status}: {message}" if status else message)
        self.status = status
        self.message = message
        self.retry_after_s = retry_after_s

    @property
    def transient(self) -> bool:
        """Worth retrying: no answer, throttled, or a server-side failure."""
        return self.status in TRANSIENT_STATUSES


@dataclass(frozen=True)
class Ref:
    """Which object: its apiVersion, kind, namespace and name."""

    api_version: str
    kind: str
    namespace: str | None
    """``None`` for a cluster-scoped object (a StorageClass)."""
    name: str

    @classmethod
    def of(cls, manifest: Mapping[str, Any]) -> Ref:
        meta = manifest["metadata"]
        return cls(manifest["apiVersion"], manifest["kind"], meta.get("namespace"), meta["name"])

    def path(self, subresource: str | None = None) -> str:
        plural = _PLURALS[(self.api_version, self.kind)]
        root = "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"
        scope = f"/namespaces/{quote(self.namespace)}" if self.namespace is not None else ""
        path = f"{root}{scope}/{plural}/{quote(self.name)}"
        return f"{path}/{subresource}" if subresource else path

    def collection(self) -> str:
        return self.path().rsplit("/", 1)[0]

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"


def _retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds (the API server sends whole seconds; a date is not worth parsing)."""
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None
    return seconds if seconds is not None and seconds >= 0 else None


def _ssl_context(info: kopf.ConnectionInfo) -> ssl.SSLContext | bool:
    if info.insecure:
        return False
    context = ssl.create_default_context(
        cafile=str(info.ca_path) if info.ca_path else None,
        cadata=info.ca_data.decode() if isinstance(info.ca_data, bytes) else info.ca_data,
    )
    if info.certificate_path and info.private_key_path:
        context.load_cert_chain(str(info.certificate_path), str(info.private_key_path))
    return context


class KubeApi:
    """An async Kubernetes API client for plain dicts. Create it, :meth:`connect` it, :meth:`close` it.

    ``on_write(verb, kind)`` is called after every write request, ``on_retry(status)`` before every retry
    of a transient failure (for the operator's metrics). ``user_agent`` names this operator replica in the
    API server's audit log.
    """

    def __init__(
        self,
        on_write: Callable[[str, str], None] | None = None,
        on_retry: Callable[[int], None] | None = None,
        user_agent: str = "tradingbot-operator",
        backoff: Callable[[], Backoff] = lambda: Backoff(0.5, 8.0),
    ) -> None:
        self._server: str | None = None
        self._headers: dict[str, str] = {}
        self._session: aiohttp.ClientSession | None = None
        self._on_write = on_write
        self._on_retry = on_retry
        self._user_agent = user_agent
        self._backoff = backoff

    async def connect(self, info: kopf.ConnectionInfo) -> None:
        """Use the credentials kopf logged in with (called again when kopf re-authenticates)."""
        await self.close()
        self._server = info.server.rstrip("/")
        self._headers = {"Accept": "application/json", "User-Agent": self._user_agent}
        if info.token:
            self._headers["Authorization"] = f"{info.scheme or 'Bearer'} {info.token}"
        auth = aiohttp.BasicAuth(info.username, info.password or "") if info.username else None
        self._session = aiohttp.ClientSession(
            auth=auth,
            connector=aiohttp.TCPConnector(ssl=_ssl_context(info) if self._server.startswith("https") else False),
            timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S),
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def request(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        content_type: str = "application/json",
        params: Mapping[str, str] | None = None,
    ) -> Manifest:
        """One API call, retried while it fails transiently; a non-2xx answer in the end raises
        :class:`ApiError` with the server's message."""
        backoff = self._backoff()
        started = time.monotonic()
        for retry in range(MAX_RETRIES + 1):
            try:
                return await self._attempt(method, path, body, content_type, params)
            except ApiError as error:
                if not error.transient or retry == MAX_RETRIES:
                    raise
                wait = backoff.next(at_least_s=min(error.retry_after_s or 0.0, MAX_RETRY_AFTER_S))
                if time.monotonic() + wait - started > RETRY_BUDGET_S:
                    raise
                if self._on_retry is not None:
                    self._on_retry(error.status)
                await asyncio.sleep(wait)
        raise AssertionError("unreachable: the last attempt returns or raises")  # pragma: no cover

    async def _attempt(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None,
        content_type: str,
        params: Mapping[str, str] | None,
    ) -> Manifest:
        if self._session is None or self._server is None:
            raise ApiError(0, "not connected to the Kubernetes API (no login yet)")
        url = self._server + path + (f"?{urlencode(params)}" if params else "")
        headers = dict(self._headers)
        data = None
        if body is not None:
            headers["Content-Type"] = content_type
            data = json.dumps(body)
        try:
            async with self._session.request(method, url, data=data, headers=headers) as response:
                text = await response.text()
                if response.status >= 400:
                    raise ApiError(response.status, _message(text), _retry_after(response.headers.get("Retry-After")))
        except (aiohttp.ClientError, TimeoutError) as error:
            raise ApiError(0, f"{method} {path}: {type(error).__name__}: {error}") from error
        return json.loads(text) if text else {}

    async def get(self, ref: Ref) -> Manifest | None:
        """The object, or ``None`` when it does not exist."""
        try:
            return await self.request("GET", ref.path())
        except ApiError as error:
            if error.status == 404:
                return None
            raise

    async def create(self, manifest: Manifest) -> Manifest:
        ref = Ref.of(manifest)
        created = await self.request("POST", ref.collection(), manifest)
        self._wrote("create", ref.kind)
        return created

    async def update(self, obj: Manifest) -> Manifest:
        """Replace the object with ``obj`` (PUT); 409 if its resourceVersion is no longer the server's."""
        ref = Ref.of(obj)
        updated = await self.request("PUT", ref.path(), obj)
        self._wrote("update", ref.kind)
        return updated

    async def merge_patch(self, ref: Ref, patch: Mapping[str, Any], subresource: str | None = None) -> Manifest:
        patched = await self.request("PATCH", ref.path(subresource), patch, MERGE_PATCH)
        self._wrote("patch", ref.kind if subresource is None else f"{ref.kind}/{subresource}")
        return patched

    async def delete(self, ref: Ref) -> bool:
        """Delete the object; ``False`` when it was already gone."""
        try:
            await self.request("DELETE", ref.path())
        except ApiError as error:
            if error.status == 404:
                return False
            raise
        self._wrote("delete", ref.kind)
        return True

    async def remove(self, ref: Ref) -> bool:
        """Delete the object if it exists (read first: an absent object costs no write); whether it was there."""
        if await self.get(ref) is None:
            return False
        return await self.delete(ref)

    async def ensure(self, manifest: Manifest, plan: Planner | None = None) -> Outcome:
        """Create ``manifest`` or make the existing object match it in everything the operator owns
        (:func:`~tradingbot_operator.desired.converge`); write only on a difference. ``plan`` turns the
        live object (``None``: absent) into the manifest to apply, after every read."""
        ref = Ref.of(manifest)
        for _ in range(CONFLICT_ATTEMPTS):
            current = await self.get(ref)
            wanted = stamp(await plan(current) if plan is not None else manifest)
            try:
                if current is None:
                    await self.create(wanted)
                    return "created"
                merged = converge(current, wanted)
                if merged == current:
                    return "unchanged"
                await self.update(merged)
                return "updated"
            except ApiError as error:
                if error.status != 409:
                    raise
                # created or changed by someone else meanwhile (another event, a person, a controller): again
        raise ApiError(409, f"{ref} kept changing while the operator updated it ({CONFLICT_ATTEMPTS} attempts)")

    async def has_resource(self, group_version: str, plural: str) -> bool:
        """Whether the API serves ``plural`` in ``group_version`` (discovery; e.g. a CRD is installed)."""
        try:
            listing = await self.request("GET", f"/apis/{group_version}")
        except ApiError as error:
            if error.status == 404:
                return False
            raise
        return any(r.get("name") == plural for r in listing.get("resources", []))

    def _wrote(self, verb: str, kind: str) -> None:
        if self._on_write is not None:
            self._on_write(verb, kind)


def _message(text: str) -> str:
    try:
        body = json.loads(text)
    except ValueError:
        return text[:500]
    return str(body.get("message") or body.get("reason") or text[:500]) if isinstance(body, dict) else text[:500]
