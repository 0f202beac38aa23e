"""Market sources over Massive data: live (:class:`MassiveSource`) and replayed (:class:`ReplaySource`).

Both fold the same decoded events into a :class:`FeedState` and build each decision's snapshot the
same way (:func:`build_snapshot`), so a replay of a recorded session reproduces it exactly. A symbol
without a quote yet, or with old data, yields a snapshot the environment marks untradable: the bot
never trades on stale data.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp

from tradingbot.market.clock import eastern
from tradingbot.market.massive.chain import build_chain, nearest_contracts, parse_snapshot
from tradingbot.market.massive.recording import Recorder, read_recording
from tradingbot.market.massive.rest import MassiveRest, MassiveRestError, RestConfig
from tradingbot.market.massive.stream import FeedState, MassiveAuthError, MassiveRealtimeStream, StreamConfig
from tradingbot.market.massive.wire import FrameDecoder
from tradingbot.market.quality import DataRules, quote_problem
from tradingbot.market.types import MarketSnapshot, OptionContract, StockQuote, SymbolSnapshot

log = logging.getLogger("tradingbot.massive")


@dataclass(frozen=True)
class ChainBase:
    """A parsed REST chain snapshot: the epoch ms it was taken, and when it arrived (arrival clock, s)."""

    contracts: list[tuple[OptionContract, dict[str, float]]]
    taken_ms: int
    arrived: float


MAX_EXPIRY_DAYS = 45
STRIKE_BAND = 0.2
MAX_OPTION_QUOTES = 1000
WARMUP_BARS = 391
"""Minute bars fetched at start to warm up the price features (they look back one 390-minute session)."""
WARMUP_LOOKBACK_MS = 5 * 24 * 3600 * 1000  # enough calendar time for a session of bars over a weekend


class FeedError(Exception):
    """The market feed cannot start or cannot go on (a refused key, a plan without access)."""


class ReplayFinishedError(Exception):
    """The recording has no more data."""


@dataclass(frozen=True)
class FeedStatus:
    """For ``/ready`` and ``/status``: whether the feed is up, and its newest data (wall-clock seconds)."""

    connected: bool
    last_event_unix: float | None
    reconnects: int
    detail: dict[str, Any]


def build_snapshot(
    symbols: tuple[str, ...],
    state: FeedState,
    chains: dict[str, ChainBase],
    now_ms: int,
    arrival_now: float,
    rules: DataRules,
) -> MarketSnapshot:
    """The market at ``now_ms`` (epoch ms) from the feed's newest data and chain snapshots.

    Ages are by arrival (``arrival_now`` on the feed's arrival clock). A live option quote replaces the
    snapshot's only while it is fresh by arrival and not stamped beyond the future tolerance; whether a
    quote is valid is the environment's to judge, so one-sided or crossed quotes come through as they are.
    """
    with state.lock:
        stock_quotes = dict(state.stock_quotes)
        stock_trades = dict(state.stock_trades)
        option_quotes = dict(state.option_quotes)
        arrived = dict(state.arrived)
    latest_ms = now_ms + rules.future_tolerance_s * 1000
    live = {
        ticker: quote
        for ticker, quote in option_quotes.items()
        if arrival_now - arrived.get(ticker, -math.inf) <= rules.max_data_age_s and quote.timestamp_ms <= latest_ms
    }
    out = {}
    for symbol in symbols:
        quote = stock_quotes.get(symbol) or StockQuote(symbol, math.nan, 0, math.nan, 0, 1)
        base = chains.get(symbol) or ChainBase([], 0, -math.inf)
        chain = build_chain(symbol, base.contracts, base.taken_ms, live, quote.mid, now_ms)
        quote_age = arrival_now - arrived[symbol] if symbol in arrived else math.nan
        out[symbol] = SymbolSnapshot(quote, stock_trades.get(symbol), chain, quote_age, arrival_now - base.arrived)
    return MarketSnapshot(now_ms, out)


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


class ReplaySource:
    """A recorded session, replayed through the live decoding path in recorded time.

    Each :meth:`advance` moves the clock ``step_s`` seconds of recorded time and applies every entry
    up to it; with ``speed`` > 0 it also waits the recorded time divided by ``speed``. The same file
    and settings always give the same snapshots.
    """

    def __init__(
        self,
        path: Path,
        symbols: tuple[str, ...],
        step_s: float = 60.0,
        speed: float = 0.0,
        sleep: Callable[[float], None] = time.sleep,
        rules: DataRules | None = None,
    ) -> None:
        self._symbols = symbols
        self.rules = rules or DataRules()
        self.step_ms = int(step_s * 1000)
        self.speed = speed
        self._sleep = sleep
        self.state = FeedState()
        self.chains: dict[str, ChainBase] = {}
        self._decoders = {"stocks": FrameDecoder("stocks"), "options": FrameDecoder("options")}
        try:
            self._entries: Iterator[dict[str, Any]] = read_recording(path)
            self._pending = next(self._entries, None)
        except OSError as error:  # missing, unreadable, or not gzip
            raise FeedError(f"cannot read the recording {path}: {error}") from None
        if self._pending is None:
            raise FeedError(f"{path} holds no recorded market data")
        self.clock_ms = self._pending["t"]
        self._apply_until(self.clock_ms)
        self._replayed_unix: float | None = time.time()

    @property
    def symbols(self) -> tuple[str, ...]:
        return self._symbols

    def current(self) -> MarketSnapshot:
        return build_snapshot(self._symbols, self.state, self.chains, self.clock_ms, self.clock_ms / 1000, self.rules)

    def advance(self) -> MarketSnapshot:
        if self._pending is None:
            raise ReplayFinishedError("the recording is over")
        self.state.take_trades()
        target = self.clock_ms + self.step_ms
        if self.speed > 0:
            self._sleep(self.step_ms / 1000 / self.speed)
        self._apply_until(target)
        self.clock_ms = target
        self._replayed_unix = time.time()
        return self.current()

    def status(self) -> FeedStatus:
        """Connected while data remains; data times are when it was replayed (wall clock)."""
        return FeedStatus(
            self._pending is not None,
            self._replayed_unix,
            0,
            {"events": self.state.event_counts(), "recorded_ms": self.clock_ms},
        )

    def close(self) -> None:
        """Nothing to release (the file is read lazily and closed at its end)."""

    def _apply_until(self, target_ms: int) -> None:
        while self._pending is not None and self._pending["t"] <= target_ms:
            entry = self._pending
            cluster = entry.get("c")
            if cluster in self._decoders and isinstance(entry.get("f"), str):
                events = self._decoders[cluster].decode(entry["f"])
                self.state.apply(events, 100_000, entry["t"] / 1000, arrival=entry["t"] / 1000)
            elif cluster == "rest" and isinstance(entry.get("u"), str) and isinstance(entry.get("b"), list):
                self.chains[entry["u"]] = ChainBase(
                    parse_snapshot(entry["u"], entry["b"]), entry["t"], entry["t"] / 1000
                )
            self._pending = next(self._entries, None)
