"""Checkpoints: the one place that reads and writes model files (S3 is :mod:`tradingbot.agent.s3_mirror`'s).

A checkpoint is one ``torch.save`` file of plain data and tensors — network and optimizer
state_dicts, step and update counts, training metrics, the open book and totals of the paper account
(its history is the trade journal's), the simulated market's state, a format version and the network
settings with their hash — loaded back with ``weights_only=True`` (no pickled object graphs). Files are
named ``checkpoint-<step>.pt``; each is written to a temporary file in the same directory, fsynced,
atomically renamed into place and the directory fsynced, so a crash at any moment leaves either the
previous set or the new one, never a torn file under a real name. Every file written is read back
before it counts, and pruning keeps the newest ``keep`` *valid* checkpoints: a corrupt file is deleted
only when a valid checkpoint of a later step exists. Reading tries the newest first and skips (and
reports) any file that is truncated or corrupt.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from tradingbot.agent.network import NetworkConfig

FORMAT_VERSION = 2
"""2: the portfolio is the open book and totals only (1 also carried every fill; still readable)."""
READABLE_VERSIONS = (1, 2)
CHECKPOINT_NAME = re.compile(r"^checkpoint-(\d{12})\.pt$")
TMP_PREFIX = ".tmp-checkpoint-"
log = logging.getLogger("tradingbot.checkpoint")


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be used."""


class CheckpointCorruptError(CheckpointError):
    """A truncated, unreadable or malformed checkpoint file."""


class CheckpointIncompatibleError(CheckpointError):
    """A checkpoint of a differently shaped network."""


class CheckpointWriteError(CheckpointError):
    """A checkpoint could not be written (a full, read-only or broken volume); the message says why."""


def config_hash(network: Mapping[str, int]) -> str:
    """A stable hash of the settings that shape the network."""
    return hashlib.sha256(json.dumps(dict(network), sort_keys=True).encode()).hexdigest()[:16]


def first_line(error: BaseException) -> str:
    """The first line of an error's message ("" when it has none): torch's errors run to many lines."""
    text = str(error).strip()
    return text.splitlines()[0] if text else ""


def checkpoint_name(step: int) -> str:
    """The file name of the checkpoint taken at ``step``."""
    return f"checkpoint-{step:012d}.pt"


@dataclass(frozen=True)
class Checkpoint:
    """Everything saved at one step. ``agent`` is the agent's ``state_dict()``."""

    step: int
    network: dict[str, int]
    agent: dict[str, Any]
    metrics: dict[str, float] = field(default_factory=dict)
    portfolio: dict[str, Any] = field(default_factory=dict)
    market: dict[str, Any] | None = None
    created_unix: float = field(default_factory=time.time)

    def check_compatible(self, expected: NetworkConfig, source: str) -> None:
        """Raise a clear error naming every network setting that differs from ``expected``."""
        wanted = expected.as_dict()
        if self.network == wanted:
            return
        differences = [
            f"{key}: checkpoint {self.network.get(key)!r}, this bot {wanted.get(key)!r}"
            for key in sorted(set(wanted) | set(self.network))
            if self.network.get(key) != wanted.get(key)
        ]
        raise CheckpointIncompatibleError(
            f"{source} was trained with a differently shaped network ({'; '.join(differences)}); "
            "start with matching settings or point the bot at an empty checkpoint directory"
        )


def write_checkpoint(directory: Path, checkpoint: Checkpoint) -> Path:
    """Atomically write ``checkpoint`` into ``directory``; returns its path."""
    directory.mkdir(parents=True, exist_ok=True)
    payload = {
        "format_version": FORMAT_VERSION,
        "config_hash": config_hash(checkpoint.network),
        "step": checkpoint.step,
        "network": dict(checkpoint.network),
        "agent": checkpoint.agent,
        "metrics": dict(checkpoint.metrics),
        "portfolio": checkpoint.portfolio,
        "market": checkpoint.market,
        "created_unix": checkpoint.created_unix,
    }
    final = directory / checkpoint_name(checkpoint.step)
    temporary = directory / f"{TMP_PREFIX}{checkpoint.step:012d}-{os.getpid()}"
    try:
        with temporary.open("wb") as handle:
            torch.save(payload, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, final)
    except BaseException:
        temporary.unlink(missing_ok=True)  # a failed write (disk full, signal) leaves nothing half-written
        raise
    _fsync_directory(directory)
    return final


def read_checkpoint(path: Path) -> Checkpoint:
    """Load and validate one checkpoint file (``weights_only=True``)."""
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # arbitrary bytes make the unpickler raise anything: all of it means corrupt
        raise CheckpointCorruptError(
            f"{path.name} is unreadable ({type(error).__name__}: {first_line(error)})"
        ) from error
    if not isinstance(payload, dict) or payload.get("format_version") not in READABLE_VERSIONS:
        found = payload.get("format_version") if isinstance(payload, dict) else type(payload).__name__
        raise CheckpointCorruptError(f"{path.name} has format {found!r}, expected one of {READABLE_VERSIONS}")
    try:
        network = {str(k): int(v) for k, v in payload["network"].items()}
        if payload["config_hash"] != config_hash(network):
            raise CheckpointCorruptError(f"{path.name}: network settings do not match their hash")
        agent = payload["agent"]
        if not isinstance(agent, dict) or not {"network", "optimizer", "updates"} <= agent.keys():
            raise CheckpointCorruptError(f"{path.name}: agent state is incomplete")
        return Checkpoint(
            step=int(payload["step"]),
            network=network,
            agent=agent,
            metrics={str(k): float(v) for k, v in payload["metrics"].items()},
            portfolio={k: v for k, v in dict(payload["portfolio"]).items() if k != "fills"},
            market=payload["market"],
            created_unix=float(payload["created_unix"]),
        )
    except (KeyError, TypeError, AttributeError, ValueError) as error:
        raise CheckpointCorruptError(f"{path.name} is malformed ({type(error).__name__}: {error})") from error


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def checkpoint_paths(directory: Path) -> list[Path]:
    """Checkpoint files in ``directory``, oldest first."""
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if CHECKPOINT_NAME.match(p.name))


def step_of(path: Path) -> int:
    """The step in a checkpoint file's name."""
    match = CHECKPOINT_NAME.match(path.name)
    if match is None:
        raise ValueError(f"{path.name} is not a checkpoint file name")
    return int(match.group(1))


def newest_valid(directory: Path) -> tuple[Path, Checkpoint] | None:
    """The newest checkpoint in ``directory`` that reads back, skipping (and reporting) corrupt ones."""
    for path in reversed(checkpoint_paths(directory)):
        try:
            return path, read_checkpoint(path)
        except CheckpointCorruptError as error:
            log.warning("skipping checkpoint: %s", error)
    return None


def initial_weights(model_dir: Path, expected: NetworkConfig) -> Checkpoint | None:
    """The newest valid checkpoint in the read-only ``--model-dir``, if any (its weights seed a fresh bot)."""
    found = newest_valid(model_dir)
    if found is None:
        return None
    path, checkpoint = found
    checkpoint.check_compatible(expected, f"initial weights {path}")
    return checkpoint


def load_weights(path: Path, expected: NetworkConfig) -> dict[str, Any]:
    """The agent state of the checkpoint file ``path`` (or of a directory's newest valid one), checked to
    fit ``expected``; :class:`CheckpointError` says why not."""
    if path.is_dir():
        checkpoint = initial_weights(path, expected)
        if checkpoint is None:
            raise CheckpointCorruptError(f"{path} holds no valid checkpoint")
        return checkpoint.agent
    if not path.is_file():
        raise CheckpointCorruptError(f"{path} is not a checkpoint file or directory")
    checkpoint = read_checkpoint(path)
    checkpoint.check_compatible(expected, f"checkpoint {path}")
    return checkpoint.agent
