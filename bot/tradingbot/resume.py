"""Where a starting bot's paper account and simulated market continue from.

The trade journal is the book of record: when it knows this bot, the account is rebuilt from it exactly
(every fill since the account opened, so positions opened after the newest checkpoint are kept), and
the simulated market continues from the state booked with the journal's last step, or from the
checkpoint's when that is newer. The learning state comes from the newest checkpoint and may be older
than the books: the steps after it are traded and booked, but not learned from again.

A journal that does not know the bot (a new volume, a checkpoint restored from S3) opens the account
from the checkpoint's open book and totals, and says so; without either the account opens fresh.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from tradingbot.agent.checkpoint import Checkpoint
from tradingbot.books.journal import Journal
from tradingbot.books.recovery import rebuild
from tradingbot.env.portfolio import FeeSchedule, Portfolio

log = logging.getLogger("tradingbot")


@dataclass(frozen=True)
class Books:
    """The account to trade on, the step it stands at, and the simulated market's state to continue."""

    portfolio: Portfolio
    step: int
    market: dict[str, Any] | None
    risk: dict[str, Any] | None = None
    """The risk protections' state booked with the journal's last step."""


def open_books(journal: Journal, checkpoint: Checkpoint | None, initial_capital: float, fees: FeeSchedule) -> Books:
    """The account from ``journal`` (else from ``checkpoint``, else fresh), its step and market."""
    opening = journal.opening()
    if opening is not None:
        started = time.perf_counter()
        last = journal.last_step()
        portfolio = rebuild(opening, journal.all_fills(), last, fees)
        step, market = (last.step, last.market) if last is not None else (0, None)
        if checkpoint is not None and checkpoint.step > step:
            step, market = checkpoint.step, checkpoint.market
        log.info(
            "books from %s: %d fills replayed in %.2f s, cash $%s, %d positions, %d trades",
            journal.description,
            journal.last_seq,
            time.perf_counter() - started,
            f"{portfolio.cash:,.2f}",
            len(portfolio.positions),
            portfolio.trades,
        )
        if opening.initial_cash != initial_capital:
            log.warning(
                "INITIAL_CAPITAL is $%s but this account opened with $%s: the account goes on (P&L is "
                "against its opening); point JOURNAL elsewhere to open a new one",
                f"{initial_capital:,.2f}",
                f"{opening.initial_cash:,.2f}",
            )
        return Books(portfolio, step, market, last.risk if last is not None else None)
    if checkpoint is not None and checkpoint.portfolio:
        snapshot = {k: v for k, v in checkpoint.portfolio.items() if k != "fills"}
        portfolio = Portfolio.from_snapshot(snapshot, fees)
        journal.open_account(portfolio.snapshot())
        log.warning(
            "%s has no account for this bot: it opens with checkpoint step %d's open positions and totals "
            "(the trades before it are not in this journal)",
            journal.description,
            checkpoint.step,
        )
        return Books(portfolio, checkpoint.step, checkpoint.market)
    portfolio = Portfolio(initial_capital, fees)
    journal.open_account(portfolio.snapshot())
    return Books(portfolio, 0, None)
