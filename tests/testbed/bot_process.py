"""Real ``tradingbot`` processes for tests, the one launcher every test uses: a command run to its end, a
process writing to a log file, a bot killed while it trades, and a ``tradingbot run`` on a free port of
127.0.0.1 read over HTTP and stopped."""

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
from tiny import TINY_FLAGS

SMALL_AGENT = (*TINY_FLAGS, "--hold-prior", "0")
"""The tiny network, trading from the start (a uniform policy)."""
TRADINGBOT = (sys.executable, "-m", "tradingbot")
STARTED_TRADING = "paper trading with"
"""The start line ``tradingbot run`` logs once it is about to take its first step."""


def _environment(env: Mapping[str, str] | None, unset: Sequence[str] = ()) -> dict[str, str]:
    """This process's environment, less ``unset``, plus ``env``."""
    inherited = {name: value for name, value in os.environ.items() if name not in unset}
    return dict(inherited, PYTHONUNBUFFERED="1", **(env or {}))


def tradingbot(
    *args: str, env: Mapping[str, str] | None = None, unset: Sequence[str] = (), timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """``tradingbot *args`` run to its end, output captured as text; ``unset``: inherited variables removed."""
    return subprocess.run(
        [*TRADINGBOT, *args], capture_output=True, text=True, timeout=timeout, env=_environment(env, unset), check=False
    )


def spawn(args: Sequence[str], log: Path, env: Mapping[str, str] | None = None) -> subprocess.Popen[bytes]:
    """``tradingbot *args`` started, stdout and stderr to ``log`` (a file, not a pipe nobody reads: a full pipe
    would block the bot's logging)."""
    return subprocess.Popen([*TRADINGBOT, *args], stdout=log.open("w"), stderr=subprocess.STDOUT, env=_environment(env))


def killed_while_trading(args: Sequence[str], after_s: float, env: Mapping[str, str] | None = None) -> str:
    """``tradingbot run *args`` (HTTP on a free port of 127.0.0.1), SIGKILLed ``after_s`` seconds after it
    started trading; its whole output."""
    environ = _environment({"HTTP_HOST": "127.0.0.1", "HTTP_PORT": "0", **(env or {})})
    proc = subprocess.Popen(
        [*TRADINGBOT, "run", *args], env=environ, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert proc.stdout is not None
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if STARTED_TRADING in line:
            break
    time.sleep(after_s)
    proc.send_signal(signal.SIGKILL)
    rest, _ = proc.communicate(timeout=30)
    return "".join(seen) + rest


class BotProcess:
    """One bot; its output goes to ``log`` (read it with :meth:`output`)."""

    def __init__(self, args: Sequence[str], log: Path, env: Mapping[str, str] | None = None) -> None:
        self.port = free_port()
        self.log = log
        self.process = spawn(["run", "--host", "127.0.0.1", "--port", str(self.port), *args], log, env)

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
        """Everything the bot printed so far."""
        return self.log.read_text()

    def wait_for_line(self, text: str, timeout_s: float = 60.0) -> None:
        """Wait until the bot has printed a line containing ``text``."""
        deadline = time.monotonic() + timeout_s
        while text not in self.output():
            if self.process.poll() is not None or time.monotonic() > deadline:
                code = self.process.returncode
                raise AssertionError(f"no line with {text!r} (exit {code}):\n{self.output()[-2000:]}")
            time.sleep(0.05)
