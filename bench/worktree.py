"""Another revision of this repository, checked out for a side-by-side benchmark: a temporary git worktree,
removed afterwards, whose packages a fresh interpreter imports through ``PYTHONPATH``."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_FOLDERS = ("bot", "contract")
"""The folders that hold the bot's import packages (``tradingbot``, ``tradingbot_contract``)."""


@contextmanager
def checked_out(revision: str) -> Iterator[Path]:
    """``revision`` in a temporary worktree (its root), removed when the block ends."""
    git = shutil.which("git") or "git"
    with tempfile.TemporaryDirectory() as scratch:
        tree = Path(scratch) / "baseline"
        subprocess.run([git, "-C", str(ROOT), "worktree", "add", "-q", "--detach", str(tree), revision], check=True)
        try:
            yield tree
        finally:
            subprocess.run([git, "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=True)


def environment_for(tree: Path | None) -> dict[str, str]:
    """This process's environment with ``PYTHONPATH`` at ``tree``'s packages (``None``: this checkout's)."""
    source = tree or ROOT
    return dict(os.environ, PYTHONPATH=os.pathsep.join(str(source / folder) for folder in PACKAGE_FOLDERS))
