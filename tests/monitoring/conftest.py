"""Fixtures of the monitoring tests: the rendered stack, and the real Prometheus from Debian."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "config" / "monitoring"


@pytest.fixture(scope="session")
def monitoring() -> Path:
    return MONITORING


@pytest.fixture(scope="session")
def rendered(kubectl: str) -> list[dict[str, Any]]:
    done = subprocess.run(
        [kubectl, "kustomize", str(MONITORING)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return [d for d in yaml.safe_load_all(done.stdout) if d]
