"""Samples per second through one PPO update of a 100-step rollout, against sb3-contrib ``RecurrentPPO.train``
(both peers: its default policy and its shared-LSTM variant).

Same sizes (LSTM 256, one layer, 128-unit MLP), same rollout length (100 steps of one underlying),
4 epochs of 4 minibatches on every side, no KL early stop, float32, same torch. Each update trains on a
freshly collected rollout and only the update is timed; the sides take turns update by update (the
order alternating), after one warm-up update each. Our rollouts cross the 16:00 close as the bot's do
(the training sequences are cut there, more and shorter ones), so the mean over all updates shows what
the median would hide. Samples per second = rollout steps x epochs / update time; ratio = ours / peer
(higher is better).

    python bench/ppo_update.py [--updates 24] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Iterator

import torch
from sb3_contrib import RecurrentPPO

from common import DEFAULT_NETWORK, PEERS, GymPaperTrading, environment, median
from tradingbot.agent.agent import OptionsCLSTMPPOAgent
from tradingbot.agent.buffer import ExperienceBuffer
from tradingbot.agent.ppo import PPOConfig
from tradingbot.env.actions import NUM_ACTIONS
from tradingbot.env.observation import OBSERVATION_SIZE
from tradingbot.trader import Learner, Trader

ROLLOUT = 100
EPOCHS = 4
MINIBATCHES = 4


def ours() -> Iterator[float]:
    """Seconds of each successive update, ours."""
    agent = OptionsCLSTMPPOAgent(
        DEFAULT_NETWORK, PPOConfig(epochs=EPOCHS, minibatches=MINIBATCHES, target_kl=None), streams=1, seed=0
    )
    buffer = ExperienceBuffer(1, OBSERVATION_SIZE, NUM_ACTIONS, DEFAULT_NETWORK.window)
    trader = Trader(environment(0), Learner(agent, buffer, update_frequency=10_000, save_frequency=10**9, store=None))
    while True:
        for _ in range(ROLLOUT):
            trader.tick()
        rollout = buffer.rollout()
        last = agent.bootstrap_value(trader.env.observation())
        start = time.perf_counter()
        agent.train(rollout, last)
        yield time.perf_counter() - start
        buffer.consume()


def theirs(peer: str) -> Iterator[float]:
    """Seconds of each successive update of sb3-contrib RecurrentPPO with ``peer``'s policy."""
    model = RecurrentPPO(
        "MlpLstmPolicy",
        GymPaperTrading(),
        n_steps=ROLLOUT,
        batch_size=ROLLOUT // MINIBATCHES,
        n_epochs=EPOCHS,
        policy_kwargs=PEERS[peer],
        device="cpu",
        seed=0,
    )
    _, callback = model._setup_learn(10**9, None)
    callback.on_training_start(locals(), globals())
    while True:
        model.collect_rollouts(model.env, callback, model.rollout_buffer, n_rollout_steps=ROLLOUT)
        start = time.perf_counter()
        model.train()
        yield time.perf_counter() - start


def main() -> None:
    """All three updaters in turns; figures and a JSON line."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--updates", type=int, default=24)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    sides = {"ours": ours(), **{peer: theirs(peer) for peer in PEERS}}
    times: dict[str, list[float]] = {name: [] for name in sides}
    for update in range(args.updates + 1):
        order = list(sides.items()) if update % 2 == 0 else list(sides.items())[::-1]
        for name, updater in order:
            seconds = next(updater)
            if update:  # the first is the warm-up
                times[name].append(seconds)
    samples = ROLLOUT * EPOCHS
    results: dict[str, object] = {
        name: {
            "median_ms": round(median(t) * 1e3, 1),
            "mean_ms": round(statistics.fmean(t) * 1e3, 1),
            "max_ms": round(max(t) * 1e3, 1),
            "samples_per_s_median": round(samples / median(t), 1),
            "samples_per_s_mean": round(samples / statistics.fmean(t), 1),
        }
        for name, t in times.items()
    }
    for peer in PEERS:
        results[f"ratio_median_vs_{peer}"] = round(median(times[peer]) / median(times["ours"]), 2)
        results[f"ratio_mean_vs_{peer}"] = round(statistics.fmean(times[peer]) / statistics.fmean(times["ours"]), 2)
    for name, row in results.items():
        print(f"{name}: {row}")
    print(
        json.dumps(
            {
                "bench": "ppo_update",
                "peer": "sb3-contrib RecurrentPPO.train 2.9.2",
                "torch": torch.__version__,
                "threads": args.threads,
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
