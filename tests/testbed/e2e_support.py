"""Helpers of the end-to-end tests: a Cluster (the emulator, its kubeconfig, kubectl) and ``eventually``.

The operator reads its settings at import, so importing this module sets them first: fast intervals,
no metrics port, and a bot /status URL on 127.0.0.1 where a test may start a real bot.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kmock

import kubeemu

ROOT = Path(__file__).resolve().parents[2]  # tests/testbed/ → the repository


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


BOT_PORT = _free_port()
os.environ.update(
    RESYNC_INTERVAL="1",
    STATUS_INTERVAL="1",
    METRICS_PORT="0",
    BOT_STATUS_URL=f"http://127.0.0.1:{BOT_PORT}/status",
)


class Cluster:
    """The emulator, a kubeconfig for it, and kubectl as a user runs it."""

    def __init__(self, server: kubeemu.EmulatorThread, kubeconfig: Path, kubectl: str) -> None:
        self.server = server
        self.kubeconfig = kubeconfig
        self.kubectl_path = kubectl

    def kubectl(self, *args: str, check: bool = True, stdin: str | None = None) -> str:
        env = {
            "KUBECONFIG": str(self.kubeconfig),
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.kubeconfig.parent),
        }
        done = subprocess.run(
            [self.kubectl_path, *args], input=stdin, capture_output=True, text=True, env=env, timeout=60, check=False
        )
        if check and done.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {done.stderr}")
        return done.stdout if check else done.stdout + done.stderr

    def apply(self, manifest: dict[str, Any] | str) -> str:
        text = manifest if isinstance(manifest, str) else json.dumps(manifest)
        return self.kubectl("apply", "--validate=false", "-f", "-", stdin=text)

    def get(self, kind: str, name: str, namespace: str = "trading") -> dict[str, Any] | None:
        out = self.kubectl("get", kind, name, "-n", namespace, "-o", "json", check=False)
        return json.loads(out) if out.lstrip().startswith("{") else None

    def inject(self, *faults: kubeemu.Fault) -> None:
        """Make the API server fail the next matching requests (see :class:`kubeemu.Fault`)."""
        self.server.call(lambda: self.server.emulator.faults.extend(faults))

    def events(self, name: str, namespace: str = "trading") -> list[dict[str, Any]]:
        """The Events about object ``name``, oldest first."""
        out = self.kubectl(
            "get", "events", "-n", namespace, "--field-selector", f"involvedObject.name={name}", "-o", "json"
        )
        return list(json.loads(out)["items"])

    def writes(self) -> dict[tuple[str, str], int]:
        """Write requests the emulator received so far, by (method, plural)."""
        return dict(self.server.call(lambda: dict(self.server.emulator.writes)))

    def history(
        self, plural: str, name: str, group: str = "", version: str = "v1", namespace: str = "trading"
    ) -> list[dict]:
        """Every stored version of an object (the emulator keeps them all)."""
        key = (kmock.resource(group, version, plural), namespace, name)

        def read() -> list[dict]:
            return [dict(v.raw) for v in self.server.emulator.objects[key].history if v is not None]

        return self.server.call(read)


def eventually(check: Callable[[], Any], timeout_s: float = 20.0, what: str = "the condition") -> Any:
    """Poll ``check`` until it returns something truthy."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.2)
