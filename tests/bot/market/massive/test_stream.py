"""The real Massive client against the local protocol server: the session flow, and every fault mode."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tradingbot.market.massive.recording import Recorder
from tradingbot.market.massive.server import MarketServer, recorded_frames
from tradingbot.market.massive.stream import FeedState, MassiveAuthError, MassiveRealtimeStream, StreamConfig
from tradingbot.market.sim.simulator import MarketSimulator, SimulatorConfig
from tradingbot.market.types import OptionTrade

KEY = "test-key-4f9c2e"
pytestmark = pytest.mark.timeout(60)


def fast_config(server: MarketServer, **overrides) -> StreamConfig:
    settings = dict(
        stocks_url=f"{server.ws_url}/stocks",
        options_url=f"{server.ws_url}/options",
        backoff_initial_s=0.05,
        backoff_max_s=0.2,
        evicted_backoff_s=0.5,
        ping_interval_s=0.2,
        ping_timeout_s=0.3,
        auth_timeout_s=2.0,
    )
    settings.update(overrides)
    return StreamConfig(**settings)


def market() -> MarketSimulator:
    return MarketSimulator(SimulatorConfig(("SPY",), seed=3))


async def until(check, timeout_s: float = 10.0, what: str = "the condition") -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def run(scenario) -> None:
    async def bounded() -> None:
        async with asyncio.timeout(45):
            await scenario()

    asyncio.run(bounded())


@contextlib.asynccontextmanager
async def streaming(server: MarketServer, symbols=("SPY",), contracts=(), **config):
    """A stream on ``server``, subscribed and running for the block."""
    stream = MassiveRealtimeStream(KEY, fast_config(server, **config))
    stream.subscribe(list(symbols), list(contracts))
    task = asyncio.create_task(stream.run())
    try:
        yield stream
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def contract_of(server: MarketServer) -> str:
    return server.market.current().symbols["SPY"].chain.contracts[0].ticker


def test_it_authenticates_subscribes_and_decodes_both_clusters():
    async def scenario():
        async with MarketServer(market(), {KEY}) as server:
            stream = MassiveRealtimeStream(KEY, fast_config(server))
            ticker = contract_of(server)
            stream.subscribe(["SPY"], [ticker])
            task = asyncio.create_task(stream.run())
            await until(lambda: "SPY" in stream.state.stock_quotes and ticker in stream.state.option_quotes)
            await until(lambda: "SPY" in stream.state.stock_trades, what="a trade")
            await until(lambda: "SPY" in stream.state.bars, what="a minute bar")
            assert stream.connected and stream.state.reconnects == 0
            quote = stream.state.stock_quotes["SPY"]
            assert 0 < quote.bid < quote.ask and quote.timestamp_ms > 0
            assert server.sessions[(KEY, "stocks")].topics == {"Q.SPY", "T.SPY", "AM.SPY"}
            assert server.sessions[(KEY, "options")].topics == {f"Q.{ticker}"}
            stream.subscribe(["SPY"], [])  # the chain rolled: the contract is unsubscribed live
            options = server.sessions[(KEY, "options")]
            await until(lambda: not options.topics, what="the unsubscribe")
            task.cancel()

    run(scenario)


def test_a_dropped_connection_reconnects_and_resubscribes():
    async def scenario():
        async with MarketServer(market(), {KEY}) as server:
            server.faults.drop_after_frames = 5
            async with streaming(server) as stream:
                await until(lambda: stream.state.reconnects >= 2, what="two reconnects")
                server.faults.drop_after_frames = 0
                seen = stream.state.events["quote"]
                await until(lambda: stream.state.events["quote"] > seen + 5, what="data after the reconnects")
                assert server.sessions[(KEY, "stocks")].topics == {"Q.SPY", "T.SPY", "AM.SPY"}

    run(scenario)


def test_garbage_frames_are_counted_and_skipped_and_replay_exactly(tmp_path):
    """Truncated JSON and frames that are not UTF-8 cost only themselves, live and in a replay."""
    recording = tmp_path / "garbage.jsonl.gz"

    async def scenario():
        recorder = Recorder(recording)
        async with MarketServer(market(), {KEY}) as server:
            server.faults.garbage_every = 3
            stream = MassiveRealtimeStream(KEY, fast_config(server), record=recorder.frame)
            stream.subscribe(["SPY"], [])
            task = asyncio.create_task(stream.run())
            await until(lambda: stream.stocks.decoder.stats.malformed_frames >= 4, what="both kinds of garbage")
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            assert stream.state.events["quote"] > 0 and stream.state.reconnects == 0
        recorder.close()
        live = stream.stocks.decoder.stats.malformed_frames
        replay_server = MarketServer(None, {KEY}, frames=recorded_frames(recording, speed=0))
        async with replay_server, streaming(replay_server) as replay:
            await until(lambda: replay.stocks.decoder.stats.malformed_frames == live, what="the same garbage")
            await until(lambda: replay.state.events["quote"] == stream.state.events["quote"], what="the quotes")

    run(scenario)


def test_a_silent_stall_is_detected_by_pings_and_reconnected():
    async def scenario():
        async with MarketServer(market(), {KEY}) as server, streaming(server) as stream:
            await until(lambda: stream.connected)
            server.faults.stall = True
            await until(lambda: stream.state.reconnects >= 1, what="the stall to be noticed")
            server.faults.stall = False
            seen = stream.state.events["quote"]
            await until(lambda: stream.state.events["quote"] > seen, what="data after the stall")

    run(scenario)


def test_a_refused_key_is_fatal_and_never_logged(caplog):
    caplog.set_level(logging.DEBUG)

    async def scenario():
        async with MarketServer(market(), {"the-right-key"}) as server:
            stream = MassiveRealtimeStream(KEY, fast_config(server))
            with pytest.raises(MassiveAuthError, match="refused the API key") as refused:
                await stream.run()
            assert KEY not in str(refused.value)
            assert server.connections <= 2  # one attempt per cluster, no reconnect loop

    run(scenario)
    assert KEY not in caplog.text


def test_another_session_with_the_key_evicts_and_the_evicted_backs_off_at_least_its_floor(caplog):
    async def scenario():
        async with MarketServer(market(), {KEY}) as server, streaming(server, evicted_backoff_s=5.0) as first:
            await until(lambda: first.connected)
            async with streaming(server) as second:
                await until(lambda: first.state.reconnects >= 1, what="the eviction")
                assert "max_connections" in first.state.last_disconnect
                await asyncio.sleep(1.0)
                assert second.connected and not first.connected  # the evicted one waits instead of fighting

    with caplog.at_level(logging.WARNING):
        run(scenario)
    waits = [float(w) for w in re.findall(r"max_connections.*reconnecting in ([\d.]+) s", caplog.text)]
    assert waits and min(waits) >= 5.0  # never less than the floor, whatever the jitter draws


def test_server_side_disconnects_are_reported_and_survived():
    async def scenario():
        async with MarketServer(market(), {KEY}) as server, streaming(server) as stream:
            await until(lambda: stream.connected)
            await server.evict_all("slow_consumer", "consumer too slow")
            await until(lambda: stream.state.reconnects >= 1)
            assert "slow_consumer" in stream.state.last_disconnect
            await until(lambda: stream.connected, what="the reconnect")

    run(scenario)


def test_unconsumed_trades_are_dropped_oldest_first_and_counted(caplog):
    state = FeedState()
    trades = [OptionTrade("O:SPY260116C00100000", 1.0 + i, 1, 1000 + i) for i in range(5)]
    with caplog.at_level(logging.WARNING, logger="tradingbot.massive"):
        state.apply(trades, trade_buffer=3, now=1.0)
        assert state.trades_dropped == 2 and [t.price for t in state.take_trades()] == [3.0, 4.0, 5.0]
        assert state.take_trades() == [] and state.last_event_unix == 1.0
        assert state.events["trade"] == 5
        for _ in range(3 + 7):  # one trade a frame: 3 fill the buffer, 7 push out one each (9 dropped)
            state.apply(trades[:1], trade_buffer=3, now=2.0)
        assert state.trades_dropped == 9
        state.apply(trades[:1], trade_buffer=3, now=3.0)  # the 10th
    assert [r.getMessage() for r in caplog.records] == [
        "trades not consumed in time: 2 dropped so far",
        "trades not consumed in time: 10 dropped so far",
    ]


def test_the_server_replays_a_recording_frame_for_frame(tmp_path):
    recording = tmp_path / "session.jsonl.gz"
    recorder = Recorder(recording, clock=iter([1.0, 1.5, 2.0, 2.5]).__next__)
    frames = [
        '[{"ev":"Q","sym":"SPY","bp":100.0,"bs":1,"ap":100.1,"as":1,"t":1000}]',
        '[{"ev":"T","sym":"SPY","p":100.05,"s":10,"t":1500}]',
    ]
    recorder.frame("stocks", frames[0])
    recorder.chain("SPY", [])
    recorder.frame("stocks", frames[1])
    recorder.frame("options", '[{"ev":"T","sym":"O:SPY260116C00100000","p":1.5,"s":1,"t":2500}]')
    recorder.close()

    async def scenario():
        async with MarketServer(None, {KEY}, frames=recorded_frames(recording, speed=0)) as server:
            stream = MassiveRealtimeStream(KEY, fast_config(server))
            task = asyncio.create_task(stream.run())
            await until(lambda: stream.state.events["trade"] == 2, what="the recorded trades")
            assert stream.state.stock_quotes["SPY"].bid == 100.0
            assert [t.price for t in stream.state.take_trades()] in ([100.05, 1.5], [1.5, 100.05])
            task.cancel()

    run(scenario)


def test_a_client_that_stops_reading_is_evicted_as_a_slow_consumer():
    async def scenario():
        market = MarketSimulator(SimulatorConfig(("SPY", "QQQ", "IWM"), seed=1))
        async with MarketServer(market, {KEY}, interval_s=0.001) as server:
            server.faults.slow_consumer_bytes = 1  # any backlog the kernel cannot absorb
            contracts = [c.ticker for s in market.current().symbols.values() for c in s.chain.contracts]
            async with connect(f"{server.ws_url}/options", max_queue=1) as ws:
                await ws.recv()
                await ws.send(json.dumps({"action": "auth", "params": KEY}))
                await ws.recv()
                await ws.send(json.dumps({"action": "subscribe", "params": ",".join(f"Q.{c}" for c in contracts)}))
                await until(lambda: (KEY, "options") not in server.sessions, 30, "the eviction")  # not reading
                statuses = []
                with contextlib.suppress(ConnectionClosed):
                    async for frame in ws:
                        statuses += [e["status"] for e in json.loads(frame) if e.get("ev") == "status"]
                assert "slow_consumer" in statuses
                assert ws.close_code == 1008

    run(scenario)
