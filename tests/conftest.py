"""Fixtures shared by every test: real local servers on 127.0.0.1."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_http(url: str, timeout_s: float = 30.0) -> None:
    """Wait until ``url`` answers HTTP at all."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            urllib.request.urlopen(url, timeout=1).close()  # noqa: S310 - a local test server
            return
        except urllib.error.HTTPError:
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@pytest.fixture
def moto_s3() -> Iterator[str]:
    """moto's standalone S3 server on 127.0.0.1 (a real HTTP endpoint); yields its URL."""
    port = free_port()
    server = Path(sys.executable).with_name("moto_server")
    proc = subprocess.Popen(
        [str(server), "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


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
def free_tcp_port():
    """A function returning a TCP port on 127.0.0.1 that was free a moment ago."""
    return free_port
