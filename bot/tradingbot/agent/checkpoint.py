"""Checkpoints: the one place that reads and writes model files, locally and in S3.

A checkpoint is one ``torch.save`` file of plain data and tensors — network and optimizer
state_dicts, step and update counts, training metrics, the portfolio and market snapshots, a
format version and the network settings with their hash — loaded back with ``weights_only=True``
(no pickled object graphs). Files are named ``checkpoint-<step>.pt``; each is written to a temporary
file in the same directory, fsynced, atomically renamed into place and the directory fsynced, so a
crash at any moment leaves either the previous set or the new one, never a torn file under a real
name. The newest ``keep`` are kept. Reading tries the newest first and skips (and reports) any file
that is truncated or corrupt. An optional :class:`S3Mirror` uploads each new checkpoint from a
background thread, so an S3 outage never blocks trading nor loses the local file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import queue
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from tradingbot.agent.network import NetworkConfig

FORMAT_VERSION = 1
_NAME = re.compile(r"^checkpoint-(\d{12})\.pt$")
_TMP_PREFIX = ".tmp-checkpoint-"
log = logging.getLogger("tradingbot.checkpoint")


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be used."""


class CheckpointCorruptError(CheckpointError):
    """A truncated, unreadable or malformed checkpoint file."""


class CheckpointIncompatibleError(CheckpointError):
    """A checkpoint of a differently shaped network."""


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
    temporary = directory / f"{_TMP_PREFIX}{checkpoint.step:012d}-{os.getpid()}"
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
    if not isinstance(payload, dict) or payload.get("format_version") != FORMAT_VERSION:
        found = payload.get("format_version") if isinstance(payload, dict) else type(payload).__name__
        raise CheckpointCorruptError(f"{path.name} has format {found!r}, expected {FORMAT_VERSION}")
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
            portfolio=dict(payload["portfolio"]),
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
    return sorted(p for p in directory.iterdir() if _NAME.match(p.name))


class CheckpointStore:
    """A directory of checkpoints (the ``/checkpoints`` volume), optionally mirrored to S3."""

    def __init__(self, directory: Path, keep: int = 5, mirror: S3Mirror | None = None) -> None:
        if keep < 1:
            raise ValueError("keep at least one checkpoint")
        self.directory = directory
        self.keep = keep
        self.mirror = mirror
        self.last_path: Path | None = None
        self.last_saved_unix: float | None = None
        self.saves = 0

    def save(self, checkpoint: Checkpoint) -> Path:
        """Write, prune to the newest ``keep``, and queue the upload."""
        path = write_checkpoint(self.directory, checkpoint)
        for old in checkpoint_paths(self.directory)[: -self.keep]:
            old.unlink(missing_ok=True)
        self.last_path, self.last_saved_unix = path, time.time()
        self.saves += 1
        if self.mirror is not None:
            self.mirror.upload(path)
        return path

    def latest(self, expected: NetworkConfig) -> Checkpoint | None:
        """The newest valid checkpoint, restoring from S3 first when the directory has none.

        Corrupt files are reported and skipped; leftover temporary files of an interrupted write
        are removed. A checkpoint of another network shape is an error, not a silent fresh start.
        """
        self._remove_leftovers()
        found = self._newest_valid(self.directory)
        if found is None and self.mirror is not None:
            self.mirror.restore_into(self.directory)
            found = self._newest_valid(self.directory)
        if found is not None:
            path, checkpoint = found
            checkpoint.check_compatible(expected, f"checkpoint {path}")
            self.last_path = path
            return checkpoint
        return None

    def _remove_leftovers(self) -> None:
        if self.directory.is_dir():
            for leftover in self.directory.glob(f"{_TMP_PREFIX}*"):
                log.warning("removing %s, left by an interrupted checkpoint write", leftover.name)
                leftover.unlink(missing_ok=True)

    @staticmethod
    def _newest_valid(directory: Path) -> tuple[Path, Checkpoint] | None:
        for path in reversed(checkpoint_paths(directory)):
            try:
                return path, read_checkpoint(path)
            except CheckpointCorruptError as error:
                log.warning("skipping checkpoint: %s", error)
        return None


def initial_weights(model_dir: Path, expected: NetworkConfig) -> Checkpoint | None:
    """The newest valid checkpoint in the read-only ``--model-dir``, if any (its weights seed a fresh bot)."""
    found = CheckpointStore._newest_valid(model_dir)
    if found is None:
        return None
    path, checkpoint = found
    checkpoint.check_compatible(expected, f"initial weights {path}")
    return checkpoint


@dataclass
class MirrorStatus:
    """What the S3 mirror has done (no secrets)."""

    uploads: int = 0
    failures: int = 0
    pending: int = 0
    last_key: str | None = None
    last_error: str | None = None


class S3Mirror:
    """Uploads checkpoints to ``s3://bucket/prefix/`` from a background thread, with retries and backoff.

    Credentials come from the environment (``S3_ACCESS_KEY``/``S3_SECRET_KEY``) through the caller and
    are never logged: every message from boto3 is passed through :meth:`_redact` first.
    """

    def __init__(
        self,
        bucket: str,
        prefix: str,
        *,
        endpoint_url: str | None,
        access_key: str | None,
        secret_key: str | None,
        region: str = "us-east-1",
        keep: int = 5,
        attempts: int = 5,
        backoff_s: float = 1.0,
        max_backoff_s: float = 60.0,
    ) -> None:
        import boto3  # noqa: PLC0415 - only bots that mirror to S3 pay for importing boto3
        from botocore.config import Config  # noqa: PLC0415

        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.keep = keep
        self._secrets = [s for s in (access_key, secret_key) if s]
        self._attempts = attempts
        self._backoff_s = backoff_s
        self._max_backoff_s = max_backoff_s
        self._client = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            region_name=region,
            config=Config(connect_timeout=3, read_timeout=10, retries={"max_attempts": 1}),
        )
        self.status = MirrorStatus()
        self._queue: queue.Queue[Path | None] = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._work, name="s3-mirror", daemon=True)
        self._thread.start()

    def key(self, path: Path) -> str:
        """The object key of a checkpoint file."""
        return f"{self.prefix}/{path.name}" if self.prefix else path.name

    def upload(self, path: Path) -> None:
        """Queue ``path`` for upload and return at once."""
        self.status.pending += 1
        self._queue.put(path)

    def close(self, timeout_s: float) -> bool:
        """Finish queued uploads within ``timeout_s``; returns whether all were attempted."""
        self._queue.put(None)
        self._thread.join(timeout_s)
        self._stop.set()
        return not self._thread.is_alive()

    def restore_into(self, directory: Path) -> Path | None:
        """Download the newest valid checkpoint under the prefix into ``directory`` (a new pod's empty volume)."""
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

        try:
            keys = self._list_keys()
        except (BotoCoreError, ClientError) as error:
            log.warning("cannot list s3://%s/%s: %s", self.bucket, self.prefix, self._redact(error))
            return None
        directory.mkdir(parents=True, exist_ok=True)
        for key in reversed(keys):
            name = key.rsplit("/", 1)[-1]
            temporary = directory / f"{_TMP_PREFIX}s3-{name}"
            try:
                self._client.download_file(self.bucket, key, str(temporary))
                read_checkpoint(temporary)
            except (BotoCoreError, ClientError) as error:
                log.warning("cannot download s3://%s/%s: %s", self.bucket, key, self._redact(error))
                temporary.unlink(missing_ok=True)
                continue
            except CheckpointCorruptError as error:
                log.warning("skipping s3://%s/%s: %s", self.bucket, key, error)
                temporary.unlink(missing_ok=True)
                continue
            final = directory / name
            os.replace(temporary, final)
            _fsync_directory(directory)
            log.info("restored %s from s3://%s/%s", name, self.bucket, key)
            return final
        return None

    def _list_keys(self) -> list[str]:
        paginator = self._client.get_paginator("list_objects_v2")
        keys: list[str] = []
        for page in paginator.paginate(Bucket=self.bucket, Prefix=f"{self.prefix}/" if self.prefix else ""):
            keys.extend(item["Key"] for item in page.get("Contents", []) if _NAME.match(item["Key"].rsplit("/", 1)[-1]))
        return sorted(keys)

    def _work(self) -> None:
        while True:
            path = self._queue.get()
            if path is None:
                return
            self._upload_with_retries(path)
            self.status.pending -= 1

    def _upload_with_retries(self, path: Path) -> None:
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

        key = self.key(path)
        delay = self._backoff_s
        for attempt in range(1, self._attempts + 1):
            if not path.exists():
                log.info("checkpoint %s was pruned before its upload; skipping", path.name)
                return
            try:
                self._client.upload_file(str(path), self.bucket, key)
            except (BotoCoreError, ClientError) as error:
                self.status.last_error = self._redact(error)
                log.warning(
                    "upload of %s to s3://%s/%s failed (attempt %d/%d): %s",
                    path.name,
                    self.bucket,
                    key,
                    attempt,
                    self._attempts,
                    self.status.last_error,
                )
                if attempt == self._attempts or self._stop.wait(delay):
                    break
                delay = min(delay * 2, self._max_backoff_s)
                continue
            self.status.uploads += 1
            self.status.last_key = key
            self.status.last_error = None
            self._prune_remote()
            return
        self.status.failures += 1
        log.error("gave up uploading %s; the local checkpoint is kept", path.name)

    def _prune_remote(self) -> None:
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

        try:
            for key in self._list_keys()[: -self.keep]:
                self._client.delete_object(Bucket=self.bucket, Key=key)
        except (BotoCoreError, ClientError) as error:
            log.warning("could not prune old checkpoints in s3://%s: %s", self.bucket, self._redact(error))

    def _redact(self, error: BaseException) -> str:
        text = f"{type(error).__name__}: {error}"
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text
