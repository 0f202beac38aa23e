"""``MassiveRealtimeStream``: Massive's real-time WebSocket feed for stocks and options, into :class:`FeedState`.

One :class:`ClusterConnection` per cluster connects, authenticates, subscribes and reads. Frames are
decoded as they arrive (:mod:`massive_wire`, about 2 million events per second) and applied to the
shared state: quotes coalesce to the latest per symbol or contract, so a slow consumer never makes the
socket wait; every trade goes to a bounded buffer whose overflow is counted and logged, never silent.

Every failure of a connection (refused, reset, protocol error, a silent stall caught by WebSocket
pings) reconnects with capped, jittered exponential backoff and restores the subscriptions.
``auth_failed`` is fatal: :class:`MassiveAuthError`, never retried. ``max_connections`` (another
session with the same key) backs off at least a minute. The API key is sent only in the auth message
and appears in no log, error or status.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, ConnectionClosedOK, InvalidHandshake, InvalidURI

from tradingbot.market.massive.constants import stream_urls
from tradingbot.market.massive.wire import Cluster, Event, FrameDecoder
from tradingbot.market.types import (
    Aggregate,
    OptionQuote,
    OptionTrade,
    Status,
    StockQuote,
    StockTrade,
)
from tradingbot_contract.backoff import Backoff

log = logging.getLogger("tradingbot.massive")
_wire_log = logging.getLogger("tradingbot.massive.wire")
_wire_log.setLevel(logging.INFO)  # websockets logs every frame at DEBUG, the auth frame with the key included
FrameSink = Callable[[Cluster, str], None]


class MassiveAuthError(Exception):
    """Massive refused the API key (or the plan lacks WebSocket access): a configuration error."""


class _EvictedError(Exception):
    """The server ended the session with a status (``max_connections``, ``force_disconnect``, …)."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status


@dataclass(frozen=True)
class StreamConfig:
    """Where and how to connect. Durations in seconds."""

    stocks_url: str = stream_urls()[0]
    options_url: str = stream_urls()[1]
    auth_timeout_s: float = 10.0
    ping_interval_s: float = 20.0
    """WebSocket pings; no pong within ``ping_timeout_s`` means a silent stall: reconnect."""
    ping_timeout_s: float = 20.0
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 60.0
    evicted_backoff_s: float = 60.0
    """Wait at least this long after ``max_connections``: the other session holds the key's slot."""
    max_frame_bytes: int = 16 * 2**20
    subscribe_batch: int = 500
    trade_buffer: int = 100_000
    """Trades kept until the consumer takes them; beyond, the oldest are dropped, counted and logged."""


@dataclass
class FeedState:
    """The newest data of both clusters; written by the stream's loop, read by the trading thread.

    Times are epoch milliseconds; ``last_event_unix`` is wall-clock seconds of the newest data event.
    ``arrived`` holds when each symbol's and contract's newest quote arrived, on the source's arrival
    clock (monotonic seconds live, recorded seconds in a replay). Every map is keyed by a subscribed
    symbol or contract only: events for anything else are dropped and counted as they are folded in,
    and what a subscription change leaves behind is evicted, so a hostile feed cannot grow them.
    """

    stock_quotes: dict[str, StockQuote] = field(default_factory=dict)
    stock_trades: dict[str, StockTrade] = field(default_factory=dict)
    option_quotes: dict[str, OptionQuote] = field(default_factory=dict)
    trades: collections.deque[StockTrade | OptionTrade] = field(default_factory=collections.deque)
    """Every trade of both clusters until a consumer takes them (bounded: overflow is counted and logged)."""
    bars: dict[str, Aggregate] = field(default_factory=dict)
    events: collections.Counter[str] = field(default_factory=collections.Counter)
    trades_dropped: int = 0
    last_event_unix: float | None = None
    connected: dict[str, bool] = field(default_factory=dict)
    reconnects: int = 0
    last_disconnect: str | None = None
    arrived: dict[str, float] = field(default_factory=dict)
    wanted: frozenset[str] | None = None
    """Subscribed symbols and contract tickers (``None``: take everything, as a replay does)."""
    unsubscribed_dropped: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    """Held while a frame is applied and while a reader copies the state (they run on different threads)."""

    def apply(
        self, events: Iterable[Event], trade_buffer: int, now: float, arrival: float | None = None
    ) -> list[Status]:
        """Fold decoded events into the state; returns the statuses among them, for the connection.

        ``now`` is wall-clock seconds, ``arrival`` the arrival clock's reading (default: monotonic now).
        """
        # the hot path: one pass under the lock, exact-type dispatch, counters added once per frame
        stock_quotes, option_quotes, stock_trades = self.stock_quotes, self.option_quotes, self.stock_trades
        arrived, wanted = self.arrived, self.wanted
        at = time.monotonic() if arrival is None else arrival
        trades_append = self.trades.append
        statuses: list[Status] = []
        quotes = trades = aggregates = dropped = 0
        with self.lock:
            for event in events:
                kind = type(event)
                if kind is Status:
                    statuses.append(event)  # type: ignore[arg-type]
                    continue
                key = event.ticker if kind is OptionQuote or kind is OptionTrade else event.symbol  # type: ignore[union-attr]
                if wanted is not None and key not in wanted:
                    dropped += 1
                    continue
                if kind is StockQuote:
                    stock_quotes[key] = event  # type: ignore[assignment]
                    arrived[key] = at
                    quotes += 1
                elif kind is OptionQuote:
                    option_quotes[key] = event  # type: ignore[assignment]
                    arrived[key] = at
                    quotes += 1
                elif kind is StockTrade:
                    stock_trades[key] = event  # type: ignore[assignment]
                    trades_append(event)  # type: ignore[arg-type]
                    trades += 1
                elif kind is OptionTrade:
                    trades_append(event)  # type: ignore[arg-type]
                    trades += 1
                elif isinstance(event, Aggregate):
                    self.bars[key] = event
                    aggregates += 1
            if trades and len(self.trades) > trade_buffer:
                self._drop_oldest_trades(len(self.trades) - trade_buffer)
            self._tally(quotes, trades, aggregates, dropped, now)
            return statuses

    def _tally(self, quotes: int, trades: int, aggregates: int, dropped: int, now: float) -> None:
        """Add one frame's counts (under the lock); ``now`` becomes the newest data's time if it held any."""
        self.unsubscribed_dropped += dropped
        if quotes or trades or aggregates:
            counts = self.events
            if quotes:
                counts["quote"] += quotes
            if trades:
                counts["trade"] += trades
            if aggregates:
                counts["aggregate"] += aggregates
            self.last_event_unix = now

    def _drop_oldest_trades(self, overflow: int) -> None:
        """Drop the ``overflow`` oldest trades; count them and log at 1, 10, 100, 1,000 and every 10,000."""
        for _ in range(overflow):
            self.trades.popleft()
        before, self.trades_dropped = self.trades_dropped, self.trades_dropped + overflow
        after = self.trades_dropped
        if any(before < mark <= after for mark in (1, 10, 100, 1000)) or after // 10_000 > before // 10_000:
            log.warning("trades not consumed in time: %d dropped so far", after)

    def subscribe(self, keys: Iterable[str]) -> None:
        """Take only ``keys`` (symbols and contract tickers) from now on; forget what else is kept."""
        wanted = frozenset(keys)
        with self.lock:
            self.wanted = wanted
            for kept in (self.stock_quotes, self.option_quotes, self.stock_trades, self.bars, self.arrived):
                for key in [k for k in kept if k not in wanted]:
                    del kept[key]

    def event_counts(self) -> dict[str, int]:
        """Data events received, by kind (a copy: another thread may be adding to them)."""
        with self.lock:
            return dict(self.events)

    def take_trades(self) -> list[StockTrade | OptionTrade]:
        """The trades since the last call, oldest first."""
        with self.lock:
            taken = list(self.trades)
            self.trades.clear()
        return taken


class ClusterConnection:
    """One cluster's session, kept alive: connect, authenticate, subscribe, read, and again after a failure."""

    def __init__(
        self,
        cluster: Cluster,
        url: str,
        api_key: str,
        config: StreamConfig,
        state: FeedState,
        record: FrameSink | None = None,
        seed: int | None = None,
    ) -> None:
        self.cluster = cluster
        self.url = url
        self._key = api_key
        self.config = config
        self.state = state
        self.decoder = FrameDecoder(cluster)
        self._record = record
        self._wanted: set[str] = set()
        self._active: set[str] = set()
        self._changed = asyncio.Event()
        self._random = random.Random(seed)

    def subscribe(self, topics: Iterable[str]) -> None:
        """Make ``topics`` (``Q.SPY``, ``Q.O:SPY…``) the wanted set; applied live and after every reconnect."""
        self._wanted = {t.strip() for t in topics if t.strip()}
        self._changed.set()

    async def run(self) -> None:
        """Forever, until cancelled or the key is refused (:class:`MassiveAuthError`)."""
        backoff = Backoff(self.config.backoff_initial_s, self.config.backoff_max_s, self._random)
        while True:
            started = time.monotonic()
            floor = 0.0
            try:
                await self._session()
                reason = "closed by the server"
            except MassiveAuthError:
                self.state.connected[self.cluster] = False
                raise
            except _EvictedError as evicted:
                reason = str(evicted)
                if evicted.status == "max_connections":  # another session holds the key: never fight it
                    floor = self.config.evicted_backoff_s
            except (OSError, TimeoutError, ConnectionClosed, InvalidHandshake, InvalidURI) as error:
                reason = f"{type(error).__name__}: {error}"
            self.state.connected[self.cluster] = False
            self.state.reconnects += 1
            self.state.last_disconnect = f"{self.cluster}: {reason}"
            if time.monotonic() - started > 60:  # a healthy session: start the backoff over
                backoff.reset()
            wait = backoff.next(at_least_s=floor)
            log.warning("Massive %s feed lost (%s); reconnecting in %.1f s", self.cluster, reason, wait)
            await asyncio.sleep(wait)

    async def _session(self) -> None:
        async with connect(
            self.url,
            ping_interval=self.config.ping_interval_s,
            ping_timeout=self.config.ping_timeout_s,
            max_size=self.config.max_frame_bytes,
            open_timeout=self.config.auth_timeout_s,
            close_timeout=2,
            logger=_wire_log,
        ) as ws:
            await self._authenticate(ws)
            self.state.connected[self.cluster] = True
            self._active = set()
            log.info("Massive %s feed connected", self.cluster)
            syncer = asyncio.create_task(self._sync_subscriptions(ws))
            try:
                while True:  # frames stay bytes: msgspec reads UTF-8 directly, no str to build per frame
                    self._on_frame(await ws.recv(decode=False))
            except ConnectionClosedOK:
                return
            finally:
                syncer.cancel()

    async def _authenticate(self, ws: ClientConnection) -> None:
        await ws.send(json.dumps({"action": "auth", "params": self._key}))
        deadline = time.monotonic() + self.config.auth_timeout_s
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no auth_success from Massive")
            async with asyncio.timeout(remaining):
                frame = await ws.recv()
            for status in self._statuses(frame):
                if status.status == "auth_success" or (
                    status.status == "success" and status.message.lower() == "authenticated"
                ):
                    return
                if status.status == "auth_failed":
                    raise MassiveAuthError(
                        f"Massive refused the API key ({status.message}); check MASSIVE_API_KEY and the plan"
                    )
                if status.status in ("max_connections", "auth_timeout", "force_disconnect"):
                    raise _EvictedError(status.status, status.message)

    def _statuses(self, frame: str | bytes) -> list[Status]:
        if self._record is not None:
            # surrogateescape: a frame that is not UTF-8 is recorded as it came, and replays as malformed
            self._record(self.cluster, frame if isinstance(frame, str) else frame.decode("utf-8", "surrogateescape"))
        return [e for e in self.decoder.decode(frame) if isinstance(e, Status)]

    def _on_frame(self, frame: bytes) -> None:
        if self._record is not None:
            # surrogateescape: a frame that is not UTF-8 is recorded as it came, and replays as malformed
            self._record(self.cluster, frame.decode("utf-8", "surrogateescape"))
        statuses = self.state.apply(self.decoder.decode(frame), self.config.trade_buffer, time.time())
        for status in statuses:
            self._on_status(status)

    def _on_status(self, status: Status) -> None:
        if status.status in ("max_connections", "force_disconnect", "slow_consumer", "auth_timeout"):
            raise _EvictedError(status.status, status.message)
        if status.status == "error":
            log.warning("Massive %s feed error: %s", self.cluster, status.message)

    async def _sync_subscriptions(self, ws: ClientConnection) -> None:
        """Send the difference between the wanted and the active topics, now and whenever it changes."""
        while True:
            self._changed.clear()
            add, remove = sorted(self._wanted - self._active), sorted(self._active - self._wanted)
            for action, topics in (("unsubscribe", remove), ("subscribe", add)):
                for i in range(0, len(topics), self.config.subscribe_batch):
                    batch = topics[i : i + self.config.subscribe_batch]
                    await ws.send(json.dumps({"action": action, "params": ",".join(batch)}))
            self._active = set(self._wanted)
            await self._changed.wait()


class MassiveRealtimeStream:
    """Both clusters' connections over one :class:`FeedState`; ``run()`` until cancelled or auth fails."""

    def __init__(self, api_key: str, config: StreamConfig | None = None, record: FrameSink | None = None) -> None:
        if not api_key:
            raise MassiveAuthError("MASSIVE_API_KEY is not set")
        self.config = config or StreamConfig()
        self.state = FeedState()
        self.stocks = ClusterConnection("stocks", self.config.stocks_url, api_key, self.config, self.state, record)
        self.options = ClusterConnection("options", self.config.options_url, api_key, self.config, self.state, record)

    def subscribe(self, symbols: Iterable[str], contracts: Iterable[str]) -> None:
        """Quotes, trades and minute bars of the underlyings; quotes of the option contracts (at most 1,000)."""
        symbols = list(symbols)
        self.stocks.subscribe([f"{channel}.{s}" for s in symbols for channel in ("Q", "T", "AM")])
        contracts = sorted(contracts)
        if len(contracts) > 1000:
            log.warning("Massive allows 1000 option quote subscriptions: keeping 1000 of %d", len(contracts))
            contracts = contracts[:1000]
        self.options.subscribe([f"Q.{c}" for c in contracts])
        self.state.subscribe([*symbols, *contracts])

    @property
    def connected(self) -> bool:
        return all(self.state.connected.get(c, False) for c in ("stocks", "options"))

    async def run(self) -> None:
        """Both clusters until cancelled; a refused key ends both with :class:`MassiveAuthError`."""
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self.stocks.run())
                group.create_task(self.options.run())
        except ExceptionGroup as errors:
            refused = errors.subgroup(MassiveAuthError)
            if refused is not None:
                raise refused.exceptions[0] from None
            raise
