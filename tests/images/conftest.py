"""Fixtures of the image tests: podman with this test bed's settings, and both images built once."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

import images as bed


@dataclass(frozen=True)
class Images:
    bot: str
    operator: str


@pytest.fixture(scope="session")
def podman(podman_binary: str, tmp_path_factory: pytest.TempPathFactory) -> bed.Podman:
    return bed.Podman(podman_binary, tmp_path_factory.mktemp("podman"))


@pytest.fixture(scope="session")
def built(podman: bed.Podman, debootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Images:
    """The base image from Debian's packages, then both images built on it from the repository."""
    base = bed.make_base_image(podman, debootstrap)
    mounts = bed.pip_mounts(tmp_path_factory.mktemp("pip"))
    bed.build(podman, "Dockerfile.operator", bed.OPERATOR_IMAGE, base, mounts)
    bed.build(podman, "Dockerfile.bot", bed.BOT_IMAGE, base, mounts, "TORCH=cpu")
    return Images(bed.BOT_IMAGE, bed.OPERATOR_IMAGE)
