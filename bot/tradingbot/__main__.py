"""``python -m tradingbot`` and the ``tradingbot`` command: the command line (:mod:`tradingbot.cli`)."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Sequence
from types import FrameType

INTERRUPTED = 130
"""The exit code after Ctrl-C that came before a command could stop by itself (128 + SIGINT, as shells say)."""
_INTERRUPTED_LINE = b"tradingbot: interrupted\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; the exit code. Ctrl-C that reaches Python code is one line and 130."""
    try:
        from tradingbot.cli import main as command_line  # noqa: PLC0415 - inside the guard: Ctrl-C may come while it loads

        return command_line(argv)
    except KeyboardInterrupt:
        sys.stderr.write(_INTERRUPTED_LINE.decode())
        return INTERRUPTED


def _leave_at_once(signum: int, frame: FrameType | None) -> None:
    """Ctrl-C before the trading loop (or a command) takes SIGINT over: leave now. Raising instead could
    land inside a compiled extension's import and surface as its panic with a traceback; nothing is lost by
    leaving, as the books are durable at every commit (a SIGKILL is survived the same way)."""
    os.write(2, _INTERRUPTED_LINE)
    os._exit(INTERRUPTED)


def entry() -> None:
    """The ``tradingbot`` command: :func:`main` with Ctrl-C answered at once until a command handles it."""
    signal.signal(signal.SIGINT, _leave_at_once)
    sys.exit(main())


if __name__ == "__main__":
    entry()
