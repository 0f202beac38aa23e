"""The images as they ship, built and run with podman: the bot on its own, the operator against the API
emulator, and the operator's own rendered children played as a pod by ``podman kube play``.

What ``podman kube play`` stands in for, and what it does not: it runs the rendered Deployment's pod with
its ConfigMaps (``envFrom`` and the mounted control file), its PersistentVolumeClaims (as named volumes),
its security context (non-root user, read-only root filesystem) and its resources, with the real image
and the real environment contract. It has no API server, scheduler, kubelet probes, Service or
NetworkPolicy: a ``hostPort`` on 127.0.0.1 stands in for the Service, the tests call the probe paths
themselves, and ``podman pod stop`` with the pod's grace period plays the kubelet's SIGTERM. podman 4.3
cannot re-create a volume that exists, so the second ``play`` leaves out the claims, which persist as
they do in a cluster.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

import kubeemu
from e2e_support import ROOT, Cluster, eventually
from images import EngineError, Podman
from prom_support import local_config, pod_discovery_labels
from tradingbot_contract import __version__
from tradingbot_operator import builders
from tradingbot_operator.botstatus import fetch_status, parse_status
from tradingbot_operator.spec import parse_spec

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]
BOT_UID = 10001
CONTAINER_TMP = "/tmp"  # noqa: S108 - a tmpfs inside the container (its root filesystem is read-only)


def http(url: str, timeout_s: float = 3.0) -> tuple[int, bytes]:
    """GET ``url``: (status, body); status 0 when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:  # noqa: S310 - 127.0.0.1 only
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return 0, b""


def wait_ok(url: str, timeout_s: float = 120.0) -> bytes:
    """Wait until ``url`` answers 200; its body."""
    deadline = time.monotonic() + timeout_s
    while True:
        status, body = http(url)
        if status == 200:
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} did not answer 200 within {timeout_s} s (last: {status} {body[:300]!r})")
        time.sleep(0.5)


def inspect(podman: Podman, container: str, template: str) -> str:
    return podman.run("inspect", container, "--format", template).strip()


def volume_path(podman: Podman, volume: str) -> Path:
    return Path(podman.run("volume", "inspect", volume, "--format", "{{.Mountpoint}}").strip())


def test_the_bot_image_serves_its_endpoints_as_a_non_root_user_on_a_read_only_root(built, podman, free_tcp_port):
    name, volume, port = f"tb-bot-{uuid.uuid4().hex[:8]}", f"tb-ckpt-{uuid.uuid4().hex[:8]}", free_tcp_port()
    podman.run("volume", "create", volume)
    try:
        podman.run(
            "run", "-d", "--name", name, "--read-only", "--tmpfs", CONTAINER_TMP,
            "--volume", f"{volume}:/checkpoints",
            "--env", "CHECKPOINT_DIR=/checkpoints", "--env", "SAVE_FREQUENCY=1000000",
            "--env", "S3_SECRET_KEY=image-test-secret-value",
            "--publish", f"127.0.0.1:{port}:8000",
            built.bot,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        wait_ok(f"{base}/ready")
        assert json.loads(wait_ok(f"{base}/health"))["status"] == "ok"
        status = wait_ok(f"{base}/status")
        assert json.loads(status)["bot"]["kind"] == "agent" and b"image-test-secret-value" not in status
        metrics = wait_ok(f"{base}/metrics").decode()
        assert "trading_bot_portfolio_value" in metrics and "image-test-secret-value" not in metrics
        assert podman.run("exec", name, "id", "-u").strip() == str(BOT_UID)
        with pytest.raises(EngineError, match="Read-only file system"):
            podman.run("exec", name, "touch", "/probe")
        assert podman.run("exec", name, "sh", "-c", "echo $OPENBLAS_NUM_THREADS$OMP_NUM_THREADS").strip() == "11"

        podman.run("stop", "--time", "30", name)
        assert inspect(podman, name, "{{.State.ExitCode}}") == "0"
        logs = podman.run("logs", name)
        assert "final checkpoint saved: /checkpoints/checkpoint-" in logs and "(signal)" in logs
        saved = list(volume_path(podman, volume).glob("checkpoint-*.pt"))
        assert saved and all(p.stat().st_uid == BOT_UID for p in saved)
    finally:
        podman.run("rm", "--force", name, check=False)
        podman.run("volume", "rm", "--force", volume, check=False)


def test_the_operator_image_logs_in_answers_its_liveness_probe_and_reconciles(
    built, podman, kubectl, tmp_path, free_tcp_port
):
    name, liveness = f"tb-operator-{uuid.uuid4().hex[:8]}", free_tcp_port()
    with kubeemu.EmulatorThread() as server:
        kubeconfig = kubeemu.write_kubeconfig(tmp_path / "kubeconfig", server.url, "trading")
        kubeconfig.chmod(0o644)  # read by the image's non-root user
        cluster = Cluster(server, kubeconfig, kubectl)
        cluster.kubectl("apply", "--validate=false", "-f", str(ROOT / "crds" / "tradingbots.yaml"))
        cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "trading"}})
        try:
            podman.run(
                "run", "-d", "--name", name, "--network", "host", "--read-only", "--tmpfs", CONTAINER_TMP,
                "--volume", f"{kubeconfig}:/etc/kube/config:ro", "--env", "KUBECONFIG=/etc/kube/config",
                "--env", "METRICS_PORT=0", "--env", "POD_NAMESPACE=trading-bot",
                built.operator,
                # the image's own command, with the liveness endpoint on a free port of the host's loopback
                "run", "--standalone", "--all-namespaces", f"--liveness=http://127.0.0.1:{liveness}/healthz",
                "-m", "tradingbot_operator.handlers",
            )  # fmt: skip
            wait_ok(f"http://127.0.0.1:{liveness}/healthz", timeout_s=60)
            cluster.kubectl(
                "apply", "--validate=false", "-n", "trading", "-f", str(ROOT / "config/samples/minimal.yaml")
            )
            deployment = eventually(lambda: cluster.get("deployment", "minimal"), 60, "the bot's Deployment")
            (container,) = deployment["spec"]["template"]["spec"]["containers"]
            assert container["image"] == f"ghcr.io/tradingbot-dev/tradingbot-bot:{__version__}"
            eventually(lambda: cluster.get("networkpolicy", "minimal"), 30, "the bot's NetworkPolicy")
            assert podman.run("exec", name, "id", "-u").strip() == str(BOT_UID)
            assert (
                podman.run(
                    "exec", name, "python", "-c", "import importlib.util as u; print(u.find_spec('torch'))"
                ).strip()
                == "None"
            )
            podman.run("stop", "--time", "30", name)
            assert inspect(podman, name, "{{.State.ExitCode}}") == "0", podman.run("logs", name)[-3000:]
            assert "Traceback" not in podman.run("logs", name)
        finally:
            podman.run("rm", "--force", name, check=False)


def _rendered_pod(image: str, host_port: int) -> tuple[str, list[dict[str, Any]], dict[str, Any]]:
    """The minimal sample's name, the operator's children of it that podman can play, and the pod template."""
    sample = yaml.safe_load((ROOT / "config" / "samples" / "minimal.yaml").read_text())
    name = sample["metadata"]["name"]
    spec = parse_spec(name, {**sample["spec"], "image": image, "imagePullPolicy": "Never", "saveFrequency": 1_000_000})
    owner = builders.Owner(name, "trading", str(uuid.uuid4()))
    playable = [
        m
        for m in builders.children(owner, spec, builders.Cluster())
        if m["kind"] in ("PersistentVolumeClaim", "ConfigMap", "Deployment")
    ]
    (deployment,) = [m for m in playable if m["kind"] == "Deployment"]
    template = deployment["spec"]["template"]
    template["spec"]["containers"][0]["ports"][0].update(hostPort=host_port, hostIP="127.0.0.1")  # the Service
    return name, playable, template


def _play(podman: Podman, manifests: list[dict[str, Any]], path: Path) -> str:
    """``podman kube play``; the pod's id."""
    path.write_text(yaml.safe_dump_all(manifests, sort_keys=False))
    out = podman.run("kube", "play", str(path)).splitlines()
    return out[out.index("Pod:") + 1].strip()


def _prometheus(binary: str, template: dict[str, Any], port: int, workdir: Path, bot_port: int) -> Any:
    production = yaml.safe_load((ROOT / "config" / "monitoring" / "prometheus" / "prometheus.yml").read_text())
    targets = workdir / "targets.json"
    labels = pod_discovery_labels(template, "trading", "minimal-0", "metrics")
    targets.write_text(json.dumps([{"targets": [f"127.0.0.1:{bot_port}"], "labels": labels}]))
    rules = workdir / "rules.yml"
    rules.write_text("groups: []\n")
    config = workdir / "prometheus.yml"
    config.write_text(yaml.safe_dump(local_config(production, rules, targets)))
    return subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={workdir / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=(workdir / "prometheus.log").open("w"),
        stderr=subprocess.STDOUT,
    )


def _series(port: int, promql: str) -> list[dict[str, Any]]:
    status, body = http(f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": promql}))
    return json.loads(body)["data"]["result"] if status == 200 else []


def test_the_operators_rendered_children_run_as_a_pod_scraped_read_and_resumed(
    built, podman, prometheus_binary, tmp_path, free_tcp_port
):
    bot_port, prometheus_port = free_tcp_port(), free_tcp_port()
    name, manifests, template = _rendered_pod(built.bot, bot_port)
    claims = [m["metadata"]["name"] for m in manifests if m["kind"] == "PersistentVolumeClaim"]
    grace = str(template["spec"]["terminationGracePeriodSeconds"])
    base = f"http://127.0.0.1:{bot_port}"
    prometheus = None
    pod = None
    try:
        pod = _play(podman, manifests, tmp_path / "play.yaml")
        wait_ok(f"{base}/ready", timeout_s=300)  # the startup probe's budget
        # the operator's live-status reader, over HTTP as it polls the Service
        figures = parse_status(json.loads(wait_ok(f"{base}/status")))
        assert figures.portfolio_value is not None and figures.trades is not None and figures.risk_halted is False

        async def poll() -> Any:
            async with aiohttp.ClientSession() as session:
                return await fetch_status(session, f"{base}/status")

        assert asyncio.run(poll()).portfolio_value is not None
        # a real Prometheus with the production scrape configuration, discovering the pod by its labels
        prometheus = _prometheus(prometheus_binary, template, prometheus_port, tmp_path, bot_port)
        found = eventually(
            lambda: _series(prometheus_port, 'trading_bot_portfolio_value{job="tradingbots",tradingbot="minimal"}'),
            60,
            "the bot's portfolio value in Prometheus",
        )
        assert found[0]["metric"]["namespace"] == "trading"
        # the kubelet's stop: SIGTERM, the grace period, then the pod goes; a final checkpoint is left
        steps_before = json.loads(wait_ok(f"{base}/status"))["steps"]
        podman.run("pod", "stop", "--time", grace, pod)
        containers = podman.run("pod", "inspect", pod, "--format", "{{range .Containers}}{{.Name}} {{end}}").split()
        (bot,) = [c for c in containers if c.endswith("-bot")]
        assert inspect(podman, bot, "{{.State.ExitCode}}") == "0"
        podman.run("kube", "down", str(tmp_path / "play.yaml"))
        saved = sorted(volume_path(podman, f"{name}-checkpoints").glob("checkpoint-*.pt"))
        assert saved, "no checkpoint in the checkpoints volume after the pod stopped"
        final_step = int(saved[-1].stem.split("-")[1])
        assert final_step >= steps_before

        pod = _play(podman, [m for m in manifests if m["kind"] != "PersistentVolumeClaim"], tmp_path / "play.yaml")
        wait_ok(f"{base}/ready", timeout_s=300)
        assert json.loads(wait_ok(f"{base}/status"))["steps"] >= final_step
        log = (volume_path(podman, f"{name}-logs") / "bot.log").read_text()
        assert f"resumed from /checkpoints/checkpoint-{final_step:012d}.pt" in log
    finally:
        if prometheus is not None:
            prometheus.terminate()
            prometheus.wait(10)
        if pod is not None:
            podman.run("pod", "stop", "--time", grace, pod, check=False)
            podman.run("kube", "down", str(tmp_path / "play.yaml"), check=False)
        for claim in claims:
            podman.run("volume", "rm", "--force", claim, check=False)
        podman.run("volume", "rm", "--force", f"{name}-control", check=False)  # the control ConfigMap's volume
