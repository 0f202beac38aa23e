"""Ingest throughput of Massive WebSocket streams: our client against the official ``massive`` client.

The local protocol server (``MarketServer``) sends byte-identical, pre-framed stock quote and trade
frames (80 % quotes, 20 % trades, 50 symbols, the documented fields) as one write, so the clients, not
the server, are the bottleneck. Each client runs in a fresh process, the order rotates, and each figure
is the median of ``--repeats`` runs of ``--events`` events, timed from the first data event to the
last:

- ours: ``ClusterConnection`` decoding straight into the shared types and folding them (each checked
  against the subscriptions, as in the bot) into the feed
  state (quotes coalesced, every trade kept and counted);
- official: ``massive.WebSocketClient`` in its default typed-model mode with ``custom_json=orjson``,
  a handler that only counts the objects, no debug logging;
- ceiling: a bare ``websockets`` client that receives the frames as bytes and decodes nothing.

Reported for 1, 10 and 100 events per frame; final JSON line with the ratios.

    python bench/ingest.py [--events 200000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KEY = "bench-key"
CLIENTS = ("ours", "official", "ceiling")
SYMBOLS = [f"S{i:02d}" for i in range(50)]


def build_frames(events: int, batch: int, seed: int = 7) -> tuple[list[str], int]:
    """``events`` events in frames of ``batch``; returns the frames and how many events are trades."""
    rng = random.Random(seed)
    frames, trades, t = [], 0, 1765224000000
    for start in range(0, events, batch):
        items = []
        for _ in range(min(batch, events - start)):
            t += 1
            sym = rng.choice(SYMBOLS)
            price = round(100 + rng.random() * 500, 2)
            if rng.random() < 0.2:
                trades += 1
                items.append(
                    {
                        "ev": "T",
                        "sym": sym,
                        "x": 4,
                        "i": str(t),
                        "z": 2,
                        "p": price,
                        "s": rng.randint(1, 500),
                        "c": [12, 41],
                        "t": t,
                        "q": t,
                    }
                )
            else:
                items.append(
                    {
                        "ev": "Q",
                        "sym": sym,
                        "bx": 11,
                        "bp": price,
                        "bs": rng.randint(1, 9),
                        "ax": 12,
                        "ap": round(price + 0.02, 2),
                        "as": rng.randint(1, 9),
                        "c": 0,
                        "i": [604],
                        "t": t,
                        "q": t,
                        "z": 2,
                    }
                )
        frames.append(json.dumps(items, separators=(",", ":")))
    return frames, trades


def serve(prebuilt: bytes, ready: threading.Event, port_box: list[int], stop: threading.Event) -> None:
    from tradingbot.market.massive.server import MarketServer

    async def main() -> None:
        async with MarketServer(None, {KEY}, prebuilt=prebuilt) as server:
            port_box.append(server.port)
            ready.set()
            while not stop.is_set():
                await asyncio.sleep(0.1)

    asyncio.run(main())


def run_client(kind: str, port: int, events: int, batch: int, trades: int) -> dict:
    command = [
        sys.executable,
        __file__,
        "--client",
        kind,
        "--port",
        str(port),
        "--events",
        str(events),
        "--batch",
        str(batch),
        "--trades",
        str(trades),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{kind} client failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- the clients, each in its own process ---------------------------------------------------------------
async def client_ours(port: int, events: int) -> dict:
    from tradingbot.market.massive.stream import ClusterConnection, FeedState, StreamConfig

    state = FeedState()
    state.subscribe(SYMBOLS)  # as the bot does: every event is checked against the subscriptions
    connection = ClusterConnection("stocks", f"ws://127.0.0.1:{port}/stocks", KEY, StreamConfig(), state)
    connection.subscribe(["Q.*", "T.*"])
    task = asyncio.create_task(connection.run())
    first = None
    while True:
        count = state.events["quote"] + state.events["trade"]
        if first is None and count:
            first = time.perf_counter()
        if count >= events:
            break
        # fine polling until the first event, then coarse: the probe is not part of the client's work
        # (its up to 5 ms late stop can only understate our rate, by at most 0.4 % at 1 M events/s)
        await asyncio.sleep(0.0005 if first is None else 0.005)
    elapsed = time.perf_counter() - first
    task.cancel()
    return {
        "events": count,
        "trades": state.events["trade"],
        "trades_dropped": state.trades_dropped,
        "seconds": elapsed,
        "rejected": connection.decoder.stats.invalid_events,
    }


async def client_official(port: int, events: int) -> dict:
    import orjson
    from massive import WebSocketClient

    counted = {"n": 0, "first": None}

    class EnoughError(Exception):
        """Raised by the handler once it counted every event: ends ``connect()``."""

    async def handle(messages: list) -> None:
        if counted["first"] is None:
            counted["first"] = time.perf_counter()
        counted["n"] += len(messages)
        if counted["n"] >= events:
            raise EnoughError

    client = WebSocketClient(
        api_key=KEY,
        feed=f"127.0.0.1:{port}",
        market="stocks",
        secure=False,
        custom_json=orjson,
        subscriptions=["Q.*", "T.*"],
        max_reconnects=0,
    )
    with contextlib.suppress(EnoughError):
        await client.connect(handle)
    elapsed = time.perf_counter() - counted["first"]
    return {"events": counted["n"], "seconds": elapsed}


async def client_ceiling(port: int, events: int, batch: int) -> dict:
    from websockets.asyncio.client import connect

    frames_needed = -(-events // batch)
    async with connect(f"ws://127.0.0.1:{port}/stocks", max_size=2**24) as ws:
        await ws.recv()
        await ws.send(json.dumps({"action": "auth", "params": KEY}))
        await ws.recv()
        await ws.send(json.dumps({"action": "subscribe", "params": "Q.*,T.*"}))
        await ws.recv()
        await ws.recv()
        frames, first = 0, None
        while frames < frames_needed:
            await ws.recv(decode=False)  # bytes, as our client reads them: no UTF-8 decode either
            if first is None:
                first = time.perf_counter()
            frames += 1
    return {"events": min(events, frames * batch), "seconds": time.perf_counter() - first}


def client_main(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(ROOT / "bot"))
    if args.client == "ours":
        result = asyncio.run(client_ours(args.port, args.events))
    elif args.client == "official":
        result = asyncio.run(client_official(args.port, args.events))
    else:
        result = asyncio.run(client_ceiling(args.port, args.events, args.batch))
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batches", default="1,10,100")
    parser.add_argument("--client", choices=CLIENTS)
    parser.add_argument("--port", type=int)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--trades", type=int, default=0)
    args = parser.parse_args()
    if args.client:
        client_main(args)
        return
    sys.path.insert(0, str(ROOT / "bot"))
    from tradingbot.market.massive.server import websocket_frames

    results: dict[str, dict] = {}
    for batch in (int(b) for b in args.batches.split(",")):
        frames, trades = build_frames(args.events, batch)
        blob = websocket_frames(frames)
        ready, stop, port_box = threading.Event(), threading.Event(), []
        thread = threading.Thread(target=serve, args=(blob, ready, port_box, stop), daemon=True)
        thread.start()
        ready.wait(30)
        rates: dict[str, list[float]] = {kind: [] for kind in CLIENTS}
        for repeat in range(args.repeats):
            order = CLIENTS[repeat % 3 :] + CLIENTS[: repeat % 3]
            for kind in order:
                result = run_client(kind, port_box[0], args.events, batch, trades)
                if kind == "ours" and (result["trades"] != trades or result["trades_dropped"]):
                    raise SystemExit(f"our client lost trades: {result} (sent {trades})")
                rates[kind].append(result["events"] / result["seconds"])
        stop.set()
        thread.join(10)
        median = {kind: statistics.median(values) for kind, values in rates.items()}
        results[f"{batch}_per_frame"] = {
            **{f"{kind}_events_per_s": round(value) for kind, value in median.items()},
            "ours_vs_official": round(median["ours"] / median["official"], 2),
            "ours_vs_ceiling": round(median["ours"] / median["ceiling"], 2),
            "trades_sent": trades,
        }
        r = results[f"{batch}_per_frame"]
        print(
            f"{batch:>3} events/frame: ours {r['ours_events_per_s']:,}/s, official {r['official_events_per_s']:,}/s "
            f"({r['ours_vs_official']}x), transport ceiling {r['ceiling_events_per_s']:,}/s "
            f"(ours at {r['ours_vs_ceiling']:.0%} of it); {trades} trades, none dropped",
            flush=True,
        )
    print(json.dumps({"bench": "ingest", "events": args.events, "repeats": args.repeats, "results": results}))


if __name__ == "__main__":
    main()
