"""Live Massive data as a market source (:class:`MassiveSource`): the WebSocket stream and periodic REST
chain snapshots on a thread of their own.

Decoded events fold into a :class:`FeedState`, and each decision's snapshot is built the way a replay
builds it (:func:`~tradingbot.market.massive.snapshots.build_snapshot`). A symbol
without a quote yet, or with old data, yields a snapshot the environment marks untradable: the bot
never trades on stale data.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import aiohttp

from tradingbot.market.clock import eastern
from tradingbot.market.massive.chain import nearest_contracts, parse_snapshot
from tradingbot.market.massive.recording import Recorder
from tradingbot.market.massive.rest import MassiveRest, MassiveRestError, RestConfig
from tradingbot.market.massive.snapshots import ChainBase, build_snapshot
from tradingbot.market.massive.stream import MassiveAuthError, MassiveRealtimeStream, StreamConfig
from tradingbot.market.quality import DataRules, quote_problem
from tradingbot.market.source import FeedError, FeedStatus
from tradingbot.market.types import MarketSnapshot

log = logging.getLogger("tradingbot.massive")


MAX_EXPIRY_DAYS = 45
STRIKE_BAND = 0.2
MAX_OPTION_QUOTES = 1000
WARMUP_BARS = 391
"""Minute bars fetched at start to warm up the price features (they look back one 390-minute session)."""
WARMUP_LOOKBACK_MS = 5 * 24 * 3600 * 1000  # enough calendar time for a session of bars over a weekend


class MassiveSource:
    """Live Massive data for ``symbols``: the stream and the periodic chain snapshots on a thread of their own."""

    def __init__(
        self,
        symbols: tuple[str, ...],
        api_key: str,
        stream: StreamConfig,
        rest: RestConfig,
        chain_refresh_s: float = 60.0,
        recorder: Recorder | None = None,
        clock: Callable[[], float] = time.time,
        rules: DataRules | None = None,
        arrival_clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``clock``: wall-clock seconds (decision times); ``arrival_clock``: when data arrives (monotonic)."""
        self._symbols = symbols
        self.rules = rules or DataRules()
        self._arrival = arrival_clock
        self._key = api_key
        self._rest_config = rest
        self.chain_refresh_s = chain_refresh_s
        self.recorder = recorder
        self._clock = clock
        self.stream = MassiveRealtimeStream(api_key, stream, recorder.frame if recorder is not None else None)
        self.chains: dict[str, ChainBase] = {}
        self.history: dict[str, list[tuple[int, float]]] = {}
        """Minute closes (epoch ms, USD) before the start, per symbol, for the environment's warm-up."""
        self.fatal: str | None = None
        self.rest_failures = 0
        self.last_chain_error: str | None = None
        self.trades_seen = 0
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._thread = threading.Thread(target=self._run, name="massive-feed", daemon=True)

    @property
    def symbols(self) -> tuple[str, ...]:
        return self._symbols

    def start(self, timeout_s: float = 30.0) -> None:
        """Connect and load the first chains; :class:`FeedError` on a refused key (a clear start error)."""
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._ready.wait(0.1):
            if self.fatal is not None:
                raise FeedError(self.fatal)
            if time.monotonic() > deadline:
                log.warning("Massive feed not complete after %.0f s; trading waits for data", timeout_s)
                return
        if self.fatal is not None:
            raise FeedError(self.fatal)

    def current(self) -> MarketSnapshot:
        now_ms = int(self._clock() * 1000)
        return build_snapshot(self._symbols, self.stream.state, dict(self.chains), now_ms, self._arrival(), self.rules)

    def advance(self) -> MarketSnapshot:
        """The newest data (live time moves by itself; ``STEP_INTERVAL`` paces the decisions)."""
        if self.fatal is not None:
            raise FeedError(self.fatal)
        self.trades_seen += len(self.stream.state.take_trades())  # the tape is consumed once per decision
        return self.current()

    def status(self) -> FeedStatus:
        state = self.stream.state
        stats = {c.cluster: c.decoder.stats for c in (self.stream.stocks, self.stream.options)}
        return FeedStatus(
            connected=self.stream.connected and self.fatal is None,
            last_event_unix=state.last_event_unix,
            reconnects=state.reconnects,
            detail={
                "last_disconnect": state.last_disconnect,
                "events": state.event_counts(),
                "trades_dropped": state.trades_dropped,
                "malformed_frames": sum(s.malformed_frames for s in stats.values()),
                "unknown_events": sum(s.unknown_events for s in stats.values()),
                "invalid_events": sum(s.invalid_events for s in stats.values()),
                "chain_refresh_failures": self.rest_failures,
                "last_chain_error": self.last_chain_error,
                "unsubscribed_dropped": state.unsubscribed_dropped,
                "error": self.fatal,
                "recording": None
                if self.recorder is None
                else {"entries": self.recorder.entries, "failed": self.recorder.failed},
            },
        )

    def close(self) -> None:
        """Stop the feed's thread (it may have stopped already: after a fatal error its loop is closed)."""
        loop, task = self._loop, self._task
        if loop is not None and task is not None and self._thread.is_alive():
            try:
                loop.call_soon_threadsafe(task.cancel)
            except RuntimeError:  # the loop closed between the check and the call: the thread is ending anyway
                log.debug("the feed's loop closed while stopping it")
        self._thread.join(10)
        if self.recorder is not None:
            self.recorder.close()

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        try:
            self._task = self._loop.create_task(self._main())
            self._loop.run_until_complete(self._task)
        except asyncio.CancelledError:
            pass
        except ExceptionGroup:
            if self.fatal is None:
                raise  # not the recorded feed failure: a bug, let it show
        finally:
            self._loop.close()

    async def _main(self) -> None:
        async with aiohttp.ClientSession() as session, asyncio.TaskGroup() as group:
            rest = MassiveRest(self._key, session, self._rest_config)
            group.create_task(self._guard(self.stream.run()))
            group.create_task(self._guard(self._refresh_chains(rest)))

    async def _guard(self, work: Any) -> None:  # noqa: ANN401 - a coroutine
        try:
            await work
        except (MassiveAuthError, MassiveRestError) as error:
            self.fatal = str(error)
            log.info("Massive feed stopped: %s", error)  # the bot stops on it and says so, once, at ERROR
            raise

    async def _refresh_chains(self, rest: MassiveRest) -> None:
        for _ in range(50):  # the first chain's strike band needs a price: wait up to 5 s for quotes
            if all(s in self.stream.state.stock_quotes for s in self._symbols):
                break
            self.stream.subscribe(self._symbols, [])
            await asyncio.sleep(0.1)
        await self._warm_up(rest)
        while True:
            for symbol in self._symbols:
                await self._refresh(rest, symbol)
            contracts: list[str] = []
            share = MAX_OPTION_QUOTES // max(1, len(self._symbols))
            now = self._clock()
            for symbol, base in self.chains.items():
                spot = self._spot(symbol)
                contracts += nearest_contracts(base.contracts, spot, eastern(int(now * 1000)).date(), share)
            self.stream.subscribe(self._symbols, contracts)
            if len(self.chains) == len(self._symbols):
                self._ready.set()
            await asyncio.sleep(self.chain_refresh_s)

    async def _warm_up(self, rest: MassiveRest) -> None:
        now_ms = int(self._clock() * 1000)
        for symbol in self._symbols:
            try:
                bars = await rest.minute_bars(symbol, now_ms - WARMUP_LOOKBACK_MS, now_ms)
                self.history[symbol] = bars[-WARMUP_BARS:]
            except MassiveRestError as error:
                if error.fatal:
                    raise
                log.warning("no warm-up bars for %s (%s): its features start cold", symbol, error)

    async def _refresh(self, rest: MassiveRest, symbol: str) -> None:
        spot = self._spot(symbol)
        today = eastern(int(self._clock() * 1000)).date()
        band = (spot * (1 - STRIKE_BAND), spot * (1 + STRIKE_BAND)) if math.isfinite(spot) else None
        try:
            results = await rest.option_chain(symbol, today + timedelta(days=MAX_EXPIRY_DAYS), band)
        except MassiveRestError as error:
            if error.fatal:
                raise
            self.rest_failures += 1
            self.last_chain_error = f"{symbol}: {error}"
            log.warning("option chain of %s not refreshed (%s); keeping the previous one", symbol, error)
            return
        if self.recorder is not None:
            self.recorder.chain(symbol, results)
        self.chains[symbol] = ChainBase(parse_snapshot(symbol, results), int(self._clock() * 1000), self._arrival())
        self.last_chain_error = None

    def _spot(self, symbol: str) -> float:
        """The underlying's price for strike bands: the mid of a valid quote only (never of a one-sided one)."""
        quote = self.stream.state.stock_quotes.get(symbol)
        if quote is None or quote_problem(quote.bid, quote.ask, self.rules.stock_spread) is not None:
            return math.nan
        return quote.mid
