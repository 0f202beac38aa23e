"""The operator's API client against the test API server: transient failures are retried with backoff
(honouring Retry-After) before a request fails, permanent ones fail at once, and ensure writes only
what drifted, as an update guarded by the resourceVersion it read."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import kopf
import pytest

import kubeemu
from tradingbot_contract.backoff import Backoff
from tradingbot_operator.applying import MAX_RETRIES, ApiError, KubeApi, Ref

CONFIG = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "c", "namespace": "default"},
    "data": {"a": "1"},
}


@pytest.fixture
def server() -> Iterator[kubeemu.EmulatorThread]:
    with kubeemu.EmulatorThread() as running:
        yield running


def inject(server: kubeemu.EmulatorThread, *faults: kubeemu.Fault) -> None:
    server.call(lambda: server.emulator.faults.extend(faults))


def run(server: kubeemu.EmulatorThread, work: Any, retries: list[int] | None = None) -> Any:
    """Run ``work(api)`` with a client of the emulator whose backoff is fast (0.01-0.08 s)."""

    async def main() -> Any:
        api = KubeApi(on_retry=None if retries is None else retries.append, backoff=lambda: Backoff(0.02, 0.08))
        await api.connect(kopf.ConnectionInfo(server=server.url))
        try:
            return await work(api)
        finally:
            await api.close()

    return asyncio.run(main())


@pytest.mark.parametrize("code", [0, 500, 502, 503, 504])
def test_a_transient_failure_is_retried_and_the_request_succeeds(server, code):
    inject(server, kubeemu.Fault("*", "configmaps", code, times=2))
    retries: list[int] = []
    assert run(server, lambda api: api.ensure(CONFIG), retries) == "created"
    # a dropped connection: aiohttp itself may try once more on a fresh connection before the client retries
    assert retries == [code, code] if code else retries in ([0], [0, 0])


def test_429_waits_at_least_its_retry_after():
    with kubeemu.EmulatorThread() as server:
        inject(server, kubeemu.Fault("GET", "configmaps", 429, retry_after=1))
        started = time.monotonic()
        assert run(server, lambda api: api.ensure(CONFIG)) == "created"
        assert time.monotonic() - started >= 1.0


def test_a_failure_that_persists_fails_after_the_retries(server):
    inject(server, kubeemu.Fault("GET", "configmaps", 503, times=MAX_RETRIES + 1))
    retries: list[int] = []
    with pytest.raises(ApiError) as failed:
        run(server, lambda api: api.ensure(CONFIG), retries)
    assert failed.value.status == 503 and len(retries) == MAX_RETRIES


def test_a_permanent_refusal_is_not_retried(server):
    inject(server, kubeemu.Fault("POST", "configmaps", 422))
    retries: list[int] = []
    with pytest.raises(ApiError) as failed:
        run(server, lambda api: api.ensure(CONFIG), retries)
    assert failed.value.status == 422 and retries == []


def test_ensure_writes_once_then_nothing_and_reverts_a_drift_with_one_update(server):
    assert run(server, lambda api: api.ensure(CONFIG)) == "created"
    assert run(server, lambda api: api.ensure(CONFIG)) == "unchanged"

    async def drift_and_fix(api: KubeApi) -> str:
        await api.merge_patch(Ref.of(CONFIG), {"data": {"b": "hand-added"}})
        return await api.ensure(CONFIG)

    assert run(server, drift_and_fix) == "updated"
    stored = run(server, lambda api: api.get(Ref.of(CONFIG)))
    assert stored["data"] == {"a": "1"}
    assert server.call(lambda: server.emulator.writes[("PUT", "configmaps")]) == 1


def test_an_update_that_loses_a_race_is_computed_again(server):
    run(server, lambda api: api.ensure(CONFIG))
    changed = {**CONFIG, "data": {"a": "2"}}

    async def race(api: KubeApi) -> str:
        # someone else writes between the operator's read and its update: the first PUT is a conflict
        original = api.update

        async def update_after_someone_else(obj: dict[str, Any]) -> dict[str, Any]:
            api.update = original  # type: ignore[method-assign]
            await api.merge_patch(Ref.of(CONFIG), {"metadata": {"labels": {"someone": "else"}}})
            return await original(obj)

        api.update = update_after_someone_else  # type: ignore[method-assign]
        return await api.ensure(changed)

    assert run(server, race) == "updated"
    stored = run(server, lambda api: api.get(Ref.of(CONFIG)))
    assert stored["data"] == {"a": "2"} and stored["metadata"]["labels"] == {"someone": "else"}
