"""The trade journal: every fill and expiry settlement of one bot's paper account, durably committed.

The bookkeeper writes each step's fills as they happen and the account's state after them, and commits
before anything reports them (``/status``, metrics, logs): when the loop reports, after the first step at
least 0.25 s after its last report (so after every step when steps are slower), at each checkpoint and at
shutdown. A crash at any moment leaves the journal with whole steps only: the restarted bot
rebuilds cash, positions, realised P&L, trade count and win rate from it exactly (see
:mod:`tradingbot.books.recovery`).

Where it lives (``JOURNAL``): a SQLite file (the default, ``<checkpoint-dir>/journal.sqlite``, WAL mode,
``synchronous=FULL``: every commit is on disk before it returns), a ``postgresql://`` URL (one database for
a fleet; every row carries the bot's name), or ``memory`` (nothing kept: experiments and benchmarks).
"""

from __future__ import annotations

import json
import logging
import math
import re
import sqlite3
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from tradingbot.books import sql
from tradingbot.env.portfolio import FILL_KINDS, Fill

log = logging.getLogger("tradingbot.books")
MEMORY = "memory"
POSTGRES_URL = re.compile(r"^postgres(ql)?://")
PAGE_LIMIT = 1000
"""The most fills one page of ``/trades`` or one read returns."""


class JournalError(RuntimeError):
    """The journal cannot be opened, read or written; the message says why (never a password)."""


class Backend(Protocol):
    """One database connection of a journal (SQLite or PostgreSQL), ``?`` placeholders."""

    description: str
    """Where the journal is, for messages (a URL without its password)."""
    errors: tuple[type[Exception], ...]
    """What the driver raises when the database refuses or fails (a full disk, a lost server)."""

    def execute(self, statement: str, params: Sequence[Any] = ()) -> None: ...

    def lock_schema(self) -> None:
        """Serialize schema creation with other bots starting against the same database now."""
        ...

    def executemany(self, statement: str, rows: Sequence[Sequence[Any]]) -> None: ...

    def query(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    def commit(self) -> None:
        """Make the transaction durable (on disk, or acknowledged by the server) before returning."""
        ...

    def rollback(self) -> None: ...

    def close(self) -> None: ...

    def reader(self) -> Backend:
        """A new connection for reading from another thread."""
        ...


@dataclass(frozen=True, slots=True)
class Opening:
    """How an account started: its cash, and (when it continues books kept elsewhere) positions and totals."""

    account_id: str
    initial_cash: float
    snapshot: dict[str, Any]
    """A :meth:`Portfolio.snapshot` the fills apply to, in order."""
    opened_unix: float


@dataclass(frozen=True, slots=True)
class AccountState:
    """Where the account stands after a booked step (its fills are written separately)."""

    step: int
    timestamp_ms: int
    peak_value: float
    marks: Mapping[str, float]
    """Each open position's mark, USD per share (restored with the positions)."""
    market: Mapping[str, Any] | None = None
    """The simulated market's state after the step (``None`` for live data)."""
    risk: Mapping[str, Any] | None = None
    """The risk protections' state after the step (a :meth:`RiskState.as_dict`)."""


@dataclass(frozen=True, slots=True)
class LastStep:
    """The journal's last booked step."""

    step: int
    timestamp_ms: int
    last_seq: int
    peak_value: float
    marks: dict[str, float] = field(default_factory=dict)
    market: dict[str, Any] | None = None
    risk: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class JournalFill:
    """A fill as the journal holds it: numbered, with the step that made it and when it was booked."""

    seq: int
    step: int
    recorded_unix: float
    fill: Fill

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (``/trades``, ``tradingbot trades --format json``)."""
        f = self.fill
        return {
            "seq": self.seq,
            "step": self.step,
            "timestamp_ms": f.timestamp_ms,
            "recorded_unix": self.recorded_unix,
            "ticker": f.ticker,
            "underlying": f.underlying,
            "kind": f.kind,
            "quantity": f.quantity,
            "price": f.price,
            "multiplier": f.multiplier,
            "commission": f.commission,
            "fees": f.fees,
            "cash_delta": f.cash_delta,
            "realized_pnl": f.realized_pnl,
            "price_source": f.price_source,
        }


def _fill_of(row: Sequence[Any]) -> JournalFill:
    (seq, step, timestamp_ms, recorded, ticker, underlying, kind, quantity, price, multiplier) = row[:10]
    commission, fees, cash_delta, realized, source = row[10:15]
    if kind not in FILL_KINDS:
        raise JournalError(f"fill {seq} has an unknown kind {kind!r}")
    fill = Fill(
        int(timestamp_ms),
        str(ticker),
        str(underlying),
        kind,
        int(quantity),
        float(price),
        int(multiplier),
        float(commission),
        float(fees),
        float(cash_delta),
        float(realized),
        str(source),
    )
    return JournalFill(int(seq), int(step), float(recorded), fill)


class Journal:
    """One bot's books in a journal database."""

    def __init__(self, backend: Backend, bot: str) -> None:
        self.backend = backend
        self.bot = bot
        self.commits = 0
        try:
            backend.lock_schema()
            for statement in sql.SCHEMA:
                backend.execute(statement)
            backend.commit()
            for probe, change in sql.MIGRATIONS:
                self._migrate(probe, change)
            self._seq = int(backend.query(sql.SELECT_LAST_SEQ, (bot,))[0][0])
            self._durable_seq = self._seq
        except backend.errors as error:
            raise JournalError(f"{backend.description}: {type(error).__name__}: {error}") from error

    def _migrate(self, probe: str, change: str) -> None:
        """Run ``change`` unless ``probe`` already succeeds; another bot making it first is fine."""
        backend = self.backend
        try:
            backend.query(probe)
            return
        except backend.errors:
            backend.rollback()
        backend.lock_schema()
        try:
            backend.execute(change)
            backend.commit()
        except backend.errors:
            backend.rollback()  # made by another bot between the probe and the lock
        backend.query(probe)  # raises if the change is still missing

    @property
    def description(self) -> str:
        """Where the journal is (no password)."""
        return self.backend.description

    @property
    def last_seq(self) -> int:
        """The number of the newest committed fill (0 before the first)."""
        return self._durable_seq

    def opening(self) -> Opening | None:
        """How this bot's account opened, or ``None`` for a bot the journal does not know yet."""
        rows = self.backend.query(sql.SELECT_ACCOUNT, (self.bot,))
        if not rows:
            return None
        account_id, version, initial_cash, opening, opened = rows[0]
        if int(version) > sql.SCHEMA_VERSION:
            raise JournalError(f"{self.description} has journal schema {version}; this bot reads {sql.SCHEMA_VERSION}")
        return Opening(str(account_id), float(initial_cash), json.loads(opening), float(opened))

    def open_account(self, snapshot: Mapping[str, Any]) -> Opening:
        """Start this bot's books from ``snapshot`` (a :meth:`Portfolio.snapshot`)."""
        opening = Opening(uuid.uuid4().hex, float(snapshot["initial_cash"]), dict(snapshot), time.time())
        params = (self.bot, opening.account_id, sql.SCHEMA_VERSION, opening.initial_cash)
        try:
            self.backend.execute(sql.INSERT_ACCOUNT, (*params, _json(snapshot), opening.opened_unix))
        except self.backend.errors as error:
            self.rollback()
            raise JournalError(f"{self.description}: cannot open the account: {_first_line(error)}") from error
        try:
            self.commit()
        except JournalError:
            self.rollback()
            raise
        return opening

    def last_step(self) -> LastStep | None:
        """The last booked step, or ``None`` before the first."""
        rows = self.backend.query(sql.SELECT_STEP, (self.bot,))
        if not rows:
            return None
        step, timestamp_ms, last_seq, peak, marks, market, risk = rows[0]
        return LastStep(
            int(step),
            int(timestamp_ms),
            int(last_seq),
            float(peak),
            {str(k): float(v) for k, v in json.loads(marks).items()},
            json.loads(market) if market else None,
            json.loads(risk) if risk else None,
        )

    def write_fills(self, step: int, fills: tuple[Fill, ...]) -> None:
        """Write ``step``'s fills into the open transaction (durable only once :meth:`commit` returns)."""
        if not fills:
            return
        now = time.time()
        rows = [
            (
                self.bot,
                self._seq + offset,
                step,
                fill.timestamp_ms,
                now,
                fill.ticker,
                fill.underlying,
                fill.kind,
                fill.quantity,
                fill.price,
                fill.multiplier,
                fill.commission,
                fill.fees,
                fill.cash_delta,
                fill.realized_pnl,
                fill.price_source,
            )
            for offset, fill in enumerate(fills, start=1)
        ]
        try:
            self.backend.executemany(sql.INSERT_FILL, rows)
        except self.backend.errors as error:
            raise JournalError(f"{self.description}: {type(error).__name__}: {_first_line(error)}") from error
        self._seq += len(rows)

    def write_state(self, state: AccountState) -> None:
        """Write where the account and the market stand after the fills written so far (the last step's row)."""
        row = (
            self.bot,
            state.step,
            state.timestamp_ms,
            time.time(),
            self._seq,
            state.peak_value,
            _json(state.marks),
            None if state.market is None else _json(state.market),
            None if state.risk is None else _json(state.risk),
        )
        try:
            self.backend.execute(sql.UPSERT_STEP, row)
        except self.backend.errors as error:
            raise JournalError(f"{self.description}: {type(error).__name__}: {_first_line(error)}") from error

    def commit(self) -> None:
        """Make everything written since the last commit durable, or raise :class:`JournalError`."""
        try:
            self.backend.commit()
        except self.backend.errors as error:
            raise JournalError(f"{self.description}: {type(error).__name__}: {_first_line(error)}") from error
        self._durable_seq = self._seq
        self.commits += 1

    def rollback(self) -> None:
        """Forget everything written since the last commit."""
        try:
            self.backend.rollback()
        except self.backend.errors as lost:  # the connection may be gone: the write's error is the one reported
            log.debug("rollback after a failed write also failed: %s", type(lost).__name__)
        self._seq = self._durable_seq

    def record(self, fills: tuple[Fill, ...], state: AccountState) -> None:
        """Write and commit one step's fills and the state after them; on any failure nothing is kept."""
        try:
            self.write_fills(state.step, fills)
            self.write_state(state)
            self.commit()
        except JournalError:
            self.rollback()
            raise

    def fills(
        self, after: int = 0, limit: int | None = None, since_ms: int | None = None, symbol: str | None = None
    ) -> list[JournalFill]:
        """Fills after ``seq`` ``after``, oldest first (see :func:`read_fills`)."""
        return read_fills(self.backend, self.bot, after, limit, since_ms, symbol)

    def all_fills(self, batch: int = 10_000) -> Iterator[JournalFill]:
        """Every fill of the bot, oldest first, read in batches."""
        after = 0
        while True:
            page = self.fills(after, batch)
            yield from page
            if len(page) < batch:
                return
            after = page[-1].seq

    def close(self) -> None:
        self.backend.close()


def read_fills(
    backend: Backend,
    bot: str,
    after: int = 0,
    limit: int | None = None,
    since_ms: int | None = None,
    symbol: str | None = None,
) -> list[JournalFill]:
    """``bot``'s fills after ``seq`` ``after``, oldest first: at most ``limit``, from market time
    ``since_ms`` (epoch ms), of one underlying."""
    params: list[Any] = [bot, after]
    if since_ms is not None:
        params.append(since_ms)
    if symbol is not None:
        params.append(symbol)
    if limit is not None:
        params.append(limit)
    statement = sql.select_fills(since_ms is not None, symbol is not None, limit is not None)
    try:
        return [_fill_of(row) for row in backend.query(statement, params)]
    except backend.errors as error:
        raise JournalError(f"{backend.description}: {type(error).__name__}: {_first_line(error)}") from error


def opening_cash(backend: Backend, bot: str) -> float:
    """The cash ``bot``'s account opened with, USD."""
    rows = backend.query(sql.SELECT_ACCOUNT, (bot,))
    if not rows:
        raise JournalError(f"{backend.description} holds no account of {bot}")
    return float(rows[0][2])


def bots_in(backend: Backend) -> list[str]:
    """The bots a journal database holds accounts of."""
    try:
        return [str(row[0]) for row in backend.query(sql.SELECT_BOTS)]
    except backend.errors as error:
        raise JournalError(f"{backend.description} is not a trade journal ({type(error).__name__})") from error


def open_reader(target: str) -> Backend:
    """A read-only connection to an existing journal (a SQLite file or a ``postgresql://`` URL)."""
    if POSTGRES_URL.match(target):
        return _postgres(target)
    from tradingbot.books.sqlite_journal import SqliteBackend  # noqa: PLC0415

    if target == MEMORY or not Path(target).is_file():
        raise JournalError(f"no journal at {target}")
    try:
        return SqliteBackend(target, read_only=True)
    except (sqlite3.Error, OSError) as error:
        raise JournalError(f"cannot open journal {target}: {type(error).__name__}: {_first_line(error)}") from None


def _json(value: Any) -> str:  # noqa: ANN401 - plain data

    return json.dumps(value, separators=(",", ":"), allow_nan=False, default=_not_json)


def _not_json(value: Any) -> Any:  # noqa: ANN401 - numpy scalars in market state
    if hasattr(value, "item"):
        item = value.item()
        if isinstance(item, float) and not math.isfinite(item):
            raise ValueError(f"not a finite number: {item!r}")
        return item
    raise TypeError(f"{type(value).__name__} is not JSON")


def open_journal(target: str, bot: str) -> Journal:
    """The journal at ``target``: ``memory``, a ``postgresql://`` URL or a SQLite file path."""
    from tradingbot.books.sqlite_journal import SqliteBackend  # noqa: PLC0415

    if POSTGRES_URL.match(target):
        return Journal(_postgres(target), bot)
    try:
        if target == MEMORY:
            return Journal(SqliteBackend(":memory:"), bot)
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        return Journal(SqliteBackend(target), bot)
    except (sqlite3.Error, OSError) as error:
        raise JournalError(f"cannot open journal {target}: {type(error).__name__}: {_first_line(error)}") from None


def _postgres(url: str) -> Backend:
    try:
        from tradingbot.books.postgres_journal import PostgresBackend  # noqa: PLC0415 - psycopg only when used
    except ImportError as error:
        raise JournalError(f"a PostgreSQL journal needs psycopg: {error}") from None
    try:
        return PostgresBackend(url)
    except PostgresBackend.errors as error:  # its message names the server, never the password
        raise JournalError(f"cannot open a PostgreSQL journal: {_first_line(error)}") from None


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else ""
