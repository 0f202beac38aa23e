"""A real ``tradingbot run`` process for tests: started on a free port of 127.0.0.1, read over HTTP, stopped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from local_servers import free_port

SMALL_AGENT = (
    *("--policy-hidden", "32", "--feature-hidden", "16", "--mlp-hidden", "16", "--window", "8"),
    *("--hold-prior", "0"),
)
"""A tiny network, quick to start, train and save, that trades from the start (a uniform policy)."""


class BotProcess:
    """One bot; its output goes to ``log`` (read it with :meth:`output`)."""

    def __init__(self, args: Sequence[str], log: Path, env: Mapping[str, str] | None = None) -> None:
        self.port = free_port()
        self.log = log
        environ = dict(os.environ, PYTHONUNBUFFERED="1", **(env or {}))
        command = [sys.executable, "-m", "tradingbot", "run", "--host", "127.0.0.1", "--port", str(self.port), *args]
        self.process = subprocess.Popen(command, stdout=log.open("w"), stderr=subprocess.STDOUT, env=environ)

    def get(self, path: str) -> tuple[int, str]:
        """GET ``path``: (status, body); status 0 while nothing answers."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return 0, ""

    def status(self) -> dict[str, Any]:
        """The ``/status`` document ({} until it answers)."""
        code, body = self.get("/status")
        return json.loads(body) if code == 200 else {}

    def wait_for(self, check: Callable[[dict[str, Any]], Any], timeout_s: float = 60.0, what: str = "it") -> Any:
        """Poll ``/status`` until ``check(document)`` is truthy; its value."""
        deadline = time.monotonic() + timeout_s
        while True:
            document = self.status()
            result = check(document) if document else None
            if result:
                return result
            if self.process.poll() is not None:
                raise AssertionError(
                    f"the bot exited ({self.process.returncode}) waiting for {what}:\n{self.output()[-3000:]}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout_s} s waiting for {what}:\n{self.output()[-2000:]}")
            time.sleep(0.1)

    def stop(self, timeout_s: float = 60.0) -> int:
        """SIGTERM and wait; the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise

    def output(self) -> str:
        return self.log.read_text()
