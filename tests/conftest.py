"""Fixtures shared by every test: real local servers on 127.0.0.1."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from local_servers import Moto, free_port


@pytest.fixture(autouse=True)
def _books_in_memory_unless_a_test_says(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bot a test starts keeps its books in memory unless the test points JOURNAL somewhere: tests never
    share a journal, nor leave one in the working directory."""
    monkeypatch.setenv("JOURNAL", "memory")


@pytest.fixture
def moto() -> Iterator[Moto]:
    """moto's standalone S3 server on 127.0.0.1 (a real HTTP endpoint), restartable."""
    server = Moto()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def moto_s3(moto: Moto) -> str:
    """The URL of moto's S3 server on 127.0.0.1."""
    return moto.url


@pytest.fixture
def dead_endpoint() -> str:
    """A URL on 127.0.0.1 where nothing listens (an S3 outage)."""
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture
def unused_port() -> int:
    """A free TCP port on 127.0.0.1."""
    return free_port()


def required_tool(name: str) -> str:
    """The path of command-line tool ``name``: missing, a test skips on a laptop and fails in CI."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"{message} (CI must install it)")
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def kubectl() -> str:
    """kubectl, as a user runs it (against the emulator, or offline for kustomize)."""
    return required_tool("kubectl")


@pytest.fixture(scope="session")
def chromium() -> str:
    """Headless Chromium (Debian's ``chromium``), to render the HTML reports as a person sees them."""
    return required_tool("chromium")


@pytest.fixture(scope="session")
def promtool() -> str:
    """Prometheus' promtool (Debian's ``prometheus`` package)."""
    return required_tool("promtool")


@pytest.fixture(scope="session")
def prometheus_binary() -> str:
    """The Prometheus server (Debian's ``prometheus`` package), started by the tests on 127.0.0.1."""
    return required_tool("prometheus")


@pytest.fixture(scope="session")
def podman_binary() -> str:
    """podman (Debian's ``podman``, with ``runc``, ``catatonit`` and the CNI plugins): builds and runs the images."""
    return required_tool("podman")


@pytest.fixture(scope="session")
def debootstrap() -> str:
    """Debian's ``debootstrap``: makes the base image from Debian's packages (no registry is reachable)."""
    return required_tool("debootstrap")


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Callable[..., Path]]:
    """A factory of tmpfs mounts (``size``, ``read_only``), unmounted afterwards."""
    mounts: list[Path] = []

    def mount(name: str, size: str = "4m", read_only: bool = False) -> Path:
        target = tmp_path / name
        target.mkdir()
        options = f"size={size}" + (",ro" if read_only else "")
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(target)], capture_output=True, check=False
        )
        if done.returncode != 0:
            reason = f"cannot mount a tmpfs here ({done.stderr.decode().strip() or 'not root'})"
            if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
                pytest.fail(f"{reason}: CI runs as root and must be able to")
            pytest.skip(reason)
        mounts.append(target)
        return target

    yield mount
    for target in reversed(mounts):
        subprocess.run(["umount", "-l", str(target)], check=False)


@pytest.fixture
def free_tcp_port():
    """A function returning a TCP port on 127.0.0.1 that was free a moment ago."""
    return free_port
