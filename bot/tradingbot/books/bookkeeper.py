"""Books every step of the paper account in the journal, and nothing is reported before it is durable.

Each step's fills (buys, sells, settlements) are collected as they happen; :meth:`Bookkeeper.flush`
writes them with where the account and the market stand after them in one transaction and commits it
(one fsync for all), and the trading loop calls it before it reports anything (``/status``, metrics,
logs): after the first step at least 0.25 s after its last report, at each checkpoint and at shutdown.
A flush when nothing changed writes nothing.
A crash loses at most the steps since the last flush, which nothing reported, and the restarted bot
rebuilds exactly what the journal holds.

A write or commit that fails (a full or broken volume, a lost database) undoes every step since the
last flush: their fills did not happen. The account goes back to its last durable state, nothing trades
while the journal refuses writes, and each flush tries again; the first that succeeds lifts the block.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from tradingbot.books.journal import AccountState, Journal, JournalError
from tradingbot.env.paper import PaperTradingEnvironment, StepResult
from tradingbot.env.portfolio import Fill

log = logging.getLogger("tradingbot.books")


class Bookkeeper:
    """The link between one environment's account and its journal."""

    def __init__(
        self,
        journal: Journal,
        env: PaperTradingEnvironment,
        market_state: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        """``market_state``: the simulated market's state, booked with each step (``None`` for live data)."""
        self.journal = journal
        self.env = env
        self.failures = 0
        self.last_error: str | None = None
        self._market_state = market_state
        self._booked_peak = env.portfolio.peak_value
        self._booked_risk = self._risk_key()
        self._durable = env.portfolio.copy()
        self._last_step = 0
        self._unwritten: list[tuple[int, tuple[Fill, ...]]] = []
        """(step, fills) since the last flush."""
        self._pending = False
        """The account changed (a fill, a new high-water mark) since the last flush."""

    @property
    def blocked(self) -> bool:
        """Whether the journal refuses writes now (nothing trades)."""
        return self.env.books_blocked is not None

    def book(self, step: int, result: StepResult) -> None:
        """Take ``result``'s fills (the step just taken) for the next flush."""
        self._last_step = step
        if result.info.fills:
            self._unwritten.append((step, result.info.fills))
        if (
            result.info.fills
            or self.env.portfolio.peak_value != self._booked_peak
            or self._risk_key() != self._booked_risk
        ):
            self._pending = True

    def flush(self, force: bool = False) -> bool:
        """Write where the account stands and commit everything since the last flush, if anything changed
        (or ``force``: before a checkpoint, and while blocked to try the journal again); whether every step
        booked so far is durable now."""
        if not (self._pending or force or self.blocked):
            return True
        portfolio = self.env.portfolio
        state = AccountState(
            step=self._last_step,
            timestamp_ms=self.env.snapshot.timestamp_ms,
            peak_value=portfolio.peak_value,
            marks={ticker: position.mark for ticker, position in portfolio.positions.items()},
            market=self._market_state() if self._market_state is not None else None,
            risk=self.env.risk.state.as_dict(),
        )
        try:
            for step, fills in self._unwritten:
                self.journal.write_fills(step, fills)
            self.journal.write_state(state)
            self.journal.commit()
        except JournalError as error:
            self._fail(error)
            return False
        self._unwritten.clear()
        self._pending = False
        self._booked_peak = portfolio.peak_value
        self._booked_risk = self._risk_key()
        self._durable = portfolio.copy()
        if self.blocked:
            log.warning("the journal takes writes again at step %d: trading resumes", self._last_step)
            self.env.books_blocked = None
        self.last_error = None
        return True

    def _risk_key(self) -> tuple[int, bool, int, float]:
        """What of the risk protections' state must not be lost: the session, a tripped daily limit, a halt
        and the session's high (written when one changes; the equity in between follows the fills)."""
        state = self.env.risk.state
        return (state.session, state.daily_stopped, state.halted_until, state.peaks[-1][1] if state.peaks else 0.0)

    def _fail(self, error: JournalError) -> None:
        """Undo every step since the last flush and stop trading until the journal takes writes."""
        self.journal.rollback()
        self._unwritten.clear()
        self.failures += 1
        self.last_error = str(error)
        self._pending = False
        if not self.blocked:
            log.error(
                "cannot book step %d, so the steps since the last commit did not trade; trading pauses until "
                "the journal takes writes again: %s",
                self._last_step,
                error,
            )
        self.env.roll_back(self._durable.copy(), str(error))
