"""``tradingbot serve-market``: Massive's wire protocol on 127.0.0.1, from the simulator or a recording."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import time
from pathlib import Path

from tradingbot_contract import env

LOCAL_KEY = "local-dev-key"
"""The API key the server accepts when ``MASSIVE_API_KEY`` is unset."""
HISTORY_MINUTES = 120
"""Minute bars served before the start, for clients' warm-up (simulated markets only)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Where to listen, and what to serve."""
    parser.add_argument("--source", choices=("sim", "replay"), default="sim")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--symbols", default="SPY,QQQ", help="simulated underlyings (comma-separated)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--interval", type=float, default=1.0, help="wall seconds per simulated minute")
    parser.add_argument("--replay-file", type=Path, help="a --record file (--source replay)")
    parser.add_argument("--speed", type=float, default=1.0, help="replay speed, a multiple of recorded time")


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT or SIGTERM; 2 when the recording is missing or the port cannot be had."""
    if args.source == "replay" and (args.replay_file is None or not args.replay_file.is_file()):
        print("tradingbot serve-market: --source replay needs an existing --replay-file", file=sys.stderr)
        return 2
    from tradingbot.market.clock import eastern  # noqa: PLC0415 - heavy imports after parsing
    from tradingbot.market.massive.server import MarketServer, recorded_frames  # noqa: PLC0415
    from tradingbot.market.sim.simulator import MarketSimulator, SimulatorConfig  # noqa: PLC0415
    from tradingbot.service.logs import LOG_FORMAT  # noqa: PLC0415

    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT, stream=sys.stdout)
    symbols = tuple(s.strip() for s in args.symbols.split(",") if s.strip())
    today = eastern(int(time.time() * 1000)).date()
    market = None if args.source == "replay" else MarketSimulator(SimulatorConfig(symbols, args.seed, today))
    frames = recorded_frames(args.replay_file, args.speed) if args.source == "replay" else None
    keys = {os.environ.get(env.MASSIVE_API_KEY.name) or LOCAL_KEY}

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        history = HISTORY_MINUTES if market is not None else 0
        async with MarketServer(
            market, keys, args.host, args.port, args.interval, frames, history_minutes=history
        ) as server:
            logging.getLogger("tradingbot").info("serving the Massive protocol on ws://%s:%d", args.host, server.port)
            await stop.wait()

    try:
        asyncio.run(serve())
    except OSError as error:
        print(f"tradingbot serve-market: cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 2
    return 0
