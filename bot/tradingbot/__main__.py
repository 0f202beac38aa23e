"""Command line: ``tradingbot run``, ``trades``, ``serve-market``, ``market-report`` (or ``python -m tradingbot …``)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import logging.handlers
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from tradingbot import __version__
from tradingbot.agent.checkpoint import CheckpointIncompatibleError
from tradingbot.app import build_trader
from tradingbot.books.history import print_trades
from tradingbot.books.journal import JournalError
from tradingbot.config import Settings, SettingsError, load_settings, setting_sources
from tradingbot.learning import Trader
from tradingbot.loop import run_bot
from tradingbot.market import report as market_report
from tradingbot.market.clock import eastern
from tradingbot.market.massive_server import MarketServer, recorded_frames
from tradingbot.market.massive_source import FeedError
from tradingbot.market.simulator import MarketSimulator, SimulatorConfig
from tradingbot.redaction import redact_logs
from tradingbot.server import ServerStartError
from tradingbot_contract import env

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tradingbot", description="Self-learning options paper-trading bot.")
    parser.add_argument("--version", action="version", version=f"tradingbot {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser(
        "run",
        help="paper-trade on the chosen market source",
        description="Paper-trade options on the chosen market source. Every flag can also be set by its "
        "environment variable (shown in brackets); a flag overrides its variable.",
    )
    for name, (variable, flag) in setting_sources().items():
        if not flag:
            continue  # secrets come only from the environment
        field = Settings.model_fields[name]
        default = field.default
        shown = ",".join(default) if isinstance(default, tuple) else "unset" if default is None else default
        run.add_argument(
            flag,
            dest=name,
            default=None,
            metavar=variable,
            help=f"{field.description} [env {variable}, default {shown}]".replace("%", "%%"),  # argparse formats help
        )
    trades = commands.add_parser(
        "trades",
        help="print the trade journal's fills",
        description="Print a bot's fills from its trade journal (a SQLite file, or JOURNAL=postgresql://… in "
        "the environment), oldest first.",
    )
    trades.add_argument("--journal", help="the journal: a SQLite file or a postgresql:// URL [env JOURNAL]")
    trades.add_argument("--bot", help="whose fills (needed when the journal holds several bots)")
    trades.add_argument("--format", choices=("table", "csv", "json"), default="table")
    trades.add_argument("--since", help="fills from this market time on: YYYY-MM-DD or an ISO time (US/Eastern)")
    trades.add_argument("--symbol", help="fills on this underlying only, e.g. SPY")
    trades.add_argument("--limit", type=int, help="at most this many fills")
    serve = commands.add_parser(
        "serve-market",
        help="serve Massive's wire protocol on 127.0.0.1 from the simulator or a recording",
        description="A local Massive look-alike: WebSocket /stocks and /options, REST /v3/snapshot/options. "
        "It accepts the API key in MASSIVE_API_KEY (default: local-dev-key).",
    )
    serve.add_argument("--source", choices=("sim", "replay"), default="sim")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8765)
    serve.add_argument("--symbols", default="SPY,QQQ", help="simulated underlyings (comma-separated)")
    serve.add_argument("--seed", type=int, default=0)
    serve.add_argument("--interval", type=float, default=1.0, help="wall seconds per simulated minute")
    serve.add_argument("--replay-file", type=Path, help="a --record file (--source replay)")
    serve.add_argument("--speed", type=float, default=1.0, help="replay speed, a multiple of recorded time")
    report = commands.add_parser(
        "market-report",
        help="measure the simulated market against its calibration targets",
        description="Simulate a preset for --days trading days and print each calibration statistic beside its "
        "target band (docs/market-calibration.md gives the sources); --html also writes the charts.",
    )
    market_report.add_arguments(report)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, run the command, return the process exit code."""
    args = _parser().parse_args(argv)
    if args.command == "serve-market":
        return serve_market(args)
    if args.command == "trades":
        return print_trades(args)
    if args.command == "market-report":
        return market_report.run(args)
    try:
        settings = load_settings(os.environ, vars(args))
    except SettingsError as error:
        print(f"tradingbot: {error}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level,
        format=LOG_FORMAT,
        stream=sys.stdout,
    )
    redact_logs(settings.secret_values())
    if settings.log_dir is not None:
        try:
            _log_to_files(settings.log_dir, settings.secret_values())
        except OSError as error:
            logging.getLogger("tradingbot").error("cannot start: LOG_DIR/--log-dir %s: %s", settings.log_dir, error)
            return 2
    try:
        trader = build_trader(settings)
    except (CheckpointIncompatibleError, FeedError, JournalError, ValueError) as error:
        logging.getLogger("tradingbot").error("cannot start: %s", error)
        return 2
    try:
        asyncio.run(_run(settings, trader))
    except ServerStartError as error:
        logging.getLogger("tradingbot").error("cannot start: %s (set --port/HTTP_PORT)", error)
        return 2
    except FeedError as error:
        logging.getLogger("tradingbot").error("stopped: the market feed failed: %s", error)
        return 2
    return 0


def serve_market(args: argparse.Namespace) -> int:
    """``tradingbot serve-market``: serve until SIGINT or SIGTERM."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT, stream=sys.stdout)
    if args.source == "replay" and (args.replay_file is None or not args.replay_file.is_file()):
        print("tradingbot serve-market: --source replay needs an existing --replay-file", file=sys.stderr)
        return 2
    symbols = tuple(s.strip() for s in args.symbols.split(",") if s.strip())
    today = eastern(int(time.time() * 1000)).date()
    market = None if args.source == "replay" else MarketSimulator(SimulatorConfig(symbols, args.seed, today))
    frames = recorded_frames(args.replay_file, args.speed) if args.source == "replay" else None
    keys = {os.environ.get(env.MASSIVE_API_KEY.name) or "local-dev-key"}

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        history = 120 if market is not None else 0  # minute bars for clients' warm-up
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


def _log_to_files(directory: Path, secrets: list[str]) -> None:
    """Also log to ``directory/bot.log``, rotated at 10 MB with 5 old files kept (the logs volume)."""
    directory.mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(directory / "bot.log", maxBytes=10 * 2**20, backupCount=5)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    redact_logs(secrets, [handler])
    logging.getLogger().addHandler(handler)


async def _run(settings: Settings, trader: Trader) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await run_bot(settings, trader, stop)


if __name__ == "__main__":
    sys.exit(main())
