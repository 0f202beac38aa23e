"""The lock files in requirements/ are complete, consistent with pyproject.toml and with each other."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
LOCKS = ROOT / "requirements"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")
MARKER_ENV = {"python_version": "3.11", "sys_platform": "linux", "platform_machine": "x86_64"}


def pins(name: str) -> dict[str, Version]:
    """``{package: version}`` of a lock file; every pin must carry at least one hash."""
    text = (LOCKS / name).read_text()
    found: dict[str, Version] = {}
    for entry in re.split(r"\n(?=[A-Za-z0-9])", text):
        match = PIN.match(entry)
        if match:
            assert "--hash=sha256:" in entry, f"{name}: {match.group(1)} has no hash"
            found[canonicalize_name(match.group(1))] = Version(match.group(2))
    return found


def extras() -> dict[str, list[Requirement]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {k: [Requirement(r) for r in v] for k, v in project["optional-dependencies"].items()}


def satisfied(requirement: Requirement, locked: dict[str, Version], extra: str) -> None:
    if requirement.marker is not None and not requirement.marker.evaluate({**MARKER_ENV, "extra": extra}):
        return
    name = canonicalize_name(requirement.name)
    assert name in locked, f"{requirement} ({extra}) is not locked: run make lock"
    assert requirement.specifier.contains(locked[name], prereleases=True), (
        f"{requirement} ({extra}) is locked at {locked[name]}: run make lock"
    )


@pytest.mark.parametrize(
    ("lock", "wanted"),
    [
        ("dev.txt", ("bot", "operator", "test", "bench")),
        ("bot-cpu.txt", ("bot",)),
        ("bot-cuda.txt", ("bot",)),
        ("operator.txt", ("operator",)),
    ],
)
def test_every_requirement_of_pyproject_is_locked_within_its_range(lock, wanted):
    locked = pins(lock)
    for extra in wanted:
        for requirement in extras()[extra]:
            satisfied(requirement, locked, extra)
    assert {"setuptools", "wheel"} <= locked.keys()  # pip install --no-build-isolation . needs them


@pytest.mark.parametrize("lock", ["bot-cpu.txt", "bot-cuda.txt", "operator.txt"])
def test_the_images_ship_the_versions_the_tests_ran(lock):
    dev = pins("dev.txt")
    for name, version in pins(lock).items():
        if name == "torch" or name not in dev:  # the CUDA build's own packages (nvidia-*, triton) are not in dev
            continue
        assert version == dev[name], f"{lock} pins {name} {version}, dev.txt {dev[name]}"


def test_the_operator_image_has_no_torch_and_the_bot_image_no_kopf():
    assert "torch" not in pins("operator.txt") and "kopf" not in pins("bot-cpu.txt")


def test_torch_is_the_cpu_build_by_default_and_pypis_cuda_build_on_request():
    cpu, cuda = pins("torch-cpu.txt"), pins("torch-cuda.txt")
    assert cpu == {"torch": Version("2.13.0+cpu")} == {"torch": pins("bot-cpu.txt")["torch"]}
    assert cuda == {"torch": Version("2.13.0")} == {"torch": pins("bot-cuda.txt")["torch"]}
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in (LOCKS / "torch-cpu.txt").read_text()
    assert pins("dev.txt")["torch"] == Version("2.13.0+cpu")
    assert any(name.startswith("nvidia-") for name in pins("bot-cuda.txt"))
