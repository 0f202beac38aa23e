"""The operator's only door to the Kubernetes API: read, create, merge-patch and delete objects as dicts.

An :class:`KubeApi` wraps one aiohttp session built from kopf's login result (in-cluster service
account or kubeconfig). :meth:`KubeApi.ensure` makes a child match its manifest level-based: it reads
the object, creates it when missing and merge-patches it only when it drifted, so reconciling an
unchanged bot writes nothing.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote, urlencode

import aiohttp
import kopf

from tradingbot_operator.identity import API_VERSION, KIND, PLURAL
from tradingbot_operator.spec import quantity

Manifest = dict[str, Any]
Outcome = Literal["created", "patched", "unchanged"]
MERGE_PATCH = "application/merge-patch+json"
REQUEST_TIMEOUT_S = 30.0
_QUANTITY_KEYS = frozenset({"cpu", "memory", "storage", "nvidia.com/gpu"})

# (apiVersion, kind) → plural, for every (namespaced) kind the operator touches
_PLURALS: dict[tuple[str, str], str] = {
    ("v1", "ConfigMap"): "configmaps",
    ("v1", "Service"): "services",
    ("v1", "PersistentVolumeClaim"): "persistentvolumeclaims",
    ("apps/v1", "Deployment"): "deployments",
    ("networking.k8s.io/v1", "NetworkPolicy"): "networkpolicies",
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "servicemonitors",
    (API_VERSION, KIND): PLURAL,
}


class ApiError(Exception):
    """The API server refused a request; ``status`` is the HTTP status, the message is the server's."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Ref:
    """Which object: its apiVersion, kind, namespace and name."""

    api_version: str
    kind: str
    namespace: str
    name: str

    @classmethod
    def of(cls, manifest: Mapping[str, Any]) -> Ref:
        meta = manifest["metadata"]
        return cls(manifest["apiVersion"], manifest["kind"], meta["namespace"], meta["name"])

    def path(self, subresource: str | None = None) -> str:
        plural = _PLURALS[(self.api_version, self.kind)]
        root = "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"
        path = f"{root}/namespaces/{quote(self.namespace)}/{plural}/{quote(self.name)}"
        return f"{path}/{subresource}" if subresource else path

    def collection(self) -> str:
        return self.path().rsplit("/", 1)[0]

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"


def _same_scalar(key: str, want: Any, have: Any) -> bool:  # noqa: ANN401 - JSON values
    if want == have:
        return True
    if key in _QUANTITY_KEYS and isinstance(want, str | int) and isinstance(have, str | int):
        try:
            return quantity(want) == quantity(have)  # the API server canonicalises quantities
        except ValueError:
            return False
    return False


def matches(want: Any, have: Any, key: str = "") -> bool:  # noqa: ANN401 - JSON values
    """Whether ``have`` (from the server) already holds everything in ``want`` (the manifest).

    Fields the server adds (defaults, status, uid, …) are ignored; lists must match element by element;
    an empty list or mapping in ``want`` matches an absent field (the server omits empty values).
    """
    if isinstance(want, dict):
        if have is None and not want:
            return True
        return isinstance(have, dict) and all(matches(v, have.get(k), k) for k, v in want.items())
    if isinstance(want, list):
        if have is None and not want:
            return True
        return (
            isinstance(have, list)
            and len(want) == len(have)
            and all(matches(w, h, key) for w, h in zip(want, have, strict=True))
        )
    return _same_scalar(key, want, have)


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

    ``on_write(verb, kind)`` is called after every write request (for the operator's metrics).
    """

    def __init__(self, on_write: Callable[[str, str], None] | None = None) -> None:
        self._server: str | None = None
        self._headers: dict[str, str] = {}
        self._session: aiohttp.ClientSession | None = None
        self._on_write = on_write

    async def connect(self, info: kopf.ConnectionInfo) -> None:
        """Use the credentials kopf logged in with (called again when kopf re-authenticates)."""
        await self.close()
        self._server = info.server.rstrip("/")
        self._headers = {"Accept": "application/json"}
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
        """One API call; a non-2xx answer raises :class:`ApiError` with the server's message."""
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
                    raise ApiError(response.status, _message(text))
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

    async def ensure(self, manifest: Manifest) -> Outcome:
        """Create ``manifest`` or bring the existing object in line with it; write only on a difference."""
        ref = Ref.of(manifest)
        current = await self.get(ref)
        if current is None:
            try:
                await self.create(manifest)
            except ApiError as error:
                if error.status != 409:
                    raise
                current = await self.get(ref)  # created concurrently (another event, a restart): patch it
            else:
                return "created"
        if current is not None and matches(manifest, current):
            return "unchanged"
        await self.merge_patch(ref, {k: v for k, v in manifest.items() if k not in ("apiVersion", "kind")})
        return "patched"

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
