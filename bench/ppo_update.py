"""Samples per second through one PPO update of a 100-step rollout, against sb3-contrib ``RecurrentPPO.train``.

Same sizes (LSTM 256, one layer, 128-unit MLP), same rollout length (100 steps of one underlying),
4 epochs of 4 minibatches on both sides, no KL early stop, float32, same torch; warm-up update first.
Each update trains on a freshly collected rollout; only the update is timed. Samples per second =
rollout steps x epochs / update time. Median over repeats; final JSON line with the ratio (ours /
theirs: higher is better, target >= 2).

    python bench/ppo_update.py [--updates 12]
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

ROLLOUT = 100
EPOCHS = 4
MINIBATCHES = 4


def ours(updates: int) -> list[float]:
    """Seconds per update, ours."""
    agent = OptionsCLSTMPPOAgent(
        DEFAULT_NETWORK, PPOConfig(epochs=EPOCHS, minibatches=MINIBATCHES, target_kl=None), streams=1, seed=0
    )
    buffer = ExperienceBuffer(1, OBSERVATION_SIZE, NUM_ACTIONS, DEFAULT_NETWORK.window)
    trader = LearningTrader(environment(0), agent, buffer, update_frequency=10_000, save_frequency=10**9, store=None)
    times = []
    for _ in range(updates + 1):
        for _ in range(ROLLOUT):
            trader.tick()
        rollout = buffer.rollout()
        last = agent.bootstrap_value(trader.env.observation())
        start = time.perf_counter()
        agent.train(rollout, last)
        times.append(time.perf_counter() - start)
        buffer.consume()
    return times[1:]


def theirs(updates: int) -> list[float]:
    """Seconds per update, sb3-contrib RecurrentPPO."""
    model = RecurrentPPO(
        "MlpLstmPolicy",
        GymPaperTrading(),
        n_steps=ROLLOUT,
        batch_size=ROLLOUT // MINIBATCHES,
        n_epochs=EPOCHS,
        policy_kwargs=PEER_POLICY_KWARGS,
        device="cpu",
        seed=0,
    )
    _, callback = model._setup_learn(10**9, None)
    callback.on_training_start(locals(), globals())
    times = []
    for _ in range(updates + 1):
        model.collect_rollouts(model.env, callback, model.rollout_buffer, n_rollout_steps=ROLLOUT)
        start = time.perf_counter()
        model.train()
        times.append(time.perf_counter() - start)
    return times[1:]


def main() -> None:
    """Both updaters at 1 thread and the default thread count; figures and a JSON line."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--updates", type=int, default=12)
    args = parser.parse_args()
    default_threads = torch.get_num_threads()
    results = {}
    for threads in sorted({1, default_threads}):
        torch.set_num_threads(threads)
        ours_s = median(ours(args.updates))
        theirs_s = median(theirs(args.updates))
        samples = ROLLOUT * EPOCHS
        row = {
            "ours_samples_per_s": samples / ours_s,
            "theirs_samples_per_s": samples / theirs_s,
            "ours_update_ms": ours_s * 1e3,
            "theirs_update_ms": theirs_s * 1e3,
        }
        row["ratio"] = row["ours_samples_per_s"] / row["theirs_samples_per_s"]
        results[f"threads_{threads}"] = {k: round(v, 3) for k, v in row.items()}
        print(
            f"threads={threads}: ours {row['ours_samples_per_s']:.0f} samples/s ({row['ours_update_ms']:.0f} ms) | "
            f"RecurrentPPO.train {row['theirs_samples_per_s']:.0f} samples/s ({row['theirs_update_ms']:.0f} ms) | "
            f"ratio {row['ratio']:.2f}"
        )
    print(
        json.dumps(
            {
                "bench": "ppo_update",
                "peer": "sb3-contrib RecurrentPPO.train 2.9.2",
                "torch": torch.__version__,
                "rollout": ROLLOUT,
                "epochs": EPOCHS,
                "minibatches": MINIBATCHES,
                "updates": args.updates,
                "results": results,
            }
        )
    )


if __name__ == "__main__":
    main()
