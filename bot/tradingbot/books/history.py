"""``tradingbot trades``: a bot's fills from its trade journal, as a table, CSV or JSON."""

from __future__ import annotations

import csv
import json
from datetime import datetime, time
from typing import TextIO

from tradingbot.books.journal import JournalError, JournalFill, bots_in, open_reader, opening_cash, read_fills
from tradingbot.market.clock import EASTERN, eastern

COLUMNS = (
    "seq",
    "time_et",
    "step",
    "kind",
    "quantity",
    "ticker",
    "price",
    "fees",
    "cash_delta",
    "realized_pnl",
    "price_source",
)


def since_ms(text: str) -> int:
    """Epoch ms of ``YYYY-MM-DD`` (midnight US/Eastern) or an ISO time (US/Eastern unless it says)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--since takes YYYY-MM-DD or an ISO time, got {text!r}") from None
    if len(text) == 10:
        moment = datetime.combine(moment.date(), time(0, 0))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=EASTERN)
    return int(moment.timestamp() * 1000)


def _row(entry: JournalFill) -> dict[str, object]:
    fill = entry.fill
    return {
        "seq": entry.seq,
        "time_et": f"{eastern(fill.timestamp_ms):%Y-%m-%d %H:%M}",
        "step": entry.step,
        "kind": fill.kind,
        "quantity": fill.quantity,
        "ticker": fill.ticker,
        "price": f"{fill.price:.2f}",
        "fees": f"{fill.commission + fill.fees:.2f}",
        "cash_delta": f"{fill.cash_delta:.2f}",
        "realized_pnl": f"{fill.realized_pnl:.2f}",
        "price_source": fill.price_source,
    }


def write_trades(fills: list[JournalFill], fmt: str, out: TextIO) -> None:
    """Write ``fills`` as ``table``, ``csv`` or ``json`` (JSON keeps every figure unrounded)."""
    if fmt == "json":
        json.dump([f.as_dict() for f in fills], out, indent=1)
        out.write("\n")
        return
    rows = [_row(f) for f in fills]
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return
    widths = {c: max([len(c), *(len(str(r[c])) for r in rows)]) for c in COLUMNS}
    numeric = {"seq", "step", "quantity", "price", "fees", "cash_delta", "realized_pnl"}

    def line(values: dict[str, object]) -> str:
        cells = [str(values[c]).rjust(widths[c]) if c in numeric else str(values[c]).ljust(widths[c]) for c in COLUMNS]
        return "  ".join(cells).rstrip()

    out.write(line({c: c for c in COLUMNS}) + "\n")
    for row in rows:
        out.write(line(row) + "\n")


def load_fills(
    target: str,
    bot: str | None,
    limit: int | None = None,
    since: int | None = None,
    symbol: str | None = None,
) -> tuple[str, float, list[JournalFill]]:
    """The bot (``bot``, or the journal's only one), its opening cash (USD) and its fills in the journal at
    ``target``; :class:`JournalError` when it cannot be read or the bot is ambiguous."""
    backend = open_reader(target)
    try:
        bots = bots_in(backend)
        chosen = bot or (bots[0] if len(bots) == 1 else None)
        if chosen is None or chosen not in bots:
            known = ", ".join(bots) or "none"
            raise JournalError(f"name the bot with --bot (this journal holds: {known})")
        return chosen, opening_cash(backend, chosen), read_fills(backend, chosen, 0, limit, since, symbol)
    finally:
        backend.close()
