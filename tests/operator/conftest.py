"""Fixtures of the operator's tests: the CRD, its schema, and specs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def crd() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "crds" / "tradingbots.yaml").read_text())


@pytest.fixture(scope="session")
def cr_schema(crd: dict[str, Any]) -> dict[str, Any]:
    (version,) = crd["spec"]["versions"]
    return version["schema"]["openAPIV3Schema"]


@pytest.fixture(scope="session")
def samples() -> dict[str, dict[str, Any]]:
    return {
        p.name: yaml.safe_load(p.read_text())
        for p in sorted((ROOT / "config" / "samples").glob("*.yaml"))
        if p.name != "kustomization.yaml"
    }
