"""Real volumes for tests: fill one up."""

from __future__ import annotations

import shutil
from pathlib import Path


def fill_up(volume: Path, leave_bytes: int = 0) -> Path:
    """Fill ``volume`` but ``leave_bytes`` (a filler file to delete later)."""
    filler = volume / "filler"
    free = shutil.disk_usage(volume).free - leave_bytes
    with filler.open("wb") as handle:
        handle.write(b"\0" * max(free, 0))
    return filler
