"""``tradingbot trades``: a bot's fills from its trade journal, oldest first."""

from __future__ import annotations

import argparse
import io
import sys

from tradingbot.cli.settings import journal_of


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The journal, whose fills, the format and the filters."""
    parser.add_argument("--journal", help="the journal: a SQLite file or a postgresql:// URL [env JOURNAL]")
    parser.add_argument("--bot", help="whose fills (needed when the journal holds several bots)")
    parser.add_argument("--format", choices=("table", "csv", "json"), default="table")
    parser.add_argument("--since", help="fills from this market time on: YYYY-MM-DD or an ISO time (US/Eastern)")
    parser.add_argument("--symbol", help="fills on this underlying only, e.g. SPY")
    parser.add_argument("--limit", type=int, help="at most this many fills")


def run(args: argparse.Namespace) -> int:
    """The fills on stdout; a journal that cannot be read, or a bad filter, is exit 2 with a message."""
    target = journal_of(args, "trades")
    if target is None:
        return 2
    from tradingbot.books.history import load_fills, since_ms, write_trades  # noqa: PLC0415 - after parsing
    from tradingbot.books.journal import JournalError  # noqa: PLC0415

    try:
        start = since_ms(args.since) if args.since else None
        _, _, fills = load_fills(target, args.bot, args.limit, start, args.symbol)
    except (JournalError, ValueError) as error:
        print(f"tradingbot trades: {error}", file=sys.stderr)
        return 2
    buffer = io.StringIO()  # written whole: a journal error midway prints nothing half-done
    write_trades(fills, args.format, buffer)
    sys.stdout.write(buffer.getvalue())
    return 0
