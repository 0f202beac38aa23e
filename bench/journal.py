"""What the trade journal costs the online loop: steps per second of the same learning trader on the
default simulator, booking every fill in a SQLite journal on disk (WAL, ``synchronous=FULL``) and
committing it (one fsync) every 0.25 s as the bot's loop does before it reports, against no journal.

Both sides run the same agent (default network, trains every 100 steps) on the same market seed.
Runs alternate (with, without, without, with, …) so machine noise falls on both; medians and means over
repeats; the ratio with / without (1.0 = free; the budget is >= 0.90). Final JSON line.

    python bench/journal.py [--steps 1500] [--repeats 4] [--symbols SPY,QQQ] [--dir /path/on/the/volume]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch

from common import DEFAULT_NETWORK
from tradingbot.agent.agent import OptionsCLSTMPPOAgent
from tradingbot.agent.buffer import ExperienceBuffer
from tradingbot.agent.ppo import PPOConfig
from tradingbot.books.bookkeeper import Bookkeeper
from tradingbot.books.journal import open_journal
from tradingbot.env.actions import NUM_ACTIONS
from tradingbot.env.observation import OBSERVATION_SIZE
from tradingbot.env.paper import EnvironmentConfig, PaperTradingEnvironment
from tradingbot.market.sim.simulator import MarketSimulator, SimulatorConfig
from tradingbot.trader import Learner, Trader

WARMUP = 100
PUBLISH_INTERVAL_S = 0.25
"""As tradingbot.service.loop: how often the loop commits the journal and reports."""


def run(steps: int, symbols: tuple[str, ...], directory: Path | None) -> tuple[float, int]:
    """Steps per second, and journal commits (0 without a journal)."""
    market = MarketSimulator(SimulatorConfig(symbols, seed=0))
    env = PaperTradingEnvironment(market, EnvironmentConfig())
    books = None
    if directory is not None:
        path = directory / f"journal-{time.monotonic_ns()}.sqlite"
        journal = open_journal(str(path), "bench")
        journal.open_account(env.portfolio.snapshot())
        books = Bookkeeper(journal, env, market.state_dict)
    agent = OptionsCLSTMPPOAgent(DEFAULT_NETWORK, PPOConfig(), len(symbols), seed=0)
    buffer = ExperienceBuffer(len(symbols), OBSERVATION_SIZE, NUM_ACTIONS, DEFAULT_NETWORK.window)
    trader = Trader(env, Learner(agent, buffer, update_frequency=100, save_frequency=10**9, store=None), books=books)
    for _ in range(WARMUP):
        trader.tick()
    start = next_flush = time.perf_counter()
    for _ in range(steps):
        trader.tick()
        if time.perf_counter() >= next_flush:  # the loop's report cadence: commit, then report
            trader.flush()
            next_flush = time.perf_counter() + PUBLISH_INTERVAL_S
    trader.flush()
    rate = steps / (time.perf_counter() - start)
    commits = books.journal.commits if books is not None else 0
    if books is not None:
        books.journal.close()
    return rate, commits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--repeats", type=int, default=4)
    parser.add_argument("--symbols", default="SPY,QQQ")
    parser.add_argument("--dir", type=Path, help="where the journal files go (default: a temporary folder)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    symbols = tuple(args.symbols.split(","))
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        directory = Path(folder)
        with_journal, without, commits = [], [], []
        for repeat in range(args.repeats):
            order = (True, False) if repeat % 2 == 0 else (False, True)
            for booked in order:
                rate, made = run(args.steps, symbols, directory if booked else None)
                (with_journal if booked else without).append(rate)
                if booked:
                    commits.append(made)
    row = {
        "with_journal_median": statistics.median(with_journal),
        "without_median": statistics.median(without),
        "with_journal_mean": statistics.mean(with_journal),
        "without_mean": statistics.mean(without),
    }
    row["ratio_median"] = row["with_journal_median"] / row["without_median"]
    row["ratio_mean"] = row["with_journal_mean"] / row["without_mean"]
    print(
        f"{','.join(symbols)}: with the journal {row['with_journal_median']:.1f} steps/s "
        f"(mean {row['with_journal_mean']:.1f}) | without {row['without_median']:.1f} (mean {row['without_mean']:.1f})"
        f" | ratio median {row['ratio_median']:.3f}, mean {row['ratio_mean']:.3f} | "
        f"{statistics.mean(commits):.0f} commits a run"
    )
    print(
        json.dumps(
            {
                "bench": "journal",
                "peer": "the same online loop without a journal",
                "fsync": "SQLite WAL, synchronous=FULL: one fsync per commit, a commit every 0.25 s",
                "steps": args.steps,
                "repeats": args.repeats,
                "symbols": list(symbols),
                "commits_per_run": statistics.mean(commits),
                "results": {k: round(v, 3) for k, v in row.items()},
            }
        )
    )


if __name__ == "__main__":
    main()
