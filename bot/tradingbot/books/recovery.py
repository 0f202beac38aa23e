"""The account rebuilt from its journal: the opening, then every fill in order, through the same
:meth:`Portfolio.apply` that booked them live, so the result equals the live account to the last bit."""

from __future__ import annotations

from collections.abc import Iterable

from tradingbot.books.journal import JournalFill, LastStep, Opening
from tradingbot.env.portfolio import FeeSchedule, Portfolio


def rebuild(opening: Opening, fills: Iterable[JournalFill], last: LastStep | None, fees: FeeSchedule) -> Portfolio:
    """The account after ``fills`` (oldest first), with the last step's marks and high-water mark."""
    book = Portfolio.from_snapshot(opening.snapshot, fees)
    expected = 0
    for entry in fills:
        expected += 1
        if entry.seq != expected:
            raise ValueError(f"the journal's fills skip from {expected - 1} to {entry.seq}")
        book.apply(entry.fill)
    if last is not None:
        if last.last_seq != expected:
            raise ValueError(f"the journal's last step ends at fill {last.last_seq}, its fills at {expected}")
        for ticker, mark in last.marks.items():
            if ticker in book.positions:
                book.positions[ticker].mark = mark
        book.peak_value = max(book.peak_value, last.peak_value)
    return book
