"""Command line: ``tradingbot run``, ``pretrain``, ``evaluate``, ``report``, ``trades``, ``serve-market``,
``market-report`` (or ``python -m tradingbot …``)."""

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
from tradingbot.agent.checkpoint import CheckpointError, CheckpointIncompatibleError, CheckpointWriteError, load_weights
from tradingbot.books.history import print_trades
from tradingbot.books.journal import JournalError
from tradingbot.build import build_trader, network_config
from tradingbot.config import Settings, SettingsError, load_settings, setting_sources
from tradingbot.market.clock import eastern
from tradingbot.market.massive.server import MarketServer, recorded_frames
from tradingbot.market.sim.simulator import MarketSimulator, SimulatorConfig
from tradingbot.market.source import FeedError
from tradingbot.offline.evaluation import evaluate, format_summary
from tradingbot.offline.pretrain import Progress, pretrain
from tradingbot.reports import market as market_report
from tradingbot.reports import trading as trading_report
from tradingbot.service.loop import run_bot
from tradingbot.service.redaction import redact_logs
from tradingbot.service.server import ServerStartError
from tradingbot.trader import Trader
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
    _add_settings(run)
    pretraining = commands.add_parser(
        "pretrain",
        help="train the agent on N simulated markets at once and write a checkpoint that seeds a bot",
        description="Pre-train on --envs independent simulated markets (the bot's own settings: symbols, "
        "risk budget, network, PPO) for --steps steps each, one batched forward per step across them, then "
        "write a checkpoint to --out; point a bot's MODEL_DIR (the TradingBot's models volume) at it.",
    )
    _add_settings(pretraining)
    pretraining.add_argument("--envs", type=int, default=8, help="independent simulated markets (default 8)")
    pretraining.add_argument("--steps", type=int, required=True, help="steps of every market, e.g. 39000 (100 days)")
    pretraining.add_argument("--out", type=Path, required=True, help="directory the checkpoint is written to")
    evaluating = commands.add_parser(
        "evaluate",
        help="run the agent against hold and random on identical simulated markets",
        description="Run the agent (a --checkpoint's weights, else a fresh network), hold and random for --days "
        "sessions on each of --seeds simulated markets (seeds 0, 1, ...: never pre-training markets) with the "
        "bot's settings, and print each policy's figures as mean ± standard error over the seeds.",
    )
    _add_settings(evaluating)
    evaluating.add_argument("--checkpoint", type=Path, help="a checkpoint file, or a directory (its newest)")
    evaluating.add_argument("--days", type=int, default=60, help="trading sessions per market (default 60)")
    evaluating.add_argument("--seeds", type=int, default=3, help="markets, seeds 0..N-1 (default 3)")
    evaluating.add_argument("--online", action="store_true", help="the agent keeps learning, as the bot does")
    evaluating.add_argument("--html", type=Path, help="also write the report page (charts) to this file")
    evaluating.add_argument(
        "--workers", type=int, default=1, help="episodes run at once, each in its own process (default 1)"
    )
    reporting = commands.add_parser(
        "report",
        help="write an HTML report of a trade journal",
        description="A self-contained HTML page of a bot's trade journal: realised equity and drawdown, daily "
        "P&L, P&L by underlying and by kind of trade, the distribution of closed trades' P&L.",
    )
    trading_report.add_arguments(reporting)
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


def _add_settings(command: argparse.ArgumentParser) -> None:
    """Every setting's flag (``--preset`` too, for ``--market-preset``); secrets come only from the environment."""
    for name, (variable, flag) in setting_sources().items():
        if not flag:
            continue
        field = Settings.model_fields[name]
        default = field.default
        shown = ",".join(default) if isinstance(default, tuple) else "unset" if default is None else default
        command.add_argument(
            flag,
            *(("--preset",) if name == "market_preset" else ()),
            dest=name,
            default=None,
            metavar=variable,
            help=f"{field.description} [env {variable}, default {shown}]".replace("%", "%%"),  # argparse formats help
        )


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, run the command, return the process exit code."""
    args = _parser().parse_args(argv)
    if args.command == "serve-market":
        return serve_market(args)
    if args.command == "trades":
        return print_trades(args)
    if args.command == "market-report":
        return market_report.run(args)
    if args.command == "report":
        return trading_report.run(args)
    try:
        settings = load_settings(os.environ, vars(args))
    except SettingsError as error:
        print(f"tradingbot: {error}", file=sys.stderr)
        return 2
    if args.command == "pretrain":
        return run_pretrain(settings, args)
    if args.command == "evaluate":
        return run_evaluate(settings, args)
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


def run_pretrain(settings: Settings, args: argparse.Namespace) -> int:
    """``tradingbot pretrain``: progress lines on stdout, the checkpoint's path at the end."""
    if settings.source != "sim":
        print("tradingbot pretrain: pre-training runs on the simulator (MARKET_SOURCE=sim)", file=sys.stderr)
        return 2
    if args.envs < 1 or args.steps < 1:
        print("tradingbot pretrain: --envs and --steps must be at least 1", file=sys.stderr)
        return 2

    def show(progress: Progress) -> None:
        update = progress.last_update
        losses = (
            f" | policy {update.policy_loss:+.4f} value {update.value_loss:.4f} entropy {update.entropy:.3f} "
            f"kl {update.approx_kl:.4f} ev {update.explained_variance:+.2f}"
            if update is not None
            else ""
        )
        done = 100 * progress.step / args.steps
        print(
            f"pretrain {progress.step}/{args.steps} ({done:.0f}%) {progress.steps_per_second:,.0f} steps/s | "
            f"reward/step {progress.mean_reward:+.5f} | trades/day {progress.trades_per_day:.1f}{losses}",
            flush=True,
        )

    try:
        path = pretrain(settings, args.envs, args.steps, args.out, show)
    except (CheckpointWriteError, ValueError) as error:
        print(f"tradingbot pretrain: {error}", file=sys.stderr)
        return 2
    print(f"checkpoint written: {path} (set MODEL_DIR={args.out} to seed a bot with it)", flush=True)
    return 0


def run_evaluate(settings: Settings, args: argparse.Namespace) -> int:
    """``tradingbot evaluate``: the table on stdout; a refused argument or checkpoint on stderr."""
    if args.days < 1 or args.seeds < 1 or args.workers < 1:
        print("tradingbot evaluate: --days, --seeds and --workers must be at least 1", file=sys.stderr)
        return 2
    weights = None
    if args.checkpoint is not None:
        try:
            weights = load_weights(args.checkpoint, network_config(settings))
        except CheckpointError as error:
            print(f"tradingbot evaluate: {error}", file=sys.stderr)
            return 2
    evaluation = evaluate(settings, range(args.seeds), args.days, weights, args.online, args.workers)
    learning = "learning online" if args.online else "learning frozen"
    source = args.checkpoint or "a fresh network"
    print(
        f"{settings.market_preset} market, {','.join(settings.symbols)}, {args.seeds} seeds x {args.days} sessions; "
        f"agent: {source}, {learning}"
    )
    summary = format_summary(evaluation)
    print(summary)
    if args.html is not None:
        try:
            args.html.write_text(trading_report.render(trading_report.evaluation_data(evaluation, summary)))
        except OSError as error:
            print(f"tradingbot evaluate: cannot write {args.html}: {error}", file=sys.stderr)
            return 2
        print(f"report written: {args.html}")
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
