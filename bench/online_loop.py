"""Steps per second of the whole online loop on the simulator, against the same environment wrapped for
gymnasium and driven by sb3-contrib ``RecurrentPPO.learn``.

Both act on every step, train every 100 steps (4 epochs of 4 minibatches, no KL early stop) with the
same sizes (LSTM 256, one layer, 128-unit MLP) on one underlying of the default simulator, float32,
same torch; no checkpoints, no logging. Ours also computes the action mask each step. Each side
runs a warm-up of 200 steps first; steps per second = timed steps / wall time; median over repeats;
final JSON line with the ratio (ours / theirs: higher is better, target >= 2).

    python bench/online_loop.py [--steps 2000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from sb3_contrib import RecurrentPPO

from common import DEFAULT_NETWORK, PEER_POLICY_KWARGS, GymPaperTrading, environment, median
from tradingbot.agent.agent import OptionsCLSTMPPOAgent
from tradingbot.agent.buffer import ExperienceBuffer
from tradingbot.agent.ppo import PPOConfig
from tradingbot.env.actions import NUM_ACTIONS
from tradingbot.env.observation import OBSERVATION_SIZE
from tradingbot.learning import LearningTrader

UPDATE_EVERY = 100
WARMUP = 200


def ours(steps: int, seed: int) -> float:
    """Steps per second of our online loop."""
    agent = OptionsCLSTMPPOAgent(
        DEFAULT_NETWORK, PPOConfig(epochs=4, minibatches=4, target_kl=None), streams=1, seed=seed
    )
    buffer = ExperienceBuffer(1, OBSERVATION_SIZE, NUM_ACTIONS, DEFAULT_NETWORK.window)
    trader = LearningTrader(
        environment(seed), agent, buffer, update_frequency=UPDATE_EVERY, save_frequency=10**9, store=None
    )
    for _ in range(WARMUP):
        trader.tick()
    start = time.perf_counter()
    for _ in range(steps):
        trader.tick()
    return steps / (time.perf_counter() - start)


def theirs(steps: int, seed: int) -> float:
    """Steps per second of RecurrentPPO.learn on the same environment."""
    model = RecurrentPPO(
        "MlpLstmPolicy",
        GymPaperTrading(seed),
        n_steps=UPDATE_EVERY,
        batch_size=UPDATE_EVERY // 4,
        n_epochs=4,
        policy_kwargs=PEER_POLICY_KWARGS,
        device="cpu",
        seed=seed,
    )
    model.learn(WARMUP)
    start = time.perf_counter()
    model.learn(steps, reset_num_timesteps=False)
    return steps / (time.perf_counter() - start)


def main() -> None:
    """Both loops at 1 thread and the default thread count; figures and a JSON line."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    default_threads = torch.get_num_threads()
    results = {}
    for threads in sorted({1, default_threads}):
        torch.set_num_threads(threads)
        ours_runs, theirs_runs = [], []
        for repeat in range(args.repeats):
            if repeat % 2 == 0:
                ours_runs.append(ours(args.steps, repeat))
                theirs_runs.append(theirs(args.steps, repeat))
            else:
                theirs_runs.append(theirs(args.steps, repeat))
                ours_runs.append(ours(args.steps, repeat))
        row = {"ours_steps_per_s": median(ours_runs), "theirs_steps_per_s": median(theirs_runs)}
        row["ratio"] = row["ours_steps_per_s"] / row["theirs_steps_per_s"]
        results[f"threads_{threads}"] = {k: round(v, 3) for k, v in row.items()}
        print(
            f"threads={threads}: ours {row['ours_steps_per_s']:.0f} steps/s | RecurrentPPO.learn "
            f"{row['theirs_steps_per_s']:.0f} steps/s | ratio {row['ratio']:.2f}"
        )
    print(
        json.dumps(
            {
                "bench": "online_loop",
                "peer": "sb3-contrib RecurrentPPO.learn 2.9.2",
                "torch": torch.__version__,
                "steps": args.steps,
                "repeats": args.repeats,
                "results": results,
            }
        )
    )


if __name__ == "__main__":
    main()
