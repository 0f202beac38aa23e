"""``tradingbot market-report``: the simulated market measured against its calibration targets."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tradingbot_contract import env


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The preset, the sample's length, its underlyings and seed, and the charts' page."""
    presets = env.MARKET_PRESET.choices or ()
    parser.add_argument("--preset", choices=presets, default=env.MARKET_PRESET.default)
    parser.add_argument(
        "--days", type=int, default=1500, help="simulated trading days (at least 60; 1500: ~15 s a symbol)"
    )
    parser.add_argument("--symbols", default="SPY,QQQ,AAPL", help="underlyings, comma-separated")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--html", type=Path, help="also write the charts to this HTML file")


def run(args: argparse.Namespace) -> int:
    """Print the report (and write the HTML page); exit code 0, or 2 for bad arguments."""
    symbols = tuple(s.strip() for s in args.symbols.split(",") if s.strip())
    if args.days < 60 or not symbols:
        print("tradingbot market-report: --days must be at least 60 and --symbols not empty", file=sys.stderr)
        return 2
    from tradingbot.market.sim.calibration import sample  # noqa: PLC0415 - heavy imports after parsing
    from tradingbot.reports.market import html_report, text_report  # noqa: PLC0415

    samples = sample(args.preset, symbols, args.days, args.seed)
    lines, misses = text_report(args.preset, args.days, samples)
    print("\n".join(lines))
    if args.html is not None:
        args.html.write_text(html_report(args.preset, args.days, samples, lines), encoding="utf-8")
        print(f"charts written to {args.html}")
    print(f"{misses} statistic(s) outside their target band")
    return 0
