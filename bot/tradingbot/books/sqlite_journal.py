"""The journal in a SQLite file (the standard library's sqlite3): WAL mode, ``synchronous=FULL``.

In WAL mode a commit appends to the write-ahead log; with ``synchronous=FULL`` it is fsynced before
the commit returns, so a committed step survives a crash of the process, the node or its power. Readers
(``/trades``, ``tradingbot trades``) use connections of their own and never block the writer.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

BUSY_TIMEOUT_S = 10.0


class SqliteBackend:
    """A SQLite connection of a journal."""

    errors: tuple[type[Exception], ...] = (sqlite3.Error, OSError)

    def __init__(self, path: str, read_only: bool = False) -> None:
        self.path = path
        self.description = "the in-memory journal" if path == ":memory:" else f"journal {path}"
        # one writer thread at a time (the trading worker); check_same_thread off so that it may be opened
        # on the main thread first
        self._db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
        if path != ":memory:":
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
        if read_only:
            self._db.execute("PRAGMA query_only=ON")
        self._in_transaction = False

    def _begin(self) -> None:
        if not self._in_transaction:
            self._db.execute("BEGIN IMMEDIATE")
            self._in_transaction = True

    def lock_schema(self) -> None:
        """``BEGIN IMMEDIATE`` takes the database's write lock: schema creation is serialized already."""
        self._begin()

    def execute(self, statement: str, params: Sequence[Any] = ()) -> None:
        self._begin()
        self._db.execute(statement, tuple(params))

    def executemany(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        self._begin()
        self._db.executemany(statement, [tuple(r) for r in rows])

    def query(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return list(self._db.execute(statement, tuple(params)).fetchall())

    def commit(self) -> None:
        if self._in_transaction:
            self._in_transaction = False
            self._db.execute("COMMIT")

    def rollback(self) -> None:
        if self._in_transaction:
            self._in_transaction = False
            self._db.execute("ROLLBACK")

    def close(self) -> None:
        self._db.close()

    def reader(self) -> SqliteBackend:
        if self.path == ":memory:":
            return self  # one connection holds an in-memory database
        return SqliteBackend(self.path, read_only=True)
