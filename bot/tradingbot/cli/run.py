"""``tradingbot run``: paper-trade on the chosen market source until SIGINT or SIGTERM (or ``--max-steps``)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal

from tradingbot.cli.settings import add_setting_flags, settings_of


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Every setting's flag."""
    add_setting_flags(parser)


def run(args: argparse.Namespace) -> int:
    """Trade; 0 after a clean stop, 2 with one log line when the bot cannot start or its feed fails."""
    settings = settings_of(args)
    if settings is None:
        return 2
    from tradingbot.service.logs import log_to_files, log_to_stdout  # noqa: PLC0415 - heavy imports after parsing

    log_to_stdout(settings.log_level, settings.secret_values())
    log = logging.getLogger("tradingbot")
    if settings.log_dir is not None:
        try:
            log_to_files(settings.log_dir, settings.secret_values())
        except OSError as error:
            log.error("cannot start: LOG_DIR/--log-dir %s: %s", settings.log_dir, error)
            return 2
    log.info("starting: loading the market, the books and the model")
    from tradingbot.agent.checkpoint import CheckpointIncompatibleError  # noqa: PLC0415
    from tradingbot.books.journal import JournalError  # noqa: PLC0415
    from tradingbot.build import build_trader  # noqa: PLC0415
    from tradingbot.market.source import FeedError  # noqa: PLC0415
    from tradingbot.service.loop import run_bot  # noqa: PLC0415
    from tradingbot.service.server import ServerStartError  # noqa: PLC0415

    try:
        trader = build_trader(settings)
    except (CheckpointIncompatibleError, FeedError, JournalError, ValueError) as error:
        log.error("cannot start: %s", error)
        return 2

    async def trade() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run_bot(settings, trader, stop)

    try:
        asyncio.run(trade())
    except ServerStartError as error:
        log.error("cannot start: %s (set --port/HTTP_PORT)", error)
        return 2
    except FeedError as error:
        log.error("stopped: the market feed failed: %s", error)
        return 2
    return 0
