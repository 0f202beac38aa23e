"""The trading loop: one step at a time in a worker thread, the HTTP endpoints beside it, a clean stop."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import torch

from tradingbot.books.journal import JournalError, read_fills
from tradingbot.config import Settings
from tradingbot.env.actions import HOLD
from tradingbot.market.source import FeedError, FeedStatus, ReplayFinishedError
from tradingbot.service.control import SuspendSwitch
from tradingbot.service.metrics import BotMetrics, Safekeeping
from tradingbot.service.progress import RunSummary, log_details, log_progress, log_start, summarize
from tradingbot.service.server import make_app, serving
from tradingbot.service.status import BotStatus, status_document
from tradingbot.trader import LearningTrader, TickReport, Trader

log = logging.getLogger("tradingbot")
MIRROR_DRAIN_S = 10.0
"""At shutdown, how long queued S3 uploads may take before the bot exits anyway (seconds)."""
PUBLISH_INTERVAL_S = 0.25
"""How often the /status document is rebuilt while the loop runs (seconds)."""


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


def feed_status(trader: Trader) -> FeedStatus | None:
    """The live or replayed feed's status; ``None`` for the simulator (its data is always there)."""
    return trader.env.source.status()


class _Published:
    """The latest status the loop published; handlers read it, only the loop replaces it."""

    def __init__(self, started: float, document: dict[str, Any], feed: Callable[[], FeedStatus | None]) -> None:
        self.started = started
        self.document = document
        self.heartbeat: float | None = None
        self.blocked: str | None = None
        self.last_checkpoint: float | None = None
        self.data_problems: dict[str, str | None] = {}
        self._feed = feed

    def publish(
        self, settings: Settings, trader: Trader, report: TickReport, feed: FeedStatus | None, now: float
    ) -> None:
        """The ``/status`` document of the account as the journal holds it (after a flush)."""
        self.blocked = trader.env.books_blocked
        self.data_problems = trader.env.data_problems()
        if report.checkpoint is not None:
            self.last_checkpoint = now
        self.document = status_document(settings, trader, report.actions, self.last_checkpoint, feed)

    def status(self) -> BotStatus:
        feed = self._feed()
        connected, last_data = (True, self.heartbeat) if feed is None else (feed.connected, feed.last_event_unix)
        blocked = None if self.blocked is None else f"trade journal refuses writes: {self.blocked}"
        return BotStatus(
            self.started, self.heartbeat, last_data, connected, model_loaded=True, document=self.document,
            trading_blocked=blocked,
            data_problems=self.data_problems,
        )  # fmt: skip


async def run_bot(settings: Settings, trader: Trader, stop: asyncio.Event) -> RunSummary:
    """Trade until ``stop`` is set or ``max_steps`` steps are done, serving the HTTP endpoints meanwhile.

    Each step runs in a worker thread, so training never starves the probes; the in-flight step always
    completes, and a learning trader writes a final checkpoint before the server closes.
    """
    metrics = BotMetrics(settings.symbols, trader.env.portfolio.trades)
    if isinstance(trader, LearningTrader):
        metrics.update_frequency.set(settings.update_frequency)
        metrics.device_problem.set(trader.device.problem is not None)
    feed = functools.partial(feed_status, trader)
    published = _Published(
        time.time(), status_document(settings, trader, [HOLD] * len(settings.symbols), None, feed()), feed
    )
    stall_s = max(settings.health_stall_s, 3 * settings.seconds_between_steps)
    app = make_app(published.status, metrics, stall_s, settings.max_data_age_s, trades=trade_pages(trader))
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="trader", initializer=_single_threaded_torch) as worker:
        try:
            async with serving(app, settings.http_host, settings.http_port) as port:
                log.info("serving /health /ready /status /metrics /trades on %s:%d", settings.http_host, port)
                return await _trade(settings, trader, stop, metrics, published, worker)
        finally:
            trader.env.source.close()  # stops a feed's thread, completes a recording
            if trader.books is not None:
                trader.books.journal.close()  # every step is committed already; this folds SQLite's WAL in


def _drain_mirror(trader: Trader) -> None:
    """A bounded last S3 pass; the mirror logs a WARNING for whatever it leaves unmirrored."""
    mirror = trader.store.mirror if isinstance(trader, LearningTrader) and trader.store is not None else None
    if mirror is not None:
        mirror.close(MIRROR_DRAIN_S)


def _record(metrics: BotMetrics, trader: Trader, report: TickReport, seconds: float, now: float) -> FeedStatus | None:
    """One step's metrics: the account, the feed, training and checkpoints; returns the feed's status."""
    info = report.result.info
    metrics.record_step(report.actions, info, report.result.reward, trader.env.portfolio, seconds, now)
    metrics.record_risk(trader.env)
    feed = feed_status(trader)
    if feed is None:
        metrics.record_simulated_data(len(trader.env.symbols) - len(info.stale_symbols), now)
    else:
        metrics.record_feed(feed.detail.get("events", {}), feed.reconnects, feed.last_event_unix)
    if report.metrics is not None:
        metrics.record_update(report.metrics)
    if isinstance(trader, LearningTrader):
        metrics.steps_since_update.set(trader.buffer.fresh_steps)
    if report.checkpoint is not None:
        metrics.record_checkpoint(now)
    metrics.record_safekeeping(safekeeping(trader))
    return feed


def safekeeping(trader: Trader) -> Safekeeping:
    """Where the trader's books and learning state stand (for the metrics)."""
    books = trader.books
    learning = trader if isinstance(trader, LearningTrader) else None
    store = learning.store if learning is not None else None
    return Safekeeping(
        checkpoint_failures=learning.save_failures if learning is not None else 0,
        journal_failures=books.failures if books is not None else 0,
        journal_blocked=trader.env.books_blocked is not None,
        s3=store.mirror.status if store is not None and store.mirror is not None else None,
    )


async def _report(
    settings: Settings,
    trader: Trader,
    metrics: BotMetrics,
    published: _Published,
    worker: ThreadPoolExecutor,
    unreported: list[tuple[TickReport, float]],
    now: float,
) -> None:
    """Report the steps since the last report, once the journal made them durable: metrics, fills at
    DEBUG, checkpoints, the ``/status`` document. Steps the journal refused were undone: their fills are
    not logged (they did not happen)."""
    durable = await asyncio.get_running_loop().run_in_executor(worker, trader.flush)
    feed = None
    for report, seconds in unreported:
        feed = _record(metrics, trader, report, seconds, now)
        if durable:
            log_details(report)
        if report.checkpoint is not None:
            log.info("checkpoint saved: %s", report.checkpoint)
    published.publish(settings, trader, unreported[-1][0], feed, now)
    unreported.clear()


async def _trade(
    settings: Settings,
    trader: Trader,
    stop: asyncio.Event,
    metrics: BotMetrics,
    published: _Published,
    worker: ThreadPoolExecutor,
) -> RunSummary:
    log_start(settings, trader)
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
            await _report(settings, trader, metrics, published, worker, unreported, now)
            next_report = now + PUBLISH_INTERVAL_S
            if time.monotonic() >= next_log:
                log_progress(trader, report)
                next_log = time.monotonic() + settings.log_interval_s
        await asyncio.sleep(settings.seconds_between_steps)

    if unreported:
        await _report(settings, trader, metrics, published, worker, unreported, time.time())
    if report is not None:
        log_progress(trader, report)
    final = await loop.run_in_executor(worker, trader.finish)
    if final is not None:
        metrics.record_checkpoint(time.time())
        log.info("final checkpoint saved: %s", final)
    _drain_mirror(trader)
    summary = summarize(settings, trader, steps, reward_total, stop.is_set(), final, ended)
    if feed_failure is not None:
        raise feed_failure
    return summary
