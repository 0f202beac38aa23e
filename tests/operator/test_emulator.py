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

import kube_rules
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


DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"
PVCS = "/api/v1/namespaces/default/persistentvolumeclaims"
STORAGE_CLASSES = "/apis/storage.k8s.io/v1/storageclasses"


def test_writes_get_the_api_servers_defaults(api):
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d"},
        "spec": {
            "selector": {"matchLabels": {"a": "b"}},
            "template": {
                "metadata": {"labels": {"a": "b"}},
                "spec": {
                    "serviceAccountName": "sa",
                    "containers": [
                        {
                            "name": "c",
                            "image": "img:1",
                            "ports": [{"containerPort": 80}],
                            "readinessProbe": {"httpGet": {"path": "/", "port": 80}},
                        }
                    ],
                    "volumes": [{"name": "v", "configMap": {"name": "cm"}}],
                },
            },
        },
    }
    code, stored = call(api, "POST", DEPLOYMENTS, deployment)
    spec = stored["spec"]
    pod = spec["template"]["spec"]
    (container,) = pod["containers"]
    assert code == 201 and spec["strategy"]["type"] == "RollingUpdate" and spec["revisionHistoryLimit"] == 10
    assert (pod["dnsPolicy"], pod["restartPolicy"], pod["schedulerName"]) == (
        "ClusterFirst",
        "Always",
        "default-scheduler",
    )
    assert pod["serviceAccount"] == "sa" and pod["securityContext"] == {} and pod["enableServiceLinks"] is True
    assert (
        container["terminationMessagePath"] == "/dev/termination-log" and container["imagePullPolicy"] == "IfNotPresent"
    )
    assert container["ports"][0]["protocol"] == "TCP" and container["readinessProbe"]["successThreshold"] == 1
    assert (
        container["readinessProbe"]["httpGet"]["scheme"] == "HTTP"
        and pod["volumes"][0]["configMap"]["defaultMode"] == 420
    )
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}]}}
    code, stored = call(api, "POST", "/api/v1/namespaces/default/services", service)
    assert stored["spec"]["clusterIP"].startswith("10.96.") and stored["spec"]["ports"][0]["targetPort"] == 80
    ip = stored["spec"]["clusterIP"]
    replaced = call(api, "PUT", "/api/v1/namespaces/default/services/s", {**service, "metadata": stored["metadata"]})[1]
    assert replaced["spec"]["clusterIP"] == ip  # an update keeps the allocated address


def pvc(name: str, size: str, storage_class: str | None = None) -> dict:
    spec: dict = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}
    if storage_class is not None:
        spec["storageClassName"] = storage_class
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name}, "spec": spec}


def test_claims_get_the_default_class_grow_only_when_it_allows_and_never_shrink(api):
    call(api, "POST", STORAGE_CLASSES, kube_rules.storage_class("standard", expandable=True, default=True))
    call(api, "POST", STORAGE_CLASSES, kube_rules.storage_class("fixed", expandable=False))
    code, created = call(api, "POST", PVCS, pvc("a", "10Gi"))
    assert code == 201 and created["spec"]["storageClassName"] == "standard"
    assert created["spec"]["volumeMode"] == "Filesystem"
    grow = {"spec": {"resources": {"requests": {"storage": "20Gi"}}}}
    assert call(api, "PATCH", f"{PVCS}/a", grow, "application/merge-patch+json")[0] == 200
    shrink = {"spec": {"resources": {"requests": {"storage": "5Gi"}}}}
    code, answer = call(api, "PATCH", f"{PVCS}/a", shrink, "application/merge-patch+json")
    assert code == 422 and "can not be less than previous value" in answer["message"]
    code, answer = call(
        api, "PATCH", f"{PVCS}/a", {"spec": {"storageClassName": "fixed"}}, "application/merge-patch+json"
    )
    assert code == 422 and "immutable" in answer["message"]
    call(api, "POST", PVCS, pvc("b", "10Gi", "fixed"))
    code, answer = call(api, "PATCH", f"{PVCS}/b", grow, "application/merge-patch+json")
    assert code == 403 and "must support resize" in answer["message"]
    assert call(api, "GET", f"{PVCS}/b")[1]["spec"]["resources"]["requests"]["storage"] == "10Gi"


@pytest.fixture
def server() -> Iterator[kubeemu.EmulatorThread]:
    with kubeemu.EmulatorThread() as running:
        yield running


def test_injected_faults_answer_the_matching_requests_then_stop(server):
    server.call(lambda: server.emulator.faults.append(kubeemu.Fault("POST", "configmaps", 503)))
    server.call(lambda: server.emulator.faults.append(kubeemu.Fault("GET", "*", 429, times=2, retry_after=3)))
    assert call(server.url, "POST", CM, configmap("x"))[0] == 503
    assert call(server.url, "POST", CM, configmap("x"))[0] == 201  # used up: the next one goes through
    request = urllib.request.Request(server.url + f"{CM}/x")  # noqa: S310 - the local emulator
    for _ in range(2):
        with pytest.raises(urllib.error.HTTPError) as throttled:
            urllib.request.urlopen(request, timeout=10)  # noqa: S310
        assert throttled.value.code == 429 and throttled.value.headers["Retry-After"] == "3"
    assert call(server.url, "GET", f"{CM}/x")[0] == 200
    assert server.call(lambda: server.emulator.writes[("POST", "configmaps")]) == 1  # the refused one never landed


def test_a_dropped_connection_gets_no_answer(server):
    server.call(lambda: server.emulator.faults.append(kubeemu.Fault("*", "*", 0)))
    with pytest.raises((urllib.error.URLError, ConnectionError)):
        urllib.request.urlopen(server.url + CM, timeout=10)  # noqa: S310 - the local emulator
    assert call(server.url, "GET", CM)[0] == 200


def test_custom_resources_are_validated_defaulted_and_pruned_as_a_cluster_would(kubectl, tmp_path, root):
    with kubeemu.EmulatorThread() as running:
        kubeconfig = kubeemu.write_kubeconfig(tmp_path / "kubeconfig", running.url)
        env = {"KUBECONFIG": str(kubeconfig), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}

        def kubectl_run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [kubectl, *args], input=stdin, capture_output=True, text=True, env=env, timeout=60, check=False
            )

        assert kubectl_run("apply", "--validate=false", "-f", str(root / "crds" / "tradingbots.yaml")).returncode == 0
        bad = {
            "apiVersion": "tradingbot.dev/v1alpha1",
            "kind": "TradingBot",
            "metadata": {"name": "bad"},
            "spec": {"symbols": ["spy"], "initialCapital": 500, "marketData": {"source": "massive"}},
        }
        # --validate=false: kubectl's own checks need the OpenAPI documents, which the emulator does not serve;
        # what is shown is the API server's answer
        refused = kubectl_run("apply", "--validate=false", "-f", "-", stdin=json.dumps(bad))
        assert refused.returncode != 0
        for part in (
            'The TradingBot "bad" is invalid',
            "spec.symbols[0]",
            "spec.initialCapital in body should be greater than or equal to 1000",
            "marketData.credentialsSecretRef is required when marketData.source is massive",
        ):
            assert part in refused.stderr, refused.stderr
        typo = {**bad, "spec": {"symbols": ["SPY"], "initalCapital": 5000}}
        bots = "/apis/tradingbot.dev/v1alpha1/namespaces/default/tradingbots"
        code, answer = call(running.url, "POST", f"{bots}?fieldValidation=Strict", typo)  # kubectl's default
        assert code == 400 and 'unknown field "spec.initalCapital"' in answer["message"]
        good = {**bad, "spec": {"symbols": ["SPY"]}}
        assert kubectl_run("apply", "--validate=false", "-f", "-", stdin=json.dumps(good)).returncode == 0
        stored = json.loads(kubectl_run("get", "tradingbot", "bad", "-o", "json").stdout)["spec"]
        assert stored["initialCapital"] == 100000 and stored["risk"]["maxDrawdownPercent"] == 10
        assert stored["marketData"]["source"] == "sim" and stored["dataQuality"]["optionSpread"]["relative"] == 0.04
