"""Runtime switches an operator changes without restarting the bot.

The operator mounts a ConfigMap as ``CONTROL_DIR``; Kubernetes refreshes the mounted files in place
(typically within a minute), so a ``SUSPEND`` file flips the bot between trading and managing only its
open positions while the pod, the agent and its learning state stay as they are.
"""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger("tradingbot")

POLL_INTERVAL_S = 5.0
_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off", ""})


class SuspendSwitch:
    """Whether new entries are suspended: the ``SUSPEND`` file in ``control_dir`` if present, else ``default``."""

    def __init__(self, default: bool, control_dir: Path | None) -> None:
        self.default = default
        self.path = None if control_dir is None else control_dir / "SUSPEND"
        self.suspended = default
        self._next_poll = 0.0

    def poll(self, now: float) -> bool:
        """The current state, re-reading the file at most every :data:`POLL_INTERVAL_S` seconds of ``now``."""
        if self.path is None or now < self._next_poll:
            return self.suspended
        self._next_poll = now + POLL_INTERVAL_S
        state = self._read()
        if state != self.suspended:
            log.warning("new entries %s (%s)", "suspended" if state else "resumed", self.path)
            self.suspended = state
        return state

    def _read(self) -> bool:
        assert self.path is not None
        try:
            text = self.path.read_text(encoding="utf-8").strip().lower()
        except FileNotFoundError:
            return self.default
        except OSError as error:
            log.warning("cannot read %s (%s): keeping entries %s", self.path, error, self._word())
            return self.suspended
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        log.warning("%s holds %r, not true or false: keeping entries %s", self.path, text[:20], self._word())
        return self.suspended

    def _word(self) -> str:
        return "suspended" if self.suspended else "allowed"
