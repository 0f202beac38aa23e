"""Where the bot's log lines go and how they look: stdout, and a rotated file on the logs volume, every
handler masking the configured secrets."""

from __future__ import annotations

import logging
import logging.handlers
import sys
from pathlib import Path

from tradingbot.redaction import redact_logs

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LOG_FILE_BYTES = 10 * 2**20
"""A log file is rotated at this size (bytes)."""
LOG_FILES_KEPT = 5
"""Rotated log files kept beside the current one."""


def log_to_stdout(level: str | int, secrets: list[str]) -> None:
    """Log at ``level`` to stdout, every secret masked."""
    logging.basicConfig(level=level, format=LOG_FORMAT, stream=sys.stdout)
    redact_logs(secrets)


def log_to_files(directory: Path, secrets: list[str]) -> None:
    """Also log to ``directory/bot.log``, rotated at 10 MB with 5 old files kept (the logs volume); an
    ``OSError`` when the directory cannot be written."""
    directory.mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(
        directory / "bot.log", maxBytes=LOG_FILE_BYTES, backupCount=LOG_FILES_KEPT
    )
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    redact_logs(secrets, [handler])
    logging.getLogger().addHandler(handler)
