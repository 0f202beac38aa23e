"""Command line: ``tradingbot run`` (also ``python -m tradingbot run``)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Sequence

from tradingbot import __version__
from tradingbot.agent.checkpoint import CheckpointIncompatibleError
from tradingbot.app import Trader, build_trader, run_bot
from tradingbot.config import Settings, SettingsError, load_settings, setting_sources
from tradingbot.server import ServerStartError


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
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stdout,
    )
    try:
        trader = build_trader(settings)
    except (CheckpointIncompatibleError, ValueError) as error:
        logging.getLogger("tradingbot").error("cannot start: %s", error)
        return 2
    try:
        asyncio.run(_run(settings, trader))
    except ServerStartError as error:
        logging.getLogger("tradingbot").error("cannot start: %s (set --port/HTTP_PORT)", error)
        return 2
    return 0


async def _run(settings: Settings, trader: Trader) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await run_bot(settings, trader, stop)


if __name__ == "__main__":
    sys.exit(main())
