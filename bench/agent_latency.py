"""Decision latency of ``act()`` against sb3-contrib ``RecurrentPPO.predict``, side by side in one run.

Both get the same torch, float32, the same observation, LSTM hidden size 256 with one layer and a
128-unit MLP, their recurrent state carried between calls with ``episode_start`` false (online use),
a warm-up before timing, and sampling (not deterministic) actions. Ours also masks invalid actions.
Timed at 1 torch thread and at the default thread count; p50 and p99 of single calls, medians over
repeats; final JSON line with the ratios (ours / theirs: lower is better, target <= 0.25).

    python bench/agent_latency.py [--calls 3000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
from sb3_contrib import RecurrentPPO

from common import (
    DEFAULT_NETWORK,
    PEER_POLICY_KWARGS,
    GymPaperTrading,
    environment,
    median,
    parameter_count,
    percentile,
)
from tradingbot.agent.agent import OptionsCLSTMPPOAgent
from tradingbot.agent.ppo import PPOConfig


def observations(count: int) -> tuple[np.ndarray, np.ndarray]:
    """Real observations and masks from the simulator, so both agents see the same inputs."""
    env = environment(seed=0)
    obs, masks = [], []
    observation = env.reset()
    rng = np.random.default_rng(0)
    for _ in range(count):
        mask = env.action_mask()
        obs.append(observation)
        masks.append(mask)
        observation = env.step([int(rng.choice(np.flatnonzero(mask[0])))]).observation
    return np.stack(obs), np.stack(masks)


def time_ours(obs: np.ndarray, masks: np.ndarray, warmup: int) -> list[float]:
    agent = OptionsCLSTMPPOAgent(DEFAULT_NETWORK, PPOConfig(), streams=1, seed=0)
    for i in range(warmup):
        agent.act(obs[i], masks[i])
    samples = []
    for i in range(len(obs)):
        start = time.perf_counter()
        agent.act(obs[i], masks[i])
        samples.append(time.perf_counter() - start)
    return samples


def time_theirs(model: RecurrentPPO, obs: np.ndarray, warmup: int) -> list[float]:
    state = None
    start_flags = np.array([True])
    for i in range(warmup):
        _, state = model.predict(obs[i], state=state, episode_start=start_flags, deterministic=False)
        start_flags = np.array([False])
    samples = []
    for i in range(len(obs)):
        start = time.perf_counter()
        _, state = model.predict(obs[i], state=state, episode_start=start_flags, deterministic=False)
        samples.append(time.perf_counter() - start)
    return samples


def main() -> None:
    """Run both agents at 1 thread and the default thread count; print figures and a JSON line."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    default_threads = torch.get_num_threads()
    obs, masks = observations(args.calls)
    peer = RecurrentPPO("MlpLstmPolicy", GymPaperTrading(), policy_kwargs=PEER_POLICY_KWARGS, device="cpu", seed=0)
    ours_params = parameter_count(OptionsCLSTMPPOAgent(DEFAULT_NETWORK, PPOConfig(), 1).network)
    results: dict[str, dict[str, float]] = {}
    for threads in sorted({1, default_threads}):
        torch.set_num_threads(threads)
        ours_p50, ours_p99, theirs_p50, theirs_p99 = [], [], [], []
        for repeat in range(args.repeats):
            order = ("ours", "theirs") if repeat % 2 == 0 else ("theirs", "ours")
            for who in order:
                if who == "ours":
                    samples = time_ours(obs, masks, warmup=200)
                    ours_p50.append(percentile(samples, 50))
                    ours_p99.append(percentile(samples, 99))
                else:
                    samples = time_theirs(peer, obs[:, 0], warmup=200)
                    theirs_p50.append(percentile(samples, 50))
                    theirs_p99.append(percentile(samples, 99))
        row = {
            "ours_p50_us": median(ours_p50) * 1e6,
            "ours_p99_us": median(ours_p99) * 1e6,
            "theirs_p50_us": median(theirs_p50) * 1e6,
            "theirs_p99_us": median(theirs_p99) * 1e6,
        }
        row["ratio_p50"] = row["ours_p50_us"] / row["theirs_p50_us"]
        row["ratio_p99"] = row["ours_p99_us"] / row["theirs_p99_us"]
        results[f"threads_{threads}"] = {k: round(v, 3) for k, v in row.items()}
        print(
            f"threads={threads}: ours p50 {row['ours_p50_us']:.0f} us p99 {row['ours_p99_us']:.0f} us | "
            f"RecurrentPPO.predict p50 {row['theirs_p50_us']:.0f} us p99 {row['theirs_p99_us']:.0f} us | "
            f"ratio p50 {row['ratio_p50']:.3f} p99 {row['ratio_p99']:.3f}"
        )
    print(
        json.dumps(
            {
                "bench": "agent_latency",
                "peer": "sb3-contrib RecurrentPPO.predict 2.9.2",
                "torch": torch.__version__,
                "calls": args.calls,
                "repeats": args.repeats,
                "params": {"ours": ours_params, "theirs": parameter_count(peer.policy)},
                "results": results,
            }
        )
    )


if __name__ == "__main__":
    main()
