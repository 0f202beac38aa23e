"""Build and run the project's container images with podman, as CI does it on a machine without Docker.

- **Base image**: no registry is reachable, so the base is made from Debian's packages with
  ``debootstrap`` (bookworm, minbase, with python3, python3-venv and ca-certificates) and
  ``podman import``; the Dockerfiles take it through ``--build-arg BASE_IMAGE``. An existing
  ``localhost/tradingbot-base:bookworm`` is reused.
- **Engine settings**: podman here needs explicit ``nofile``/``nproc`` ulimits and the ``runc``
  runtime. They go into a ``containers.conf`` of the test's own (``CONTAINERS_CONF``), never the
  system's.
- **pip inside the build**: ``RUN`` steps do not see the host's pip configuration or CA bundle. This
  wrapper (never the Dockerfiles) merges the host's effective pip settings (``pip config list``, files
  and ``PIP_*`` variables) into one ``pip.conf`` and mounts it, with the local paths it names (wheel
  directories, file indexes, the CA bundle, a constraints file), read-only into the build. Nothing of it
  is baked into an image, and its contents are never printed.
"""

from __future__ import annotations

import configparser
import os
import shlex
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BASE_IMAGE = "localhost/tradingbot-base:bookworm"
BOT_IMAGE = "localhost/tradingbot-bot:ci"
OPERATOR_IMAGE = "localhost/tradingbot-operator:ci"
DEBIAN_MIRROR = os.environ.get("DEBIAN_MIRROR", "http://deb.debian.org/debian")
BASE_PACKAGES = "python3,python3-venv,ca-certificates"
ULIMITS = ("nofile=4096:4096", "nproc=4096:4096")
"""Within this machine's hard limits (podman's defaults are refused here with 'operation not permitted')."""
_PATH_KEYS = ("find-links", "extra-index-url", "index-url", "cert", "constraint", "client-cert")


class EngineError(RuntimeError):
    """A podman command failed; the message holds its output (never pip's configuration)."""


@dataclass
class Podman:
    """The podman CLI with this test bed's containers.conf."""

    binary: str
    workdir: Path
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        conf = self.workdir / "containers.conf"
        limits = ", ".join(f'"{u}"' for u in ULIMITS)
        conf.write_text(f'[containers]\ndefault_ulimits = [{limits}]\n[engine]\nruntime = "runc"\n')
        self.env = {**os.environ, "CONTAINERS_CONF": str(conf)}

    def run(self, *args: str, timeout: float = 600, check: bool = True, stdin: str | None = None) -> str:
        """Run ``podman ARGS``; its stdout (stdout and stderr in the error when it fails)."""
        done = subprocess.run(
            [self.binary, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.env,
            input=stdin,
            check=False,
        )
        if check and done.returncode != 0:
            output = f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
            raise EngineError(f"podman {shlex.join(args[:3])} … failed ({done.returncode}):\n{output}")
        return done.stdout

    def has_image(self, name: str) -> bool:
        """Whether the local store has image ``name``."""
        exists = subprocess.run([self.binary, "image", "exists", name], env=self.env, timeout=60, check=False)
        return exists.returncode == 0


def make_base_image(podman: Podman, debootstrap: str) -> str:
    """The Debian base image (made once with debootstrap, then reused)."""
    if podman.has_image(BASE_IMAGE):
        return BASE_IMAGE
    with tempfile.TemporaryDirectory(prefix="rootfs-", dir=podman.workdir) as rootfs:
        done = subprocess.run(
            [debootstrap, "--variant=minbase", f"--include={BASE_PACKAGES}", "bookworm", rootfs, DEBIAN_MIRROR],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        if done.returncode != 0:
            raise EngineError(f"debootstrap failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for leftover in (Path(rootfs) / cache).glob("*"):
                if leftover.is_file():
                    leftover.unlink()
        archive = subprocess.Popen(["tar", "-C", rootfs, "-c", "."], stdout=subprocess.PIPE)
        imported = subprocess.run(
            [podman.binary, "import", "-", BASE_IMAGE],
            stdin=archive.stdout,
            capture_output=True,
            env=podman.env,
            timeout=600,
            check=False,
        )
        archive.wait()
        if imported.returncode != 0:
            raise EngineError(f"podman import failed: {imported.stderr.decode()[-2000:]}")
    return BASE_IMAGE


def _host_pip_settings() -> dict[str, str]:
    """The host pip's effective settings (files, then ``PIP_*`` variables), as ``key: value``."""
    done = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True, timeout=60, check=False
    )
    files: dict[str, str] = {}
    environment: dict[str, str] = {}
    for line in done.stdout.splitlines():
        scope_key, _, quoted = line.partition("=")
        scope, _, key = scope_key.rpartition(".")
        value = quoted.strip().strip("'")
        (environment if scope == ":env:" else files)[key] = value
    return {**files, **environment}


def _local_paths(value: str) -> list[Path]:
    """The local paths a pip setting names; a ``file://`` index counts with its parent folder, where a
    mirror keeps the files its pages link to (``../../files/…``)."""
    paths = []
    for token in value.split():
        path = Path(token.removeprefix("file://"))
        if path.is_absolute() and path.exists():
            paths.append(path.parent if token.startswith("file://") and path.is_dir() else path)
    return paths


def pip_mounts(workdir: Path) -> list[str]:
    """``--volume`` arguments that give a build the host's pip configuration, read-only."""
    settings = {k: v for k, v in _host_pip_settings().items() if k not in ("default-timeout",)}
    if not settings:
        return []
    config = configparser.ConfigParser(interpolation=None)
    config["global"] = settings
    merged = workdir / "pip.conf"
    with merged.open("w") as handle:
        config.write(handle)
    merged.chmod(0o600)
    paths = {path for key in _PATH_KEYS for path in _local_paths(settings.get(key, ""))}
    return [f"--volume={merged}:/etc/pip.conf:ro", *(f"--volume={p}:{p}:ro" for p in sorted(paths))]


def build(podman: Podman, dockerfile: str, tag: str, base: str, mounts: list[str], *build_args: str) -> None:
    """``podman build`` of a Dockerfile of the repository on ``base`` (host network: pip reaches its index)."""
    args = ["build", "--network=host", "-f", str(ROOT / dockerfile), f"--build-arg=BASE_IMAGE={base}", "-t", tag]
    args += [f"--build-arg={a}" for a in build_args]
    podman.run(*args, *mounts, str(ROOT), timeout=1200)
