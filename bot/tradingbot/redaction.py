"""The one place that hides secrets: no credential in any log line, at any level and from any library, in
an error message, a journal's description or ``/status``.

Which settings are secret is the contract's word (variables whose source is ``secret``); the settings
hand their values over (:meth:`tradingbot.config.Settings.secret_values`). The bot's own messages never
include a credential, but libraries at DEBUG may: botocore logs the ``Authorization`` header (it carries
the S3 access key id), and a driver may echo a connection URL. A filter on every handler replaces each
configured secret (the S3 keys, the Massive key, the journal URL's password) with ``***`` in the
formatted message and in any traceback, before the line is written.
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Iterable
from urllib.parse import parse_qsl, unquote, urlsplit

MASK = "***"
_USERINFO_PASSWORD = re.compile(r"(://[^:/@]*:)[^@/]*@")
_QUERY_PASSWORD = re.compile(r"([?&]password=)[^&]*", re.IGNORECASE)


def mask(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret replaced by ``***``, longest first (a secret that contains another is
    masked whole)."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def redact_url(url: str) -> str:
    """``url`` with any password (``user:password@`` or ``?password=``) replaced by ``***``; a file path
    comes back as it is."""
    return _QUERY_PASSWORD.sub(rf"\1{MASK}", _USERINFO_PASSWORD.sub(rf"\1{MASK}@", url))


def url_password(url: str) -> str | None:
    """The password in a ``scheme://user:password@host`` or ``…?password=`` URL, if any."""
    parts = urlsplit(url)
    if parts.password:
        return unquote(parts.password)
    for key, value in parse_qsl(parts.query):
        if key.lower() == "password" and value:
            return value
    return None


class SecretFilter(logging.Filter):
    """Masks every occurrence of the given secrets in a record's message and traceback."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if s]

    def mask(self, text: str) -> str:
        """``text`` with every secret replaced by ``***``."""
        return mask(text, self._secrets)

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
