"""Recording of the raw Massive session (``--record FILE``): gzip JSON lines, one per received frame
(``{"t": ms, "c": "stocks"|"options", "f": frame}``) or REST chain snapshot
(``{"t": ms, "c": "rest", "u": underlying, "b": results}``), times in epoch milliseconds of arrival.

A recording that cannot be written (a full disk, a vanished volume) stops itself: the reason is logged
once and kept in ``failed``, and the live feed it listens to goes on untouched."""

from __future__ import annotations

import gzip
import json
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

log = logging.getLogger("tradingbot.massive")


class Recorder:
    """Appends entries to a gzip JSON-lines file; safe to call from any thread."""

    def __init__(self, path: Path, clock: Any = time.time) -> None:  # noqa: ANN401 - a clock callable
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._clock = clock
        self._lock = threading.Lock()
        self._file: TextIO | None = gzip.open(path, "wt", encoding="utf-8")  # noqa: SIM115 - closed by close()
        self.entries = 0
        self.failed: str | None = None
        """Why the recording stopped early (``None`` while it records)."""

    def frame(self, cluster: str, frame: str) -> None:
        self._write({"t": self._now(), "c": cluster, "f": frame})

    def chain(self, underlying: str, results: list[dict[str, Any]]) -> None:
        self._write({"t": self._now(), "c": "rest", "u": underlying, "b": results})

    def close(self) -> None:
        with self._lock:
            self._close()

    def _close(self) -> None:
        if self._file is not None:
            try:
                self._file.close()
            except OSError as error:  # the tail could not be flushed: the file ends early, readers stop there
                self.failed = self.failed or f"{type(error).__name__}: {error.strerror or error}"
            self._file = None

    def _now(self) -> int:
        return int(self._clock() * 1000)

    def _write(self, entry: dict[str, Any]) -> None:
        line = json.dumps(entry, separators=(",", ":")) + "\n"
        with self._lock:
            if self._file is None:
                return
            try:
                self._file.write(line)
            except OSError as error:
                self.failed = f"{type(error).__name__}: {error.strerror or error}"
                log.error("recording to %s stopped (%s); the live feed goes on", self.path, self.failed)
                self._close()
                return
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
