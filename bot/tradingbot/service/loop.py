"""The trading loop: one step at a time in a worker thread, the HTTP endpoints beside it, a clean stop.

Only the worker thread touches the trader: it steps, flushes the journal and takes the
:class:`~tradingbot.snapshot.Snapshot` that metrics, ``/status`` and the progress lines are made of.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import torch

from tradingbot.books.journal import JournalError, read_fills
from tradingbot.config import Settings
from tradingbot.env.actions import HOLD
from tradingbot.market.source import FeedError, ReplayFinishedError
from tradingbot.service.control import SuspendSwitch
from tradingbot.service.metrics import BotMetrics
from tradingbot.service.progress import RunSummary, log_details, log_progress, log_start, summarize
from tradingbot.service.server import make_app, serving
from tradingbot.service.status import BotStatus, status_document
from tradingbot.snapshot import Snapshot, snapshot
from tradingbot.trader import TickReport, Trader

log = logging.getLogger("tradingbot")
MIRROR_DRAIN_S = 10.0
"""At shutdown, how long queued S3 uploads may take before the bot exits anyway (seconds)."""
PUBLISH_INTERVAL_S = 0.25
"""The least time between two reports (journal commit, metrics, ``/status``) while the loop runs: it reports
after the first step this long after the last report, and at every checkpoint (seconds)."""


def trade_pages(trader: Trader) -> Callable[[int, int], list[dict[str, Any]]] | None:
    """``/trades``' reader: a page of the journal, through a connection of its own (``None`` without one)."""
    books = trader.books
    if books is None:
        return None
    journal = books.journal

    def page(after: int, limit: int) -> list[dict[str, Any]]:
        try:
            reader = journal.backend.reader()
        except journal.backend.errors as error:
            raise JournalError(f"{journal.description}: {type(error).__name__}") from error
        try:
            return [fill.as_dict() for fill in read_fills(reader, journal.bot, after, limit)]
        finally:
            if reader is not journal.backend:
                reader.close()

    return page


def _single_threaded_torch() -> None:
    """Run PyTorch single-threaded in the trading worker. Its batch-1 recurrent steps gain nothing from
    intra-op threads, and a second OpenMP team started from a worker thread made a PPO update 2.5x slower
    on a 2-core machine (measured: 138 ms at 1 thread against 500 ms at 2)."""
    torch.set_num_threads(1)


def _durable_snapshot(trader: Trader) -> tuple[bool, Snapshot]:
    """Commit the booked steps, then picture the trader (on its worker thread); whether they are durable."""
    durable = trader.flush()
    return durable, snapshot(trader)


class _Published:
    """The latest status the loop published; handlers read it, only the loop replaces it."""

    def __init__(self, started: float, document: dict[str, Any], state: Snapshot) -> None:
        self.started = started
        self.document = document
        self.state = state
        self.heartbeat: float | None = None
        self.last_checkpoint: float | None = None

    def publish(self, settings: Settings, state: Snapshot, report: TickReport, now: float) -> None:
        """The ``/status`` document of the account as the journal holds it (after a flush)."""
        self.state = state
        if report.checkpoint is not None:
            self.last_checkpoint = now
        self.document = status_document(settings, state, report.actions, self.last_checkpoint)

    def status(self) -> BotStatus:
        feed = self.state.feed
        connected, last_data = (True, self.heartbeat) if feed is None else (feed.connected, feed.last_event_unix)
        blocked = self.state.books_blocked
        return BotStatus(
            self.started,
            self.heartbeat,
            last_data,
            connected,
            document=self.document,
            trading_blocked=None if blocked is None else f"trade journal refuses writes: {blocked}",
            data_problems=self.state.data_problems,
        )


async def run_bot(settings: Settings, trader: Trader, stop: asyncio.Event) -> RunSummary:
    """Trade until ``stop`` is set or ``max_steps`` steps are done, serving the HTTP endpoints meanwhile.

    Each step runs in a worker thread, so training never starves the probes; the in-flight step always
    completes, and a learning trader writes a final checkpoint before the server closes.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="trader", initializer=_single_threaded_torch) as worker:
        loop = asyncio.get_running_loop()
        try:
            first = await loop.run_in_executor(worker, snapshot, trader)
            metrics = BotMetrics(settings.symbols, first.portfolio.trades)
            published = _Published(
                time.time(), status_document(settings, first, [HOLD] * len(settings.symbols), None), first
            )
            stall_s = max(settings.health_stall_s, 3 * settings.seconds_between_steps)
            app = make_app(published.status, metrics, stall_s, settings.max_data_age_s, trades=trade_pages(trader))
            async with serving(app, settings.http_host, settings.http_port) as port:
                log.info("serving /health /ready /status /metrics /trades on %s:%d", settings.http_host, port)
                return await _trade(settings, trader, stop, metrics, published, worker)
        finally:
            await loop.run_in_executor(worker, trader.close, MIRROR_DRAIN_S)


async def _report(
    settings: Settings,
    trader: Trader,
    metrics: BotMetrics,
    published: _Published,
    worker: ThreadPoolExecutor,
    unreported: list[tuple[TickReport, float]],
    now: float,
) -> Snapshot:
    """Report the steps since the last report, once the journal made them durable: metrics, fills at
    DEBUG, checkpoints, the ``/status`` document; the snapshot they were made of. Steps the journal
    refused were undone: their fills are not logged (they did not happen)."""
    durable, state = await asyncio.get_running_loop().run_in_executor(worker, _durable_snapshot, trader)
    for report, seconds in unreported:
        info = report.result.info
        metrics.record_step(report.actions, info, report.result.reward, seconds, now)
        if state.feed is None:
            metrics.record_simulated_data(len(state.symbols) - len(info.stale_symbols), now)
        if report.metrics is not None:
            metrics.record_update(report.metrics)
        if report.checkpoint is not None:
            metrics.record_checkpoint(now)
            log.info("checkpoint saved: %s", report.checkpoint)
        if durable:
            log_details(report)
    metrics.record_state(state)
    published.publish(settings, state, unreported[-1][0], now)
    unreported.clear()
    return state


async def _trade(
    settings: Settings,
    trader: Trader,
    stop: asyncio.Event,
    metrics: BotMetrics,
    published: _Published,
    worker: ThreadPoolExecutor,
) -> RunSummary:
    log_start(settings, published.state)
    loop = asyncio.get_running_loop()
    reward_total = 0.0
    steps = 0
    report: TickReport | None = None
    unreported: list[tuple[TickReport, float]] = []
    next_report = 0.0
    next_log = time.monotonic() + settings.log_interval_s
    switch = SuspendSwitch(settings.suspend, settings.control_dir)
    feed_failure: FeedError | None = None
    ended = "max steps reached"
    while not stop.is_set() and (settings.max_steps == 0 or steps < settings.max_steps):
        trader.env.suspended = switch.poll(time.monotonic())  # the worker is idle between ticks
        started = time.perf_counter()
        try:
            report = await loop.run_in_executor(worker, trader.tick)
        except ReplayFinishedError:
            ended = "the recording is over"
            break
        except FeedError as error:
            feed_failure, ended = error, "the market feed failed"
            break
        now = time.time()
        steps += 1
        reward_total += report.result.reward
        published.heartbeat = now
        unreported.append((report, time.perf_counter() - started))
        if now >= next_report or report.checkpoint is not None:
            state = await _report(settings, trader, metrics, published, worker, unreported, now)
            next_report = now + PUBLISH_INTERVAL_S
            if time.monotonic() >= next_log:
                log_progress(state, report)
                next_log = time.monotonic() + settings.log_interval_s
        await asyncio.sleep(settings.seconds_between_steps)

    if unreported:
        await _report(settings, trader, metrics, published, worker, unreported, time.time())
    if report is not None:
        log_progress(published.state, report)
    final = await loop.run_in_executor(worker, trader.finish)
    if final is not None:
        metrics.record_checkpoint(time.time())
        log.info("final checkpoint saved: %s", final)
    end = await loop.run_in_executor(worker, snapshot, trader)
    summary = summarize(end, steps, reward_total, stop.is_set(), final, ended)
    if feed_failure is not None:
        raise feed_failure
    return summary
