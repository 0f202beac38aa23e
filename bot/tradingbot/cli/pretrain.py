"""``tradingbot pretrain``: one agent on N simulated markets, then a checkpoint that seeds a bot."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from tradingbot.cli.settings import add_setting_flags, settings_of

if TYPE_CHECKING:
    from tradingbot.offline.pretrain import Progress


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The settings' flags, the number of markets, the steps and where the checkpoint goes."""
    add_setting_flags(parser)
    parser.add_argument("--envs", type=int, default=8, help="independent simulated markets (default 8)")
    parser.add_argument("--steps", type=int, required=True, help="steps of every market, e.g. 39000 (100 days)")
    parser.add_argument("--out", type=Path, required=True, help="directory the checkpoint is written to")


def run(args: argparse.Namespace) -> int:
    """Progress lines on stdout, the checkpoint's path at the end; 2 for refused settings or a failed write."""
    settings = settings_of(args)
    if settings is None:
        return 2
    if settings.source != "sim":
        print("tradingbot pretrain: pre-training runs on the simulator (MARKET_SOURCE=sim)", file=sys.stderr)
        return 2
    if args.envs < 1 or args.steps < 1:
        print("tradingbot pretrain: --envs and --steps must be at least 1", file=sys.stderr)
        return 2
    from tradingbot.agent.checkpoint import CheckpointWriteError  # noqa: PLC0415 - heavy imports after parsing
    from tradingbot.offline.pretrain import pretrain  # noqa: PLC0415

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
