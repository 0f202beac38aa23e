"""The checkpoint directory (the ``/checkpoints`` volume): save, prune, resume, optionally mirrored to S3.

- **Saving** never stops trading: any failure (no space, which ``torch.save`` reports as a
  ``RuntimeError``; a read-only or vanished volume; a file that does not read back) becomes a
  :class:`CheckpointWriteError` with the reason; the caller counts it and the next save retries.
- **Pruning** keeps the newest ``keep`` checkpoints that are *valid* (each file is read once and its
  validity remembered by size and modification time), deletes older valid ones, and deletes a corrupt
  file only when a valid checkpoint of a later step exists: a file it cannot prove older is kept and
  reported, never silently deleted, and the checkpoint just written is never pruned.
- **Resuming** takes the newest valid checkpoint, else restores one from S3 into an empty directory. A
  directory that holds checkpoint files of which none is readable is reported loudly (a WARNING and
  ``corrupt_at_start``), and nothing of it is deleted.
"""

from __future__ import annotations

import logging
import pickle
import time
from pathlib import Path

from tradingbot.agent.checkpoint import (
    TMP_PREFIX,
    Checkpoint,
    CheckpointCorruptError,
    CheckpointWriteError,
    checkpoint_paths,
    first_line,
    newest_valid,
    read_checkpoint,
    step_of,
    write_checkpoint,
)
from tradingbot.agent.network import NetworkConfig
from tradingbot.agent.s3_mirror import S3Mirror

log = logging.getLogger("tradingbot.checkpoint")


class CheckpointStore:
    """A directory of checkpoints, optionally mirrored to S3."""

    def __init__(self, directory: Path, keep: int = 5, mirror: S3Mirror | None = None) -> None:
        if keep < 1:
            raise ValueError("keep at least one checkpoint")
        self.directory = directory
        self.keep = keep
        self.mirror = mirror
        self.last_path: Path | None = None
        self.last_saved_unix: float | None = None
        self.saves = 0
        self.corrupt_at_start: list[str] = []
        """Checkpoint files found unreadable at start (kept; reported in ``/status``)."""
        self._checked: dict[str, tuple[int, int, bool]] = {}
        """name → (size, mtime_ns, valid) of files already read."""

    def save(self, checkpoint: Checkpoint) -> Path:
        """Write and verify ``checkpoint``, prune, hand the kept set to the mirror; raises
        :class:`CheckpointWriteError` (nothing half-written is left) when the volume refuses."""
        try:
            path = write_checkpoint(self.directory, checkpoint)
        except (OSError, RuntimeError, pickle.PicklingError) as error:
            raise CheckpointWriteError(f"writing step {checkpoint.step} failed: {_reason(error)}") from error
        try:
            read_checkpoint(path)
        except CheckpointCorruptError as error:
            path.unlink(missing_ok=True)
            raise CheckpointWriteError(f"step {checkpoint.step} did not read back ({error}); removed") from error
        self._remember(path, valid=True)
        self.last_path, self.last_saved_unix = path, time.time()
        self.saves += 1
        kept = self._prune(path)
        if self.mirror is not None:
            self.mirror.sync(kept)
        return path

    def latest(self, expected: NetworkConfig) -> Checkpoint | None:
        """The newest valid checkpoint, restoring from S3 first when the directory has none.

        Corrupt files are reported and skipped; leftover temporary files of an interrupted write are
        removed. A checkpoint of another network shape is an error, not a silent fresh start.
        """
        self._remove_leftovers()
        found = newest_valid(self.directory)
        present = [p.name for p in checkpoint_paths(self.directory)]
        if found is None and present:
            self.corrupt_at_start = present
            log.warning(
                "none of the %d checkpoint files in %s is readable (%s): the agent starts fresh; the files are "
                "kept for inspection, not deleted",
                len(present),
                self.directory,
                ", ".join(present[-5:]),
            )
        if found is None and self.mirror is not None:
            self.mirror.restore_into(self.directory)
            found = newest_valid(self.directory)
        if found is None:
            return None
        path, checkpoint = found
        checkpoint.check_compatible(expected, f"checkpoint {path}")
        self._remember(path, valid=True)
        self.last_path = path
        self.corrupt_at_start = [name for name in present if step_of(Path(name)) > checkpoint.step]
        return checkpoint

    def _prune(self, written: Path) -> list[Path]:
        """Delete what is provably superseded; the newest ``keep`` valid checkpoints, oldest first."""
        valid: list[Path] = []
        corrupt: list[Path] = []

        for path in checkpoint_paths(self.directory):
            (valid if self._is_valid(path) else corrupt).append(path)
        kept = valid[-self.keep :]
        if written not in kept:  # newer valid files (another run's) never push out what was just written
            kept = sorted([*valid[-(self.keep - 1) :], written] if self.keep > 1 else [written], key=step_of)
        oldest_kept = min(step_of(p) for p in kept)
        for path in valid:
            if path not in kept and step_of(path) < oldest_kept:
                self._delete(path, "older than the newest kept")
        newest_valid_step = max(step_of(p) for p in kept)
        for path in corrupt:
            if step_of(path) < newest_valid_step:
                log.warning("removing corrupt checkpoint %s: a valid later one exists", path.name)
                self._delete(path, "corrupt")
            else:
                log.warning("keeping corrupt checkpoint %s: no valid checkpoint is later than it", path.name)
        return kept

    def _is_valid(self, path: Path) -> bool:
        try:
            stat = path.stat()
        except OSError:
            return False
        known = self._checked.get(path.name)
        if known is not None and known[:2] == (stat.st_size, stat.st_mtime_ns):
            return known[2]
        try:
            read_checkpoint(path)
        except CheckpointCorruptError:
            self._remember(path, valid=False)
            return False
        self._remember(path, valid=True)
        return True

    def _remember(self, path: Path, valid: bool) -> None:
        try:
            stat = path.stat()
        except OSError:
            return
        self._checked[path.name] = (stat.st_size, stat.st_mtime_ns, valid)

    def _delete(self, path: Path, why: str) -> None:
        try:
            path.unlink(missing_ok=True)
        except OSError as error:
            log.warning("cannot delete %s checkpoint %s: %s", why, path.name, error)
        self._checked.pop(path.name, None)

    def _remove_leftovers(self) -> None:
        if self.directory.is_dir():
            for leftover in self.directory.glob(f"{TMP_PREFIX}*"):
                log.warning("removing %s, left by an interrupted checkpoint write", leftover.name)
                leftover.unlink(missing_ok=True)


def _reason(error: BaseException) -> str:
    """A write error as one line: ``No space left on device`` rather than torch's many-line trace."""
    if isinstance(error, OSError) and error.strerror:
        return f"{type(error).__name__}: {error.strerror}" + (f" ({error.filename})" if error.filename else "")
    return f"{type(error).__name__}: {first_line(error)}"
