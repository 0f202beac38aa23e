"""Command line: ``tradingbot run`` (also ``python -m tradingbot run``)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import logging.handlers
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from tradingbot import __version__
from tradingbot.agent.checkpoint import CheckpointIncompatibleError
from tradingbot.app import Trader, build_trader, run_bot
from tradingbot.config import Settings, SettingsError, load_settings, setting_sources
from tradingbot.market.massive_source import FeedError
from tradingbot.server import ServerStartError

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
    for name, (env, flag) in setting_sources().items():
        if not flag:
            continue  # secrets come only from the environment
        field = Settings.model_fields[name]
        default = field.default
        shown = ",".join(default) if isinstance(default, tuple) else "unset" if default is None else default
        run.add_argument(
            flag,
            dest=name,
            default=None,
            metavar=env,
            help=f"{field.description} [env {env}, default {shown}]",
        )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, run the command, return the process exit code."""
    args = _parser().parse_args(argv)
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
    if settings.log_dir is not None:
        try:
            _log_to_files(settings.log_dir)
        except OSError as error:
            logging.getLogger("tradingbot").error("cannot start: LOG_DIR/--log-dir %s: %s", settings.log_dir, error)
            return 2
    try:
        trader = build_trader(settings)
    except (CheckpointIncompatibleError, FeedError, ValueError) as error:
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


def _log_to_files(directory: Path) -> None:
    """Also log to ``directory/bot.log``, rotated at 10 MB with 5 old files kept (the logs volume)."""
    directory.mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(directory / "bot.log", maxBytes=10 * 2**20, backupCount=5)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    logging.getLogger().addHandler(handler)


async def _run(settings: Settings, trader: Trader) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await run_bot(settings, trader, stop)


if __name__ == "__main__":
    sys.exit(main())
