"""The command line: ``tradingbot run``, ``pretrain``, ``evaluate``, ``report``, ``trades``, ``serve-market``,
``market-report`` (or ``python -m tradingbot …``).

One module per command, each with ``add_arguments(parser)`` and ``run(args) -> int`` (the exit code). Only
what ``--help`` needs is imported here; a command imports its heavy parts (torch, numpy, the market) inside
its ``run``, so ``--help`` answers at once and Ctrl-C at any moment exits cleanly.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from types import ModuleType

from tradingbot import __version__
from tradingbot.cli import evaluate, market_report, pretrain, report, run, serve_market, trades

COMMANDS: dict[str, tuple[ModuleType, str, str]] = {
    "run": (
        run,
        "paper-trade on the chosen market source",
        "Paper-trade options on the chosen market source. Every flag can also be set by its environment variable "
        "(shown in brackets); a flag overrides its variable.",
    ),
    "pretrain": (
        pretrain,
        "train the agent on N simulated markets at once and write a checkpoint that seeds a bot",
        "Pre-train on --envs independent simulated markets (the bot's own settings: symbols, risk budget, network, "
        "PPO) for --steps steps each, one batched forward per step across them, then write a checkpoint to --out; "
        "point a bot's MODEL_DIR (the TradingBot's models volume) at it.",
    ),
    "evaluate": (
        evaluate,
        "run the agent against hold and random on identical simulated markets",
        "Run the agent (a --checkpoint's weights, else a fresh network), hold and random for --days sessions on "
        "each of --seeds simulated markets (seeds 0, 1, ...: never pre-training markets) with the bot's settings, "
        "and print each policy's figures as mean ± standard error over the seeds.",
    ),
    "report": (
        report,
        "write an HTML report of a trade journal",
        "A self-contained HTML page of a bot's trade journal: realised equity and drawdown, daily P&L, P&L by "
        "underlying and by kind of trade, the distribution of closed trades' P&L.",
    ),
    "trades": (
        trades,
        "print the trade journal's fills",
        "Print a bot's fills from its trade journal (a SQLite file, or JOURNAL=postgresql://… in the environment), "
        "oldest first.",
    ),
    "serve-market": (
        serve_market,
        "serve Massive's wire protocol on 127.0.0.1 from the simulator or a recording",
        "A local Massive look-alike: WebSocket /stocks and /options, REST /v3/snapshot/options. It accepts the API "
        "key in MASSIVE_API_KEY (default: local-dev-key).",
    ),
    "market-report": (
        market_report,
        "measure the simulated market against its calibration targets",
        "Simulate a preset for --days trading days and print each calibration statistic beside its target band "
        "(docs/market-calibration.md gives the sources); --html also writes the charts.",
    ),
}
"""Each command: its module, its one-line help and its description."""


def parser() -> argparse.ArgumentParser:
    """The whole command line."""
    top = argparse.ArgumentParser(prog="tradingbot", description="Self-learning options paper-trading bot.")
    top.add_argument("--version", action="version", version=f"tradingbot {__version__}")
    commands = top.add_subparsers(dest="command", required=True)
    for name, (module, summary, description) in COMMANDS.items():
        module.add_arguments(commands.add_parser(name, help=summary, description=description))
    return top


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, run the command, return the process exit code."""
    args = parser().parse_args(argv)
    module: ModuleType = COMMANDS[args.command][0]
    code: int = module.run(args)
    return code
