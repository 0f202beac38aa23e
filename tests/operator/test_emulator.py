"""The test API server itself: each gap it closes over plain KMock, checked over real HTTP, so the
operator's end-to-end tests rest on behaviour that is verified, not assumed."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
import yaml

import kubeemu

CM = "/api/v1/namespaces/default/configmaps"


def call(url: str, method: str, path: str, body=None, content_type: str = "application/json", accept: str = ""):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url + path, data=data, method=method)  # noqa: S310 - the local emulator
    request.add_header("Content-Type", content_type)
    if accept:
        request.add_header("Accept", accept)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


@pytest.fixture
def api() -> Iterator[str]:
    with kubeemu.EmulatorThread() as server:
        yield server.url


def configmap(name: str, **extra) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, **extra}, "data": {"a": "1"}}


def test_create_sets_server_fields_and_a_duplicate_is_a_conflict(api):
    code, created = call(api, "POST", CM, configmap("x"))
    meta = created["metadata"]
    assert code == 201 and meta["namespace"] == "default" and meta["generation"] == 1
    assert meta["uid"] and meta["creationTimestamp"].endswith("Z") and int(meta["resourceVersion"]) > 0
    assert call(api, "POST", CM, configmap("x"))[0] == 409
    code, named = call(api, "POST", "/api/v1/namespaces/default/events", {"metadata": {"generateName": "ev-"}})
    assert code == 201 and named["metadata"]["name"].startswith("ev-") and len(named["metadata"]["name"]) > 3


def test_a_write_that_changes_nothing_is_a_no_op(api):
    rv = call(api, "POST", CM, configmap("x"))[1]["metadata"]["resourceVersion"]
    same = call(api, "PATCH", f"{CM}/x", {"data": {"a": "1"}}, "application/merge-patch+json")[1]
    assert same["metadata"]["resourceVersion"] == rv
    changed = call(api, "PATCH", f"{CM}/x", {"data": {"a": "2", "b": None}}, "application/merge-patch+json")[1]
    assert int(changed["metadata"]["resourceVersion"]) > int(rv) and changed["data"] == {"a": "2"}


def test_json_patch_tests_guard_writes_with_422(api):
    rv = call(api, "POST", CM, configmap("x"))[1]["metadata"]["resourceVersion"]
    stale = [{"op": "test", "path": "/metadata/resourceVersion", "value": "0"}, {"op": "remove", "path": "/data"}]
    assert call(api, "PATCH", f"{CM}/x", stale, "application/json-patch+json")[0] == 422
    fresh = [{"op": "test", "path": "/metadata/resourceVersion", "value": rv}, {"op": "remove", "path": "/data"}]
    code, body = call(api, "PATCH", f"{CM}/x", fresh, "application/json-patch+json")
    assert code == 200 and "data" not in body


def test_dry_run_changes_nothing_and_put_replaces(api):
    call(api, "POST", CM, configmap("x"))
    call(api, "PATCH", f"{CM}/x?dryRun=All", {"data": {"a": "9"}}, "application/merge-patch+json")
    assert call(api, "GET", f"{CM}/x")[1]["data"] == {"a": "1"}
    current = call(api, "GET", f"{CM}/x")[1]
    replaced = call(api, "PUT", f"{CM}/x", {**current, "data": {"z": "0"}})[1]
    assert replaced["data"] == {"z": "0"} and replaced["metadata"]["uid"] == current["metadata"]["uid"]
    assert call(api, "PUT", f"{CM}/x", {**current, "data": {}})[0] == 409  # a stale resourceVersion


def test_status_is_a_separate_subresource_and_spec_changes_bump_generation(api):
    path = "/apis/apps/v1/namespaces/default/deployments"
    call(
        api,
        "POST",
        path,
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {"replicas": 1}},
    )
    call(api, "PATCH", f"{path}/d", {"status": {"readyReplicas": 1}}, "application/merge-patch+json")
    assert "status" not in call(api, "GET", f"{path}/d")[1]
    call(
        api,
        "PATCH",
        f"{path}/d/status",
        {"status": {"readyReplicas": 1}, "spec": {"replicas": 5}},
        "application/merge-patch+json",
    )
    body = call(api, "GET", f"{path}/d")[1]
    assert (
        body["status"] == {"readyReplicas": 1} and body["spec"]["replicas"] == 1 and body["metadata"]["generation"] == 1
    )
    call(api, "PATCH", f"{path}/d", {"spec": {"replicas": 2}}, "application/strategic-merge-patch+json")
    assert call(api, "GET", f"{path}/d")[1]["metadata"]["generation"] == 2


def test_lists_are_typed_and_filtered_by_selectors(api):
    call(api, "POST", CM, configmap("a", labels={"app": "bot"}))
    call(api, "POST", CM, configmap("b", labels={"app": "other"}))
    listing = call(api, "GET", f"{CM}?labelSelector=app%3Dbot")[1]
    assert listing["kind"] == "ConfigMapList" and [i["metadata"]["name"] for i in listing["items"]] == ["a"]
    assert [i["metadata"]["name"] for i in call(api, "GET", f"{CM}?fieldSelector=metadata.name%3Db")[1]["items"]] == [
        "b"
    ]
    namespaces = call(api, "GET", "/api/v1/namespaces")[1]
    assert {"default", "kube-system"} <= {i["metadata"]["name"] for i in namespaces["items"]}
    assert call(api, "GET", "/api/v1")[1]["groupVersion"] == "v1"


def test_watches_resume_from_a_resource_version_as_json(api):
    rv = call(api, "POST", CM, configmap("a"))[1]["metadata"]["resourceVersion"]
    call(api, "PATCH", f"{CM}/a", {"data": {"a": "2"}}, "application/merge-patch+json")
    call(api, "DELETE", f"{CM}/a")
    request = urllib.request.Request(f"{api}{CM}?watch=true&resourceVersion={rv}&timeoutSeconds=1")  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        assert response.headers["Content-Type"].startswith("application/json")
        events = [json.loads(line) for line in response.read().splitlines() if line]
    assert [e["type"] for e in events] == ["MODIFIED", "DELETED"]


def test_finalizers_hold_deletion_and_the_collector_removes_dependents(api):
    owner = call(api, "POST", CM, configmap("owner", finalizers=["x/y"]))[1]
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner["metadata"]["uid"]}
    call(api, "POST", CM, configmap("child", ownerReferences=[ref]))
    call(api, "DELETE", f"{CM}/owner")
    assert call(api, "GET", f"{CM}/owner")[1]["metadata"]["deletionTimestamp"]
    call(api, "PATCH", f"{CM}/owner", {"metadata": {"finalizers": None}}, "application/merge-patch+json")
    assert call(api, "GET", f"{CM}/owner")[0] == 404 and call(api, "GET", f"{CM}/child")[0] == 404


def test_crds_register_kinds_and_tables_use_their_printer_columns(api, root):
    crd = yaml.safe_load((root / "crds" / "tradingbots.yaml").read_text())
    assert call(api, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)[0] == 201
    resources = call(api, "GET", "/apis/tradingbot.dev/v1alpha1")[1]["resources"]
    assert {r["name"] for r in resources} == {"tradingbots", "tradingbots/status"}
    path = "/apis/tradingbot.dev/v1alpha1/namespaces/default/tradingbots"
    bot = {
        "apiVersion": "tradingbot.dev/v1alpha1",
        "kind": "TradingBot",
        "metadata": {"name": "b"},
        "spec": {"symbols": ["SPY"], "initialCapital": 5000},
    }
    call(api, "POST", path, bot)
    table = call(api, "GET", path, accept="application/json;as=Table;v=v1;g=meta.k8s.io")[1]
    names = [c["name"] for c in table["columnDefinitions"]]
    assert table["kind"] == "Table" and names[:3] == ["Name", "Symbols", "Capital"]
    assert table["rows"][0]["cells"][:3] == ["b", '["SPY"]', 5000]


def test_it_runs_as_a_process_with_a_kubeconfig_for_kubectl(kubectl, tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    process = subprocess.Popen(
        [sys.executable, kubeemu.__file__, "--kubeconfig", str(kubeconfig)], stdout=subprocess.PIPE, text=True
    )
    try:
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        env = {"KUBECONFIG": str(kubeconfig), "PATH": "/usr/bin:/bin:/usr/local/bin", "HOME": str(tmp_path)}
        done = subprocess.run(
            [kubectl, "get", "namespaces"], capture_output=True, text=True, env=env, timeout=30, check=False
        )
        assert done.returncode == 0 and "kube-system" in done.stdout, done.stderr
    finally:
        process.terminate()
        process.wait(10)
