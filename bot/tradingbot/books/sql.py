"""The journal's schema and statements, the same for SQLite and PostgreSQL (``?`` placeholders; the
PostgreSQL backend turns them into ``%s``).

One database may hold many bots (a fleet's shared PostgreSQL): every row carries the bot's name.

- ``accounts``: one row per bot: the account's opening (its cash and any positions it started with, as
  JSON), the schema version and when it was opened.
- ``fills``: every buy, sell and expiry settlement, numbered per bot (``seq`` 1, 2, …), with the step
  and market time that made it, the wall time it was booked, and every figure the account applied.
- ``steps``: the last step booked per bot: the high-water mark, the positions' marks, the risk
  protections' state and (simulator only) the market's state, so a restarted bot continues exactly
  where its books end.
"""

from __future__ import annotations

SCHEMA_VERSION = 1

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS accounts (
        bot TEXT PRIMARY KEY,
        account_id TEXT NOT NULL,
        schema_version INTEGER NOT NULL,
        initial_cash DOUBLE PRECISION NOT NULL,
        opening TEXT NOT NULL,
        opened_unix DOUBLE PRECISION NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS fills (
        bot TEXT NOT NULL,
        seq BIGINT NOT NULL,
        step BIGINT NOT NULL,
        timestamp_ms BIGINT NOT NULL,
        recorded_unix DOUBLE PRECISION NOT NULL,
        ticker TEXT NOT NULL,
        underlying TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('buy', 'sell', 'expire')),
        quantity INTEGER NOT NULL CHECK (quantity > 0),
        price DOUBLE PRECISION NOT NULL,
        multiplier INTEGER NOT NULL,
        commission DOUBLE PRECISION NOT NULL,
        fees DOUBLE PRECISION NOT NULL,
        cash_delta DOUBLE PRECISION NOT NULL,
        realized_pnl DOUBLE PRECISION NOT NULL,
        price_source TEXT NOT NULL,
        PRIMARY KEY (bot, seq)
    )""",
    "CREATE INDEX IF NOT EXISTS fills_by_time ON fills (bot, timestamp_ms)",
    """CREATE TABLE IF NOT EXISTS steps (
        bot TEXT PRIMARY KEY,
        step BIGINT NOT NULL,
        timestamp_ms BIGINT NOT NULL,
        recorded_unix DOUBLE PRECISION NOT NULL,
        last_seq BIGINT NOT NULL,
        peak_value DOUBLE PRECISION NOT NULL,
        marks TEXT NOT NULL,
        market TEXT,
        risk TEXT
    )""",
)
MIGRATIONS = (("SELECT risk FROM steps WHERE bot = ''", "ALTER TABLE steps ADD COLUMN risk TEXT"),)
"""(probe, change) pairs for journals made by older bots: the change runs when the probe fails."""

FILL_COLUMNS = (
    "seq, step, timestamp_ms, recorded_unix, ticker, underlying, kind, quantity, price, multiplier, "
    "commission, fees, cash_delta, realized_pnl, price_source"
)
INSERT_ACCOUNT = (
    "INSERT INTO accounts (bot, account_id, schema_version, initial_cash, opening, opened_unix) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)
SELECT_ACCOUNT = "SELECT account_id, schema_version, initial_cash, opening, opened_unix FROM accounts WHERE bot = ?"
INSERT_FILL = f"INSERT INTO fills (bot, {FILL_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"  # noqa: S608
UPSERT_STEP = (
    "INSERT INTO steps (bot, step, timestamp_ms, recorded_unix, last_seq, peak_value, marks, market, risk) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (bot) DO UPDATE SET step = excluded.step, "
    "timestamp_ms = excluded.timestamp_ms, recorded_unix = excluded.recorded_unix, last_seq = excluded.last_seq, "
    "peak_value = excluded.peak_value, marks = excluded.marks, market = excluded.market, risk = excluded.risk"
)
SELECT_STEP = "SELECT step, timestamp_ms, last_seq, peak_value, marks, market, risk FROM steps WHERE bot = ?"
SELECT_LAST_SEQ = "SELECT COALESCE(MAX(seq), 0) FROM fills WHERE bot = ?"
SELECT_BOTS = "SELECT bot FROM accounts ORDER BY bot"


def select_fills(since_ms: bool, symbol: bool, limit: bool) -> str:
    """Fills of a bot after a ``seq``, oldest first, optionally from a market time, of one underlying, paged."""
    where = "bot = ? AND seq > ?"
    if since_ms:
        where += " AND timestamp_ms >= ?"
    if symbol:
        where += " AND underlying = ?"
    # constant fragments only: every value is a bound parameter
    return f"SELECT {FILL_COLUMNS} FROM fills WHERE {where} ORDER BY seq" + (" LIMIT ?" if limit else "")  # noqa: S608
