"""The import rules hold, and breaking one fails ``make lint``: import-linter's contracts (pyproject.toml)
on the tree as it is, and on a copy with a deliberate violation."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"bot": "tradingbot", "operator": "tradingbot_operator", "contract": "tradingbot_contract"}


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` over the packages in ``tree`` (found before the installed ones)."""
    path = os.pathsep.join(str(tree / folder) for folder in PACKAGES)
    environ = dict(os.environ, PYTHONPATH=path)
    command = [str(Path(sys.executable).with_name("lint-imports")), "--config", str(tree / "pyproject.toml")]
    return subprocess.run(command, cwd=tree, capture_output=True, text=True, env=environ, timeout=120, check=False)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the three packages and pyproject.toml."""
    for folder, package in PACKAGES.items():
        shutil.copytree(
            ROOT / folder / package, tmp_path / folder / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    return tmp_path


def test_every_contract_is_kept(tree):
    done = lint_imports(tree)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "0 broken" in done.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("bot/tradingbot/reports/charts.py", "import torch", "never load torch"),
        ("bot/tradingbot/env/risk.py", "import tradingbot.trader", "The bot's layers"),
        ("bot/tradingbot/market/pricing.py", "import tradingbot.market.sim.simulator", "know no vendor"),
        ("bot/tradingbot/trader.py", "import websockets", "Only market.massive talks to Massive"),
        ("bot/tradingbot/build.py", "import tradingbot.service.loop", "The bot's layers"),
        ("operator/tradingbot_operator/builders.py", "import tradingbot.config", "never import each other"),
    ],
)
def test_a_deliberate_violation_breaks_its_contract(tree, module, line, contract):
    path = tree / module
    path.write_text(f"{path.read_text()}\n{line}  # noqa\n")
    done = lint_imports(tree)
    assert done.returncode != 0
    broken = [row for row in done.stdout.splitlines() if row.endswith("BROKEN")]
    assert any(contract in row for row in broken) or contract in done.stdout.split("Broken contracts")[-1], done.stdout
