"""End to end: the real operator (kopf.testing.KopfRunner) against the KMock-based API emulator, driven
with real kubectl. The emulator runs no controllers, so where a Deployment would become ready these
tests play the controller by patching its status, and say so.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import kubernetes.config.kube_config
import pytest
from kopf.testing import KopfRunner

import kubeemu
from e2e_support import ROOT, Cluster  # sets the operator's settings before it is imported


@pytest.fixture
def cluster(kubectl: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cluster]:
    with kubeemu.EmulatorThread() as server:
        kubeconfig = kubeemu.write_kubeconfig(tmp_path / "kubeconfig", server.url, "trading")
        # kubernetes reads $KUBECONFIG once, at import: point kopf's login at this emulator explicitly
        monkeypatch.setattr(kubernetes.config.kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(kubeconfig))
        monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
        cluster = Cluster(server, kubeconfig, kubectl)
        cluster.kubectl("apply", "--validate=false", "-f", str(ROOT / "crds" / "tradingbots.yaml"))
        cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "trading"}})
        yield cluster


@pytest.fixture
def operator(cluster: Cluster) -> Iterator[Callable[[], Any]]:
    """Start the operator; the yielded function restarts it. Every run must end cleanly."""
    runners: list[KopfRunner] = []

    def start() -> KopfRunner:
        if runners:
            runners[-1].__exit__(None, None, None)
        runner = KopfRunner(["run", "-A", "--standalone", "-m", "tradingbot_operator.handlers"], timeout=60)
        runner.__enter__()
        runners.append(runner)
        return runner

    start()
    try:
        yield start
    finally:
        runners[-1].__exit__(None, None, None)
    for runner in runners:
        assert runner.exception is None, runner.output[-3000:]
        assert "Traceback" not in runner.output, runner.output[-3000:]
