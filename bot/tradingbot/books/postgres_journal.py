"""The journal in PostgreSQL (psycopg 3): one database for a fleet of bots, every row tagged with its bot.

A commit returns once the server has made it durable (its default ``synchronous_commit``). The URL comes
from the ``JOURNAL`` variable (in Kubernetes a Secret); its password never appears in a message.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from tradingbot.redaction import redact_url

CONNECT_TIMEOUT_S = 10
SCHEMA_LOCK_KEY = 0x7472_6164_6562_6F74  # "tradebot": the advisory lock that serializes schema creation


class PostgresBackend:
    """A PostgreSQL connection of a journal."""

    errors: tuple[type[Exception], ...] = (psycopg.Error, OSError)

    def __init__(self, url: str) -> None:
        self._url = url
        self._writing = False
        self.description = f"journal {redact_url(url)}"
        try:
            self._db = psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S, autocommit=False)
        except psycopg.Error as error:
            raise psycopg.OperationalError(f"cannot connect to {redact_url(url)}: {type(error).__name__}") from None

    def lock_schema(self) -> None:
        """A transaction-scoped advisory lock: two bots creating the tables at once would otherwise race
        (``CREATE TABLE IF NOT EXISTS`` is not safe against a concurrent one in PostgreSQL)."""
        self._writing = True
        self._db.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK_KEY,))

    def execute(self, statement: str, params: Sequence[Any] = ()) -> None:
        self._writing = True
        self._db.execute(_placeholders(statement), tuple(params))

    def executemany(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        self._writing = True
        with self._db.cursor() as cursor:
            cursor.executemany(_placeholders(statement), [tuple(r) for r in rows])

    def query(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        rows = self._db.execute(_placeholders(statement), tuple(params)).fetchall()
        if not self._writing:
            self._db.rollback()  # end a read-only transaction: a long-lived connection must not hold a snapshot
        return [tuple(r) for r in rows]

    def commit(self) -> None:
        self._writing = False
        self._db.commit()

    def rollback(self) -> None:
        self._writing = False
        self._db.rollback()

    def close(self) -> None:
        self._db.close()

    def reader(self) -> PostgresBackend:
        return PostgresBackend(self._url)


def _placeholders(statement: str) -> str:
    return statement.replace("?", "%s")
