"""How long the command line takes to answer ``--help``: ``tradingbot --help``, ``tradingbot trades --help``
and ``tradingbot report --help`` (and every other command's), each in a fresh interpreter, this tree
against a baseline revision (default: 0a2c77a, the last head before the commands moved into ``cli/``).

The two sides take turns within each repeat (the order reversed on odd repeats); it prints each command's
median and mean wall time per side and the baseline / ours ratio (higher is better), then a JSON line.

    python bench/cli_startup.py [--repeats 9] [--baseline 0a2c77a]   (inside the project's venv)
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import take_turns
from worktree import checked_out, environment_for

COMMANDS = (
    (),
    ("trades",),
    ("report",),
    ("run",),
    ("pretrain",),
    ("evaluate",),
    ("serve-market",),
    ("market-report",),
)
"""The commands whose ``--help`` is timed (the first: the top level)."""
BASELINE = "0a2c77a"


def wall_time(command: tuple[str, ...], tree: Path | None) -> float:
    """Seconds from starting ``python -m tradingbot *command --help`` to its exit, ``tree``'s code (``None``:
    this checkout's)."""
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "tradingbot", *command, "--help"],
        env=environment_for(tree),
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def compare(baseline: Path, repeats: int) -> dict[str, dict[str, object]]:
    """Each command's times on both sides, taking turns."""
    results: dict[str, dict[str, object]] = {}
    for command in COMMANDS:
        runs = take_turns(
            [
                ("ours", lambda _, c=command: wall_time(c, None)),
                ("baseline", lambda _, c=command: wall_time(c, baseline)),
            ],
            repeats,
        )
        summary = {
            name: {"median_s": round(statistics.median(v), 3), "mean_s": round(statistics.fmean(v), 3)}
            for name, v in runs.items()
        }
        ratio = statistics.median(runs["baseline"]) / statistics.median(runs["ours"])
        label = " ".join(("tradingbot", *command, "--help"))
        results[label] = {**summary, "speedup_median": round(ratio, 1)}
        print(
            f"{label:38s} ours {summary['ours']['median_s']:6.3f} s (mean {summary['ours']['mean_s']:6.3f})  "
            f"baseline {summary['baseline']['median_s']:6.3f} s (mean {summary['baseline']['mean_s']:6.3f})  "
            f"{ratio:5.1f}x",
            flush=True,
        )
    return results


def main() -> None:
    """Time every command's ``--help`` on both sides and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--baseline", default=BASELINE, help="the git revision to compare with")
    args = parser.parse_args()
    with checked_out(args.baseline) as tree:
        results = compare(tree, args.repeats)
    report = {"bench": "cli_startup", "python": platform.python_version(), "baseline": args.baseline}
    print(json.dumps(report | {"repeats": args.repeats, "results": results}))


if __name__ == "__main__":
    main()
