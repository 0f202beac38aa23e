"""Recording of the raw Massive session (``--record FILE``): gzip JSON lines, one per received frame
(``{"t": ms, "c": "stocks"|"options", "f": frame}``) or REST chain snapshot
(``{"t": ms, "c": "rest", "u": underlying, "b": results}``), times in epoch milliseconds of arrival."""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO


class Recorder:
    """Appends entries to a gzip JSON-lines file; safe to call from any thread."""

    def __init__(self, path: Path, clock: Any = time.time) -> None:  # noqa: ANN401 - a clock callable
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._clock = clock
        self._lock = threading.Lock()
        self._file: TextIO | None = gzip.open(path, "wt", encoding="utf-8")  # noqa: SIM115 - closed by close()
        self.entries = 0

    def frame(self, cluster: str, frame: str) -> None:
        self._write({"t": self._now(), "c": cluster, "f": frame})

    def chain(self, underlying: str, results: list[dict[str, Any]]) -> None:
        self._write({"t": self._now(), "c": "rest", "u": underlying, "b": results})

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    def _now(self) -> int:
        return int(self._clock() * 1000)

    def _write(self, entry: dict[str, Any]) -> None:
        line = json.dumps(entry, separators=(",", ":")) + "\n"
        with self._lock:
            if self._file is not None:
                self._file.write(line)
                self.entries += 1


def read_recording(path: Path) -> Iterator[dict[str, Any]]:
    """The entries of a recording, in order. Opening fails with ``OSError`` (missing, unreadable, not
    gzip); damage further in (a killed recorder's truncated tail, corruption) ends the iteration."""
    lines = gzip.open(path, "rt", encoding="utf-8")  # noqa: SIM115 - closed by the generator
    return _entries(lines)


def _entries(lines: TextIO) -> Iterator[dict[str, Any]]:
    with lines:
        try:
            for line in lines:
                try:
                    entry = json.loads(line)
                except ValueError:
                    return
                if isinstance(entry, dict) and isinstance(entry.get("t"), int):
                    yield entry
        except (EOFError, OSError):
            return
