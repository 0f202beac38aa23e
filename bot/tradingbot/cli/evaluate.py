"""``tradingbot evaluate``: the agent against hold and random on identical simulated markets."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tradingbot.cli.settings import add_setting_flags, settings_of


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The settings' flags, the checkpoint, the sample's size and the report page."""
    add_setting_flags(parser)
    parser.add_argument("--checkpoint", type=Path, help="a checkpoint file, or a directory (its newest)")
    parser.add_argument("--days", type=int, default=60, help="trading sessions per market (default 60)")
    parser.add_argument("--seeds", type=int, default=3, help="markets, seeds 0..N-1 (default 3)")
    parser.add_argument("--online", action="store_true", help="the agent keeps learning, as the bot does")
    parser.add_argument("--html", type=Path, help="also write the report page (charts) to this file")
    parser.add_argument(
        "--workers", type=int, default=1, help="episodes run at once, each in its own process (default 1)"
    )


def run(args: argparse.Namespace) -> int:
    """The table on stdout; a refused argument or checkpoint on stderr (exit 2)."""
    settings = settings_of(args)
    if settings is None:
        return 2
    if args.days < 1 or args.seeds < 1 or args.workers < 1:
        print("tradingbot evaluate: --days, --seeds and --workers must be at least 1", file=sys.stderr)
        return 2
    from tradingbot.agent.checkpoint import CheckpointError, load_weights  # noqa: PLC0415 - heavy imports after parsing
    from tradingbot.build import network_config  # noqa: PLC0415
    from tradingbot.offline.evaluation import evaluate, evaluation_data, format_summary  # noqa: PLC0415
    from tradingbot.reports.trading import render  # noqa: PLC0415

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
            args.html.write_text(render(evaluation_data(evaluation, summary)))
        except OSError as error:
            print(f"tradingbot evaluate: cannot write {args.html}: {error}", file=sys.stderr)
            return 2
        print(f"report written: {args.html}")
    return 0
