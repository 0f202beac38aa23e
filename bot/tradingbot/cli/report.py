"""``tradingbot report``: a trade journal as a self-contained HTML page."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tradingbot.cli.settings import journal_of


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The journal, whose account, and the page's file."""
    parser.add_argument("--journal", help="the journal: a SQLite file or a postgresql:// URL [env JOURNAL]")
    parser.add_argument("--bot", help="whose account (needed when the journal holds several bots)")
    parser.add_argument("--out", type=Path, default=Path("report.html"), help="the HTML file (default report.html)")


def run(args: argparse.Namespace) -> int:
    """Write the page; a journal that cannot be read, or a page that cannot be written, is exit 2 on stderr."""
    target = journal_of(args, "report")
    if target is None:
        return 2
    from tradingbot.books.history import load_fills  # noqa: PLC0415 - heavy imports after parsing
    from tradingbot.books.journal import JournalError  # noqa: PLC0415
    from tradingbot.reports.trading import journal_data, render  # noqa: PLC0415

    try:
        bot, opening, fills = load_fills(target, args.bot)
    except JournalError as error:
        print(f"tradingbot report: {error}", file=sys.stderr)
        return 2
    data = journal_data(opening, [f.fill for f in fills], bot)
    try:
        args.out.write_text(render(data), encoding="utf-8")
    except OSError as error:
        print(f"tradingbot report: cannot write {args.out}: {error}", file=sys.stderr)
        return 2
    print(f"report written: {args.out} ({len(fills)} fills)")
    return 0
