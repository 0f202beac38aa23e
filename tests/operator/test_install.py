"""The install: `kubectl kustomize config/default` renders offline, every object validates strictly,
RBAC is least-privilege (nothing on Secrets), and the operator's pod is PSS restricted."""

from __future__ import annotations

import subprocess

import kubernetes_validate
import yaml

import kube_validation
import tradingbot_operator
from tradingbot_operator.spec import IMAGE_REPOSITORY

KUBERNETES = "1.32.0"


def kustomize(kubectl: str, folder) -> list[dict]:
    done = subprocess.run([kubectl, "kustomize", str(folder)], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return [d for d in yaml.safe_load_all(done.stdout) if d]


def test_default_install_renders_and_validates(kubectl, root):
    objects = kustomize(kubectl, root / "config" / "default")
    kinds = {(o["kind"], o["metadata"]["name"]) for o in objects}
    assert ("CustomResourceDefinition", "tradingbots.tradingbot.dev") in kinds
    assert {
        ("Namespace", "trading-bot"),
        ("Deployment", "tradingbot-operator"),
        ("ClusterRole", "tradingbot-operator"),
    } <= kinds
    for obj in objects:
        if obj["kind"] == "ClusterKopfPeering":  # kopf's own kind: checked against its CRD below
            continue
        assert kubernetes_validate.validate(obj, KUBERNETES, strict=True), obj["metadata"]["name"]
        if obj["kind"] not in ("Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding"):
            assert obj["metadata"]["namespace"] == "trading-bot", obj["metadata"]["name"]
    (peering_crd,) = [o for o in objects if o["metadata"]["name"] == "clusterkopfpeerings.kopf.dev"]
    (peering,) = [o for o in objects if o["kind"] == "ClusterKopfPeering"]
    schema = peering_crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    kube_validation.admit(peering, None, schema, "ClusterKopfPeering", "kopf.dev", strict=True)
    (binding,) = [o for o in objects if o["kind"] == "ClusterRoleBinding"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "tradingbot-operator", "namespace": "trading-bot"}
    ]


def test_rbac_grants_only_what_the_operator_uses_and_nothing_on_secrets(kubectl, root):
    (role,) = [o for o in kustomize(kubectl, root / "config" / "default") if o["kind"] == "ClusterRole"]
    for rule in role["rules"]:
        assert "secrets" not in rule["resources"] and "*" not in rule["resources"] and "*" not in rule["verbs"]
        assert not {"deletecollection", "escalate", "bind", "impersonate"} & set(rule["verbs"])
    grants = {
        (g, r): set(rule["verbs"]) for rule in role["rules"] for g in rule["apiGroups"] for r in rule["resources"]
    }
    assert grants[("tradingbot.dev", "tradingbots/status")] == {"get", "patch"}
    assert "update" not in grants[("tradingbot.dev", "tradingbots")]  # a user's spec is never replaced
    for child in [("apps", "deployments"), ("", "configmaps"), ("", "services"), ("", "persistentvolumeclaims")]:
        assert {"create", "update"} <= grants[child] and "patch" not in grants[child]  # drift: one guarded PUT
    assert grants[("storage.k8s.io", "storageclasses")] == {"get"}
    assert "delete" not in grants[("apps", "deployments")]  # garbage collection deletes children, not the operator
    assert grants[("", "events")] == {"create"}
    assert grants[("kopf.dev", "clusterkopfpeerings")] == {"get", "list", "watch", "patch"}


def test_the_operator_runs_two_restricted_replicas_with_peering_a_pdb_and_probes(kubectl, root):
    objects = kustomize(kubectl, root / "config" / "default")
    (deployment,) = [o for o in objects if o["kind"] == "Deployment"]
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
    }
    (budget,) = [o for o in objects if o["kind"] == "PodDisruptionBudget"]
    assert budget["spec"]["minAvailable"] == 1
    assert budget["spec"]["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
    (peering,) = [o for o in objects if o["kind"] == "ClusterKopfPeering"]
    assert peering["metadata"]["name"] == "tradingbot-operator"
    assert ("CustomResourceDefinition", "clusterkopfpeerings.kopf.dev") in {
        (o["kind"], o["metadata"]["name"]) for o in objects
    }
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert pod["securityContext"]["runAsNonRoot"] and pod["securityContext"]["runAsUser"] != 0
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert container["image"] == f"ghcr.io/tradingbot-dev/tradingbot-operator:{tradingbot_operator.__version__}"
    assert "--standalone" not in container["args"] and "--peering=tradingbot-operator" in container["args"]
    assert "tradingbot_operator.handlers" in container["args"]
    assert "--liveness=http://0.0.0.0:8080/healthz" in container["args"]
    assert container["livenessProbe"]["httpGet"]["path"] == container["readinessProbe"]["httpGet"]["path"] == "/healthz"
    pod_id = next(e for e in container["env"] if e["name"] == "POD_ID")  # kopf's identity of the replica
    assert pod_id["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    (namespace,) = [o for o in kustomize(kubectl, root / "config" / "default") if o["kind"] == "Namespace"]
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_samples_render_as_one_kustomization(kubectl, root):
    names = sorted(o["metadata"]["name"] for o in kustomize(kubectl, root / "config" / "samples"))
    assert names == ["bot-aapl", "bot-qqq", "bot-s3", "bot-spy", "minimal", "options-bot"]


def test_the_single_file_install_is_config_default_rendered(kubectl, root):
    rendered = subprocess.run(
        [kubectl, "kustomize", str(root / "config" / "default")], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    assert (root / "dist" / "install.yaml").read_text() == rendered, (
        "dist/install.yaml is stale: run make install-manifest"
    )


def test_the_images_everything_names_are_the_ones_the_release_publishes(kubectl, root):
    workflow = yaml.safe_load((root / ".github" / "workflows" / "release.yml").read_text())
    registry = workflow["env"]["REGISTRY"]
    steps = workflow["jobs"]["images"]["steps"]
    published = {
        step["with"]["tags"]
        .replace("${{ env.REGISTRY }}", registry)
        .replace("${{ steps.version.outputs.version }}", "V")
        for step in steps
        if "docker/build-push-action" in step.get("uses", "")
    }
    assert published == {
        f"{registry}/tradingbot-operator:V",
        f"{registry}/tradingbot-bot:V",
        f"{registry}/tradingbot-bot:V-cuda",
    }
    version = tradingbot_operator.__version__
    assert 'version = { attr = "tradingbot_contract.__version__" }' in (root / "pyproject.toml").read_text()
    assert f"{IMAGE_REPOSITORY}:V" in published  # the bot image the operator runs by default
    (deployment,) = [o for o in kustomize(kubectl, root / "config" / "default") if o["kind"] == "Deployment"]
    assert (
        f"{deployment['spec']['template']['spec']['containers'][0]['image']}"
        == f"{registry}/tradingbot-operator:{version}"
    )
    readme = (root / "README.md").read_text()
    for image in published:
        assert image.replace(":V", ":<version>") in readme
