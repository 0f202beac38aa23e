"""The one module that talks to S3: checkpoints mirrored to ``s3://bucket/prefix/`` from a background thread.

Mirroring is level-based: the checkpoint store hands over the local checkpoints it keeps, and the mirror
thread makes the bucket hold those (uploading what is missing, deleting what is older than the oldest of
them). Any error of S3 or of the transport (a lost bucket, an outage, a refused credential) is
caught, counted, reported without credentials and retried with capped, jittered backoff; the thread
cannot die, and once S3 answers again the bucket catches up, whatever it lost meanwhile. At shutdown a
bounded final pass runs, and whatever is left unmirrored is logged as a WARNING.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from tradingbot.agent.checkpoint import CHECKPOINT_NAME, TMP_PREFIX, CheckpointCorruptError, read_checkpoint
from tradingbot.redaction import mask
from tradingbot_contract.backoff import Backoff

log = logging.getLogger("tradingbot.s3")


@dataclass(frozen=True)
class MirrorStatus:
    """What the mirror has done (no secrets): counts since start, ``pending`` checkpoints not yet in S3."""

    uploads: int = 0
    failures: int = 0
    pending: int = 0
    """Kept checkpoints S3 is not known to hold (all of them while S3 fails)."""

    last_key: str | None = None
    last_error: str | None = None
    """The last failure's error class and message (credentials removed); ``None`` after a success."""
    last_error_class: str | None = None
    last_success_unix: float | None = None


def _errors() -> tuple[type[Exception], ...]:
    """Everything boto3 raises for S3 or the transport (its own wrapper types are not botocore's)."""
    from boto3.exceptions import Boto3Error  # noqa: PLC0415 - boto3 is imported only by bots that mirror
    from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

    return (BotoCoreError, ClientError, Boto3Error, OSError)


class S3Mirror:
    """Keeps ``s3://bucket/prefix/`` equal to the newest local checkpoints, from a background thread."""

    def __init__(
        self,
        bucket: str,
        prefix: str,
        *,
        endpoint_url: str | None,
        access_key: str | None,
        secret_key: str | None,
        region: str = "us-east-1",
        backoff_initial_s: float = 1.0,
        backoff_max_s: float = 60.0,
    ) -> None:
        import boto3  # noqa: PLC0415 - only bots that mirror to S3 pay for importing boto3
        from botocore.config import Config  # noqa: PLC0415

        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.errors = _errors()
        self._secrets = [s for s in (access_key, secret_key) if s]
        self._backoff = Backoff(backoff_initial_s, backoff_max_s)
        self._client: Any = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            region_name=region,
            config=Config(connect_timeout=3, read_timeout=10, retries={"max_attempts": 1}),
        )
        self._lock = threading.Lock()
        self._status = MirrorStatus()
        self._wanted: list[Path] = []
        self._mirrored: set[str] = set()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._thread = threading.Thread(target=self._work, name="s3-mirror", daemon=True)
        self._thread.start()

    @property
    def status(self) -> MirrorStatus:
        """A copy of the current status (read from any thread)."""
        with self._lock:
            return self._status

    def key(self, path: Path | str) -> str:
        """The object key of a checkpoint file."""
        name = Path(path).name
        return f"{self.prefix}/{name}" if self.prefix else name

    def sync(self, paths: Sequence[Path]) -> None:
        """Make the bucket hold exactly ``paths`` (the local checkpoints to keep); returns at once."""
        with self._lock:
            self._wanted = list(paths)
            pending = sum(self.key(p) not in self._mirrored for p in paths)
            self._status = replace(self._status, pending=pending)
        self._idle.clear()
        self._wake.set()

    def close(self, timeout_s: float) -> bool:
        """A last pass of at most ``timeout_s``; whether every wanted checkpoint is in S3 (else a WARNING)."""
        self._wake.set()
        self._idle.wait(timeout_s)
        self._stopping.set()
        self._wake.set()
        self._thread.join(max(1.0, timeout_s / 10))
        left = self.status.pending
        if left:
            log.warning(
                "%d checkpoint(s) not mirrored to s3://%s/%s at shutdown (last error: %s); the local files are kept",
                left,
                self.bucket,
                self.prefix,
                self.status.last_error,
            )
        return left == 0

    def restore_into(self, directory: Path) -> Path | None:
        """Download the newest valid checkpoint under the prefix into ``directory`` (a new pod's empty volume)."""
        try:
            keys = self._remote_keys()
        except self.errors as error:
            log.warning("cannot list s3://%s/%s: %s", self.bucket, self.prefix, self._redact(error))
            return None
        directory.mkdir(parents=True, exist_ok=True)
        for key in reversed(keys):
            name = key.rsplit("/", 1)[-1]
            temporary = directory / f"{TMP_PREFIX}s3-{name}"
            try:
                self._client.download_file(self.bucket, key, str(temporary))
                read_checkpoint(temporary)
            except self.errors as error:
                log.warning("cannot download s3://%s/%s: %s", self.bucket, key, self._redact(error))
                temporary.unlink(missing_ok=True)
                continue
            except CheckpointCorruptError as error:
                log.warning("skipping s3://%s/%s: %s", self.bucket, key, error)
                temporary.unlink(missing_ok=True)
                continue
            final = directory / name
            os.replace(temporary, final)
            log.info("restored %s from s3://%s/%s", name, self.bucket, key)
            return final
        return None

    def _remote_keys(self) -> list[str]:
        paginator = self._client.get_paginator("list_objects_v2")
        keys: list[str] = []
        for page in paginator.paginate(Bucket=self.bucket, Prefix=f"{self.prefix}/" if self.prefix else ""):
            names = ((item["Key"], item["Key"].rsplit("/", 1)[-1]) for item in page.get("Contents", []))
            keys.extend(key for key, name in names if CHECKPOINT_NAME.match(name))

        return sorted(keys)

    def _work(self) -> None:
        wait: float | None = None
        while not self._stopping.is_set():
            self._wake.wait(wait)
            self._wake.clear()
            if self._stopping.is_set():
                return
            try:
                self._pass()
            except self.errors as error:
                wait = self._failed(error)
                continue
            except Exception as error:  # noqa: BLE001 - anything else from boto3 is reported too: the thread must live
                wait = self._failed(error)
                continue
            self._backoff.reset()
            wait = None
            if not self.status.pending:
                self._idle.set()

    def _pass(self) -> None:
        """One reconciliation: upload the wanted checkpoints S3 lacks, delete those older than all of them."""
        with self._lock:
            wanted = list(self._wanted)
        remote = set(self._remote_keys())
        for path in wanted:
            key = self.key(path)
            if key in remote:
                self._done(key, uploaded=False)
                continue
            if not path.exists():  # pruned locally since: a newer one is wanted instead
                continue
            self._client.upload_file(str(path), self.bucket, key)
            remote.add(key)
            self._done(key, uploaded=True)
        oldest_wanted = min((self.key(p) for p in wanted), default=None)
        for key in sorted(remote):
            if oldest_wanted is not None and key < oldest_wanted:  # zero-padded steps: names sort as steps
                self._client.delete_object(Bucket=self.bucket, Key=key)
                remote.discard(key)

        with self._lock:
            self._mirrored &= remote
            pending = sum(self.key(p) not in self._mirrored for p in self._wanted)
            self._status = replace(
                self._status, pending=pending, last_error=None, last_error_class=None, last_success_unix=time.time()
            )

    def _done(self, key: str, uploaded: bool) -> None:
        with self._lock:
            self._mirrored.add(key)
            if uploaded:
                self._status = replace(self._status, uploads=self._status.uploads + 1, last_key=key)

    def _failed(self, error: BaseException) -> float:
        wait = self._backoff.next()
        message = self._redact(error)
        with self._lock:
            self._mirrored.clear()  # what S3 holds is unknown until a pass succeeds again
            self._status = replace(
                self._status,
                failures=self._status.failures + 1,
                pending=len(self._wanted),
                last_error=message,
                last_error_class=_error_class(error),
            )
        log.warning("S3 mirror to s3://%s/%s failed, retrying in %.1f s: %s", self.bucket, self.prefix, wait, message)
        return wait

    def _redact(self, error: BaseException) -> str:
        """The error as a line with neither key in it."""
        return mask(f"{type(error).__name__}: {error}", self._secrets)


def _error_class(error: BaseException) -> str:
    """S3's error code (``NoSuchBucket``, ``AccessDenied``) when it sent one (also inside boto3's upload
    wrapper), else the exception's class."""
    for candidate in (error, error.__cause__, error.__context__):
        response = getattr(candidate, "response", None)
        code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
        if code:
            return str(code)
    return type(error).__name__
