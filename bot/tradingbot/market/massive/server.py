"""A local server that speaks Massive's wire protocol, for tests and offline demos.

``tradingbot serve-market --source sim|replay --port P`` serves, on 127.0.0.1:

- WebSocket ``/stocks`` and ``/options``: ``connected`` on upgrade, ``auth`` (``auth_success`` or
  ``auth_failed``), per-topic ``success`` acks, ``auth_required`` before auth, ``error`` for bad JSON,
  one session per key per cluster (a new one evicts the old with ``max_connections`` and close 1008),
  then batched event arrays for the subscribed topics;
- REST ``GET /v3/snapshot/options/{underlying}`` (chain snapshot with Greeks, ``next_url`` pagination,
  ``apiKey`` query or Bearer auth, 401 and optional 429).

The market comes from the simulator (one step per ``interval_s``, its prices stamped with the wall
clock as live data is; start it on today's date so that its expiries are current) or from a recording
(replayed as recorded). :class:`Faults` switches on misbehaviour for tests: drop the connection, send garbage, stall
(no data, no pongs), refuse keys, evict slow consumers, stamp quotes in the future, send one-sided or
crossed quotes, loop the chain's ``next_url``, flood quotes of symbols nobody subscribed to.

The REST side follows the real API where its official client relies on it: chain filters
(``expiration_date``, ``strike_price`` and ``contract_type`` with ``.gte/.lte/.gt/.lt``), a
single-contract snapshot (``/v3/snapshot/options/{underlying}/{contract}``), minute bars over epoch-ms
or ``YYYY-MM-DD`` ranges, and a 400 with a JSON error for a bad ``limit`` or ``cursor``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import logging
import math
import operator
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from datetime import time as datetime_time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from aiohttp import WSCloseCode, WSMsgType, web

from tradingbot.market.clock import EASTERN
from tradingbot.market.source import MarketSource
from tradingbot.market.types import MarketSnapshot, OptionChain
from tradingbot.query import bounded_integer

log = logging.getLogger("tradingbot.massive.server")
CLUSTERS = ("stocks", "options")
PAGE_LIMIT = 250
CLOSE_TIMEOUT_S = 2.0
"""Longest wait for a client's close handshake, and for handlers when the server stops."""
SEND_TIMEOUT_S = 5.0
"""A frame not accepted within this time (the client stopped reading) evicts it as a slow consumer."""


@dataclass
class Faults:
    """Misbehaviour to switch on (tests change these while the server runs)."""

    drop_after_frames: int = 0
    """Abort the TCP connection (no close frame) after this many data frames; 0: never."""
    garbage_every: int = 0
    """Every n-th data frame is replaced, alternately by truncated JSON and by a frame that is not UTF-8;
    0: never."""
    stall: bool = False
    """Send nothing and answer no pings (a silent stall)."""
    slow_consumer_bytes: int = 0
    """Evict with ``slow_consumer`` once this many bytes wait unsent for a client; 0: only after a frame
    waited :data:`SEND_TIMEOUT_S`."""
    rate_limit_every: int = 0
    """Every n-th REST request answers 429; 0: never."""
    future_ms: int = 0
    """Stamp every quote this many milliseconds ahead of the clock."""
    one_sided: bool = False
    """Underlying quotes without a bid (``bp`` 0, which the wire allows)."""
    crossed: bool = False
    """Underlying quotes with the bid above the ask."""
    next_url_loop: bool = False
    """Every chain page's ``next_url`` points back to the same page."""
    flood_unsubscribed: int = 0
    """Each tick, this many quotes of symbols (stocks) or contracts (options) nobody subscribed to."""


@dataclass
class _Session:
    ws: web.WebSocketResponse
    cluster: str
    transport: asyncio.Transport | None
    key: str | None = None
    topics: set[str] = field(default_factory=set)
    frames: int = 0


def _quote(sym: str, bid: float, bid_size: int, ask: float, ask_size: int, t: int) -> dict[str, Any]:
    return {
        "ev": "Q",
        "sym": sym,
        "bx": 11,
        "bp": bid,
        "bs": bid_size,
        "ax": 12,
        "ap": ask,
        "as": ask_size,
        "t": t,
        "q": t % 1_000_000,
    }


def snapshot_events(snapshot: MarketSnapshot, cluster: str, topics: set[str], now_ms: int) -> list[dict[str, Any]]:
    """The wire events of one simulator snapshot that ``topics`` subscribe to, stamped ``now_ms`` (live)."""
    events: list[dict[str, Any]] = []
    for symbol, data in snapshot.symbols.items():
        if cluster == "stocks":
            q = data.quote
            if f"Q.{symbol}" in topics or "Q.*" in topics:
                events.append(_quote(symbol, q.bid, q.bid_size, q.ask, q.ask_size, now_ms))
            if f"AM.{symbol}" in topics or "AM.*" in topics:  # each simulated step is a minute
                mid = round(q.mid, 4)
                volume = data.trade.size if data.trade is not None else 0
                events.append(
                    {
                        "ev": "AM",
                        "sym": symbol,
                        "v": volume,
                        "av": volume,
                        "op": mid,
                        "vw": mid,
                        "o": mid,
                        "c": mid,
                        "h": mid,
                        "l": mid,
                        "a": mid,
                        "z": volume,
                        "s": now_ms - 60_000,
                        "e": now_ms,
                    }
                )
            if data.trade is not None and (f"T.{symbol}" in topics or "T.*" in topics):
                tr = data.trade
                events.append(
                    {
                        "ev": "T",
                        "sym": symbol,
                        "x": 4,
                        "i": str(tr.timestamp_ms),
                        "z": 2,
                        "p": tr.price,
                        "s": tr.size,
                        "t": tr.timestamp_ms,
                        "q": tr.timestamp_ms % 1_000_000,
                    }
                )
            continue
        chain = data.chain
        for i, contract in enumerate(chain.contracts):
            if f"Q.{contract.ticker}" in topics and math.isfinite(chain.bid[i]) and math.isfinite(chain.ask[i]):
                events.append(
                    _quote(contract.ticker, float(chain.bid[i]), 10, float(chain.ask[i]), 10, chain.timestamp_ms)
                )
    return events


def distort(events: list[dict[str, Any]], faults: Faults) -> list[dict[str, Any]]:
    """``events`` with the quote faults switched on: future stamps, one-sided or crossed underlying quotes."""
    for event in events:
        if event.get("ev") != "Q":
            continue
        if faults.future_ms:
            event["t"] += faults.future_ms
        if str(event["sym"]).startswith("O:"):
            continue
        if faults.one_sided:
            event["bp"], event["bs"] = 0.0, 0
        if faults.crossed:
            event["bp"], event["ap"] = event["ap"] + 1.0, event["bp"]
    return events


def flood(cluster: str, count: int, now_ms: int) -> list[dict[str, Any]]:
    """``count`` quotes of distinct made-up symbols (stocks) or contracts (options) nobody subscribed to."""
    events = []
    for i in range(count):
        stamp = now_ms % 10**7  # new names every tick: a client that keeps them would grow without bound
        symbol = f"Z{stamp:07d}{i:05d}" if cluster == "stocks" else f"O:ZZ{stamp:07d}C{i:08d}"
        events.append(_quote(symbol, 1.0, 1, 1.01, 1, now_ms))
    return events


def _now_ms() -> int:
    return int(time.time() * 1000)


def _number(value: float) -> float | None:
    return round(float(value), 6) if math.isfinite(value) else None


def chain_results(chain: OptionChain, spot: float, now_ms: int) -> list[dict[str, Any]]:
    """``/v3/snapshot/options`` result items for a simulator chain (Greeks, IV, last quote; ns times)."""
    results = []
    ns = now_ms * 1_000_000
    for i, c in enumerate(chain.contracts):
        bid, ask = float(chain.bid[i]), float(chain.ask[i])
        item: dict[str, Any] = {
            "details": {
                "ticker": c.ticker,
                "contract_type": c.contract_type,
                "exercise_style": "american",
                "expiration_date": c.expiration.isoformat(),
                "shares_per_contract": c.shares_per_contract,
                "strike_price": c.strike,
            },
            "open_interest": 1000,
            "underlying_asset": {
                "ticker": chain.underlying,
                "price": spot,
                "last_updated": ns,
                "timeframe": "REAL-TIME",
            },
        }
        if math.isfinite(bid) and math.isfinite(ask):
            item["last_quote"] = {
                "bid": bid,
                "ask": ask,
                "bid_size": 10,
                "ask_size": 10,
                "midpoint": (bid + ask) / 2,
                "last_updated": ns,
                "timeframe": "REAL-TIME",
            }
            item["break_even_price"] = c.strike + ask if c.contract_type == "call" else c.strike - ask
        iv = _number(chain.implied_volatility[i])
        if iv is not None:
            item["implied_volatility"] = iv
            item["greeks"] = {k: _number(getattr(chain, k)[i]) for k in ("delta", "gamma", "theta", "vega")}
        results.append(item)
    return results


class MarketServer:
    """The protocol server over a market; use as ``async with`` (it binds on enter)."""

    def __init__(
        self,
        market: MarketSource | None,
        api_keys: set[str],
        host: str = "127.0.0.1",
        port: int = 0,
        interval_s: float = 0.05,
        frames: Callable[[str], AsyncIterator[str]] | None = None,
        prebuilt: bytes | None = None,
        history_minutes: int = 0,
    ) -> None:
        self.market = market
        self.api_keys = api_keys
        self.host, self.port = host, port
        self.interval_s = interval_s
        self.faults = Faults()
        self.sessions: dict[tuple[str, str], _Session] = {}
        self.connections = 0
        self.rest_requests = 0
        self._frames = frames
        self._prebuilt = prebuilt
        self.bars: dict[str, list[tuple[int, float]]] = {}
        if market is not None and history_minutes:
            self._preroll(market, history_minutes)
        self._runner: web.AppRunner | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._snapshot: MarketSnapshot | None = market.current() if market is not None else None

    def _preroll(self, market: MarketSource, minutes: int) -> None:
        """Run the market ``minutes`` steps ahead, one minute bar each, ending now (history for warm-ups)."""
        now = _now_ms()
        for i in range(minutes):
            snapshot = market.advance()
            for symbol, data in snapshot.symbols.items():
                self.bars.setdefault(symbol, []).append((now - (minutes - i) * 60_000, round(data.quote.mid, 4)))
        self._snapshot = market.current()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    async def __aenter__(self) -> MarketServer:
        app = web.Application()
        app.router.add_get("/stocks", self._websocket)
        app.router.add_get("/options", self._websocket)
        app.router.add_get("/v3/snapshot/options/{underlying}", self._chain)
        app.router.add_get("/v3/snapshot/options/{underlying}/{contract}", self._contract)
        app.router.add_get("/v2/aggs/ticker/{ticker}/range/1/minute/{start}/{end}", self._bars)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=CLOSE_TIMEOUT_S)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        if self.market is not None:
            self._ticker = asyncio.create_task(self._tick())
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        # every session at once, each close handshake bounded by the socket's 2 s timeout
        await asyncio.gather(*(s.ws.close() for s in list(self.sessions.values())), return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()

    # -- market --------------------------------------------------------------------------------
    async def _tick(self) -> None:
        assert self.market is not None
        while True:
            await asyncio.sleep(self.interval_s)
            self._snapshot = self.market.advance()
            for session in list(self.sessions.values()):
                if session.key is not None and session.topics and not self.faults.stall:
                    now = _now_ms()
                    events = distort(snapshot_events(self._snapshot, session.cluster, session.topics, now), self.faults)
                    events += flood(session.cluster, self.faults.flood_unsubscribed, now)
                    if events:
                        await self._send_data(session, json.dumps(events))

    async def _send_data(self, session: _Session, frame: str) -> None:
        session.frames += 1
        faults = self.faults
        if faults.garbage_every and session.frames % faults.garbage_every == 0:
            # alternately truncated JSON and a text frame that is not UTF-8
            odd = session.frames // faults.garbage_every % 2
            frame = '[{"ev":"Q","sym":' if odd else '[{"ev":"T","sym":"SP\udcff","p":1.0,"s":1,"t":1}]'
        # surrogateescape: a recorded frame that was not UTF-8 goes out byte for byte as it came in
        payload = frame.encode("utf-8", "surrogateescape")
        transport = session.transport
        backlog = transport.get_write_buffer_size() if transport is not None else 0
        if faults.slow_consumer_bytes and backlog > faults.slow_consumer_bytes:
            self._drop_slow_consumer(session)
            return
        try:
            # asyncio.timeout, not wait_for: Python 3.11's wait_for can swallow a cancellation
            async with asyncio.timeout(SEND_TIMEOUT_S):
                await session.ws.send_frame(payload, WSMsgType.TEXT)
        except TimeoutError:  # the client stopped reading: never let it hold up the others
            self._drop_slow_consumer(session)
            return
        except ConnectionError:
            return
        if faults.drop_after_frames and session.frames >= faults.drop_after_frames and transport is not None:
            transport.abort()

    def _drop_slow_consumer(self, session: _Session) -> None:
        """Queue ``slow_consumer`` and a 1008 close behind the backlog, then close once it drains."""
        if session.transport is None or session.transport.is_closing():
            return
        status = json.dumps([{"ev": "status", "status": "slow_consumer", "message": "consumer too slow"}])
        close = WSCloseCode.POLICY_VIOLATION.to_bytes(2, "big") + b"slow_consumer"
        session.transport.write(websocket_frames([status]) + bytes((0x88, len(close))) + close)
        session.transport.close()
        if session.key is not None and self.sessions.get((session.key, session.cluster)) is session:
            del self.sessions[(session.key, session.cluster)]

    async def evict_all(self, status: str, message: str) -> None:
        """End every session with a status (``force_disconnect``, ``slow_consumer`` …) and close 1008."""
        for session in list(self.sessions.values()):
            await self._evict(session, status, message)

    async def _evict(self, session: _Session, status: str, message: str) -> None:
        with contextlib.suppress(ConnectionError):
            await session.ws.send_str(json.dumps([{"ev": "status", "status": status, "message": message}]))
            await session.ws.close(code=WSCloseCode.POLICY_VIOLATION, message=status.encode())

    # -- WebSocket -----------------------------------------------------------------------------
    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        cluster = request.path.strip("/")
        # pongs by hand (a stall withholds them); no compression: frames go out exactly as built
        ws = web.WebSocketResponse(autoping=False, max_msg_size=2**20, compress=False, timeout=CLOSE_TIMEOUT_S)
        await ws.prepare(request)
        self.connections += 1
        transport = request.transport
        session = _Session(ws, cluster, transport if isinstance(transport, asyncio.Transport) else None)
        await self._status(ws, "connected", "Connected Successfully")
        replay: asyncio.Task[None] | None = None
        try:
            async for message in ws:
                if message.type == WSMsgType.PING:
                    if not self.faults.stall:
                        await ws.pong(message.data)
                    continue
                if message.type == WSMsgType.BINARY:  # clients that encode with orjson send bytes
                    text = message.data.decode("utf-8", errors="replace")
                elif message.type == WSMsgType.TEXT:
                    text = message.data
                else:
                    continue
                await self._on_action(session, text)
                if replay is None and session.key is not None and self._frames is not None:
                    replay = asyncio.create_task(self._replay(session))
        finally:
            if replay is not None:
                replay.cancel()
            if session.key is not None and self.sessions.get((session.key, cluster)) is session:
                del self.sessions[(session.key, cluster)]
        return ws

    async def _replay(self, session: _Session) -> None:
        assert self._frames is not None
        async for frame in self._frames(session.cluster):
            if not self.faults.stall:
                await self._send_data(session, frame)

    async def _on_action(self, session: _Session, text: str) -> None:
        try:
            action = json.loads(text)
            verb, params = action["action"], str(action.get("params", ""))
        except (ValueError, KeyError, TypeError):
            await self._status(session.ws, "error", "Invalid JSON")
            return
        if verb == "auth":
            if params not in self.api_keys:
                await self._status(session.ws, "auth_failed", "authentication failed")
                await session.ws.close(code=WSCloseCode.POLICY_VIOLATION)
                return
            previous = self.sessions.get((params, session.cluster))
            if previous is not None:
                await self._evict(previous, "max_connections", "Maximum number of connections exceeded.")
            session.key = params
            self.sessions[(params, session.cluster)] = session
            await self._status(session.ws, "auth_success", "authenticated")
        elif session.key is None:
            await self._status(session.ws, "auth_required", "authentication required")
        elif verb in ("subscribe", "unsubscribe"):
            for topic in filter(None, (t.strip() for t in params.split(","))):
                if verb == "subscribe":
                    session.topics.add(topic)
                else:
                    session.topics.discard(topic)
                await self._status(session.ws, "success", f"{verb}d to: {topic}")
            if self._prebuilt is not None and verb == "subscribe" and session.transport is not None:
                session.transport.write(self._prebuilt)  # benchmarks: the whole stream at once, pre-framed
        else:
            await self._status(session.ws, "error", f"unknown action {verb}")

    @staticmethod
    async def _status(ws: web.WebSocketResponse, status: str, message: str) -> None:
        with contextlib.suppress(ConnectionError):
            await ws.send_str(json.dumps([{"ev": "status", "status": status, "message": message}]))

    # -- REST ----------------------------------------------------------------------------------
    async def _bars(self, request: web.Request) -> web.Response:
        self.rest_requests += 1
        if not _authorized(request, self.api_keys):
            return web.json_response({"status": "ERROR", "request_id": "local", "error": "Unknown API Key"}, status=401)
        try:
            start = _instant(request.match_info["start"], end_of_day=False)
            end = _instant(request.match_info["end"], end_of_day=True)
        except ValueError:
            return _bad_request("from and to must be YYYY-MM-DD or epoch milliseconds")
        ticker = request.match_info["ticker"]
        bars = [
            {"t": t, "o": c, "h": c, "l": c, "c": c, "v": 100, "vw": c, "n": 1}
            for t, c in self.bars.get(ticker, [])
            if start <= t <= end
        ]
        return web.json_response(
            {
                "ticker": ticker,
                "status": "OK",
                "request_id": "local",
                "adjusted": True,
                "queryCount": len(bars),
                "resultsCount": len(bars),
                "results": bars,
            }
        )

    async def _chain(self, request: web.Request) -> web.Response:
        self.rest_requests += 1
        if not _authorized(request, self.api_keys):
            return web.json_response({"status": "ERROR", "request_id": "local", "error": "Unknown API Key"}, status=401)
        if self.faults.rate_limit_every and self.rest_requests % self.faults.rate_limit_every == 0:
            return web.json_response(
                {"status": "ERROR", "error": "You've exceeded the maximum requests per minute."},
                status=429,
                headers={"Retry-After": "0"},
            )
        try:
            limit = bounded_integer(request.query.get("limit", "10"), "limit", 1, PAGE_LIMIT)
            start = bounded_integer(request.query.get("cursor", "0"), "cursor", 0, 10**9)
            wanted = _chain_filter(request.query)
        except ValueError as error:
            return _bad_request(str(error))
        underlying = request.match_info["underlying"]
        snapshot = self._snapshot
        data = snapshot.symbols.get(underlying) if snapshot is not None else None
        if data is None:
            return web.json_response({"status": "OK", "request_id": "local", "results": []})
        results = [item for item in chain_results(data.chain, data.quote.mid, _now_ms()) if wanted(item["details"])]
        body: dict[str, Any] = {"status": "OK", "request_id": "local", "results": results[start : start + limit]}
        base = f"{self.url}/v3/snapshot/options/{underlying}?"
        if self.faults.next_url_loop:
            body["next_url"] = base + urlencode({**request.query, "cursor": start})
        elif start + limit < len(results):
            body["next_url"] = base + urlencode({**request.query, "cursor": start + limit, "limit": limit})
        return web.json_response(body)

    async def _contract(self, request: web.Request) -> web.Response:
        self.rest_requests += 1
        if not _authorized(request, self.api_keys):
            return web.json_response({"status": "ERROR", "request_id": "local", "error": "Unknown API Key"}, status=401)
        snapshot = self._snapshot
        data = snapshot.symbols.get(request.match_info["underlying"]) if snapshot is not None else None
        ticker = request.match_info["contract"]
        if data is None or ticker not in data.chain.index:
            return web.json_response(
                {"status": "NOT_FOUND", "request_id": "local", "error": "no such contract"}, status=404
            )
        (item,) = [r for r in chain_results(data.chain, data.quote.mid, _now_ms()) if r["details"]["ticker"] == ticker]
        return web.json_response({"status": "OK", "request_id": "local", "results": item})


def websocket_frames(frames: list[str]) -> bytes:
    """``frames`` as unmasked WebSocket text frames (server to client), ready to write to a socket."""
    out = bytearray()
    for frame in frames:
        payload = frame.encode()
        size = len(payload)
        if size < 126:
            out += bytes((0x81, size))
        elif size < 2**16:
            out += bytes((0x81, 126)) + size.to_bytes(2, "big")
        else:
            out += bytes((0x81, 127)) + size.to_bytes(8, "big")
        out += payload
    return bytes(out)


def _bad_request(message: str) -> web.Response:
    return web.json_response({"status": "ERROR", "request_id": "local", "error": message}, status=400)


def _instant(text: str, end_of_day: bool) -> int:
    """Epoch ms of an aggregates bound: epoch ms, or a ``YYYY-MM-DD`` day (its start or end, US/Eastern)."""
    if text.isdigit():
        return int(text)
    day = date.fromisoformat(text)
    moment = datetime.combine(day, datetime_time.max if end_of_day else datetime_time.min, EASTERN)
    return int(moment.timestamp() * 1000)


_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "": operator.eq,
    ".gte": operator.ge,
    ".lte": operator.le,
    ".gt": operator.gt,
    ".lt": operator.lt,
}


def _chain_filter(query: Mapping[str, str]) -> Callable[[dict[str, Any]], bool]:
    """The chain snapshot's filters as a predicate over a result's ``details`` (a bad value: ValueError)."""
    tests: list[tuple[str, Callable[[Any, Any], bool], Any]] = []
    for name, parse in (("strike_price", float), ("expiration_date", date.fromisoformat), ("contract_type", str)):
        for suffix, compare in _OPERATORS.items():
            raw = query.get(name + suffix)
            if raw is None:
                continue
            try:
                value = parse(raw)
            except ValueError:
                raise ValueError(f"{name}{suffix}: not a valid value: {raw[:40]!r}") from None
            tests.append((name, compare, value))

    def wanted(details: dict[str, Any]) -> bool:
        for name, compare, value in tests:
            field_value = date.fromisoformat(details[name]) if name == "expiration_date" else details[name]
            if not compare(field_value, value):
                return False
        return True

    return wanted


def _authorized(request: web.Request, keys: set[str]) -> bool:
    key = request.query.get("apiKey") or request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    return key in keys


def recorded_frames(path: Path, speed: float) -> Callable[[str], AsyncIterator[str]]:
    """A frame source for :class:`MarketServer` that replays a ``--record`` file, per cluster."""

    async def frames(cluster: str) -> AsyncIterator[str]:
        previous: float | None = None
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            for line in lines:
                entry = json.loads(line)
                if entry.get("c") != cluster:
                    continue
                if speed > 0 and previous is not None:
                    await asyncio.sleep(max(0.0, (entry["t"] - previous) / 1000 / speed))
                previous = entry["t"]
                yield entry["f"]

    return frames
