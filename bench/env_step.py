"""Environment steps per second on the built-in simulator, for one underlying and for four.

Two loops per case: ``hold`` (market advance, marking, expiry, observation) and ``random`` (the
same plus the action mask and a random valid action per underlying, i.e. what the trading loop
pays per step besides the policy). Median of repeats; prints a final JSON line.

    python bench/env_step.py [--steps 2000] [--repeats 3]     (inside the project's venv; or: make bench)
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

from tradingbot.env.paper import EnvironmentConfig, PaperTradingEnvironment
from tradingbot.market.simulator import MarketSimulator, SimulatorConfig
from tradingbot.policies import HoldPolicy, Policy, RandomPolicy

CASES = {"1_symbol": ("SPY",), "4_symbols": ("SPY", "QQQ", "AAPL", "IWM")}


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


def main() -> None:
    """Run every case and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    results: dict[str, dict[str, float]] = {}
    for case, symbols in CASES.items():
        for name, make in (("hold", lambda _s: HoldPolicy()), ("random", RandomPolicy)):
            runs = [steps_per_second(symbols, make(seed), args.steps, seed) for seed in range(args.repeats)]
            median = statistics.median(runs)
            results.setdefault(case, {})[f"{name}_steps_per_s"] = round(median, 1)
            print(f"{case:10s} {name:6s} {median:9.1f} steps/s  (runs: {', '.join(f'{r:.0f}' for r in runs)})")
    for case, figures in results.items():
        figures["symbol_steps_per_s_random"] = round(figures["random_steps_per_s"] * len(CASES[case]), 1)
    print(
        json.dumps(
            {
                "bench": "env_step",
                "python": platform.python_version(),
                "steps": args.steps,
                "repeats": args.repeats,
                "results": results,
            }
        )
    )


if __name__ == "__main__":
    main()
