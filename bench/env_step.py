"""Environment steps per second on the built-in simulator, for one, four and sixteen underlyings.

Two loops per case: ``hold`` (market advance, marking, expiry, observation) and ``random`` (the
same plus the action mask and a random valid action per underlying, i.e. what the trading loop
pays per step besides the policy).

``--baseline REF`` measures the simulator of git revision REF (checked out in a temporary worktree)
side by side with this tree: each run is a fresh process, ours and the baseline's interleaved (the
order alternates every repeat); it prints medians and means over the repeats and our ratio. Prints a
final JSON line. A revision from before the modules moved into ``market/sim`` and ``baselines``
(0a2c77a and older) is measured through its own module names.

    python bench/env_step.py [--steps 1000] [--repeats 3] [--baseline HEAD~5]   (inside the project's venv)
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

from tradingbot.env.paper import EnvironmentConfig, PaperTradingEnvironment
from worktree import checked_out, environment_for

try:
    from tradingbot.baselines import HoldPolicy, Policy, RandomPolicy
    from tradingbot.market.sim.simulator import MarketSimulator, SimulatorConfig
except ImportError:  # a baseline revision from before the house moved (its worker imports its own names)
    from tradingbot.market.simulator import MarketSimulator, SimulatorConfig
    from tradingbot.policies import HoldPolicy, Policy, RandomPolicy

CASES = {
    "1_symbol": ("SPY",),
    "4_symbols": ("SPY", "QQQ", "AAPL", "IWM"),
    "16_symbols": (
        *("SPY", "QQQ", "AAPL", "IWM", "MSFT", "NVDA", "AMZN", "GOOGL"),
        *("META", "TSLA", "AMD", "JPM", "XOM", "DIA", "BRK.B", "NFLX"),
    ),
}
POLICIES = ("hold", "random")


def steps_per_second(symbols: tuple[str, ...], policy: Policy, steps: int, seed: int) -> float:
    """Steps per second of one fresh environment driven by ``policy``."""
    env = PaperTradingEnvironment(MarketSimulator(SimulatorConfig(symbols, seed=seed)), EnvironmentConfig())
    observation = env.reset()
    for _ in range(50):  # warm-up: caches, first listing
        observation = env.step(policy.act(observation, env.action_mask())).observation
    start = time.perf_counter()
    for _ in range(steps):
        observation = env.step(policy.act(observation, env.action_mask())).observation
    return steps / (time.perf_counter() - start)


def _measure(case: str, policy: str, steps: int, seed: int) -> float:
    chosen: Policy = HoldPolicy() if policy == "hold" else RandomPolicy(seed)
    return steps_per_second(CASES[case], chosen, steps, seed)


def _in_subprocess(case: str, policy: str, steps: int, seed: int, tree: Path | None) -> float:
    """One measurement in a fresh interpreter whose ``tradingbot`` comes from ``tree`` (``None``: this one)."""
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", case, policy, str(steps), str(seed)]
    output = subprocess.run(command, env=environment_for(tree), check=True, capture_output=True, text=True).stdout
    return float(output.strip().splitlines()[-1])


def _summary(runs: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(runs), 1), "mean": round(statistics.fmean(runs), 1)}


def compare(baseline: Path, steps: int, repeats: int) -> dict[str, dict[str, object]]:
    """Ours against ``baseline``'s tree, interleaved, per case and policy."""
    from common import take_turns  # not at the top: a baseline's worker runs this file with its own tradingbot

    results: dict[str, dict[str, object]] = {}
    for case in CASES:
        for policy in POLICIES:
            runs = take_turns(
                [
                    ("ours", lambda seed, c=case, p=policy: _in_subprocess(c, p, steps, seed, None)),
                    ("baseline", lambda seed, c=case, p=policy: _in_subprocess(c, p, steps, seed, baseline)),
                ],
                repeats,
            )
            mine, base = _summary(runs["ours"]), _summary(runs["baseline"])
            ratio = round(mine["median"] / base["median"], 2)
            results[f"{case}/{policy}"] = {"ours": mine, "baseline": base, "ratio_median": ratio}
            print(
                f"{case:10s} {policy:6s} ours {mine['median']:8.1f} (mean {mine['mean']:8.1f})  "
                f"baseline {base['median']:8.1f} (mean {base['mean']:8.1f})  ratio {ratio:.2f}",
                flush=True,
            )
    return results


def main() -> None:
    """Run every case and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--baseline", help="a git revision whose simulator to measure side by side")
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        case, policy, steps, seed = args.worker
        print(_measure(case, policy, int(steps), int(seed)))
        return
    report: dict[str, object] = {"bench": "env_step", "python": platform.python_version(), "steps": args.steps}
    if args.baseline:
        with checked_out(args.baseline) as tree:
            report |= {"baseline": args.baseline, "results": compare(tree, args.steps, args.repeats)}
    else:
        results: dict[str, dict[str, float]] = {}
        for case in CASES:
            for policy in POLICIES:
                runs = [_measure(case, policy, args.steps, seed) for seed in range(args.repeats)]
                results[f"{case}/{policy}"] = _summary(runs)
                print(f"{case:10s} {policy:6s} {statistics.median(runs):9.1f} steps/s  (runs: {runs})", flush=True)
        report["results"] = results
    print(json.dumps(report | {"repeats": args.repeats}))


if __name__ == "__main__":
    main()
