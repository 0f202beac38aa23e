"""No secret in any log line, at any level, from any library.

The bot's own messages never include a credential, but libraries at DEBUG may: botocore logs the
``Authorization`` header (it carries the S3 access key id), and a driver may echo a connection URL. A
filter on every handler replaces each configured secret (the S3 keys, the Massive key, the journal
URL's password) with ``***`` in the formatted message and in any traceback, before the line is written.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterable

MASK = "***"


class SecretFilter(logging.Filter):
    """Masks every occurrence of the given secrets in a record's message and traceback."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        # longest first: a secret that contains another is masked whole
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def mask(self, text: str) -> str:
        """``text`` with every secret replaced by ``***``."""
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        message = record.getMessage()
        masked = self.mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        if record.exc_text:
            record.exc_text = self.mask(record.exc_text)
        if record.stack_info:
            record.stack_info = self.mask(record.stack_info)
        return True


def redact_logs(secrets: Iterable[str], handlers: Iterable[logging.Handler] | None = None) -> SecretFilter:
    """Attach one :class:`SecretFilter` to ``handlers`` (default: the root logger's); returns it."""
    secret_filter = SecretFilter(secrets)
    for handler in handlers if handlers is not None else logging.getLogger().handlers:
        handler.addFilter(secret_filter)
    return secret_filter
