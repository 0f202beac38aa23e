"""Steps per second of the whole online loop on the simulator, against the same environment wrapped for
gymnasium and driven by sb3-contrib ``RecurrentPPO.learn``.

Both act on every step, train every 100 steps (4 epochs of 4 minibatches, no KL early stop) with the
same sizes (LSTM 256, one layer, 128-unit MLP) on one underlying of the default simulator, float32,
same torch; no checkpoints, no logging. Ours also computes the action mask each step. Two peers:
sb3-contrib's default policy and its shared-LSTM variant. Each run warms up for 200 steps; steps per
second = timed steps / wall time; the sides take turns within every repeat (the order alternating);
medians and means over repeats; ratio = ours / peer (higher is better).

    python bench/online_loop.py [--steps 2000] [--repeats 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

import torch
from sb3_contrib import RecurrentPPO

from common import DEFAULT_NETWORK, PEERS, GymPaperTrading, environment, rates_against_peers, take_turns
from tradingbot.agent.agent import OptionsCLSTMPPOAgent
from tradingbot.agent.buffer import ExperienceBuffer
from tradingbot.agent.ppo import PPOConfig
from tradingbot.env.actions import NUM_ACTIONS
from tradingbot.env.observation import OBSERVATION_SIZE
from tradingbot.trader import Learner, Trader

UPDATE_EVERY = 100
WARMUP = 200


def ours(steps: int, seed: int) -> float:
    """Steps per second of our online loop."""
    agent = OptionsCLSTMPPOAgent(
        DEFAULT_NETWORK, PPOConfig(epochs=4, minibatches=4, target_kl=None), streams=1, seed=seed
    )
    buffer = ExperienceBuffer(1, OBSERVATION_SIZE, NUM_ACTIONS, DEFAULT_NETWORK.window)
    trader = Trader(
        environment(seed), Learner(agent, buffer, update_frequency=UPDATE_EVERY, save_frequency=10**9, store=None)
    )
    for _ in range(WARMUP):
        trader.tick()
    start = time.perf_counter()
    for _ in range(steps):
        trader.tick()
    return steps / (time.perf_counter() - start)


def theirs(peer: str, steps: int, seed: int) -> float:
    """Steps per second of RecurrentPPO.learn with ``peer``'s policy on the same environment."""
    model = RecurrentPPO(
        "MlpLstmPolicy",
        GymPaperTrading(seed),
        n_steps=UPDATE_EVERY,
        batch_size=UPDATE_EVERY // 4,
        n_epochs=4,
        policy_kwargs=PEERS[peer],
        device="cpu",
        seed=seed,
    )
    model.learn(WARMUP)
    start = time.perf_counter()
    model.learn(steps, reset_num_timesteps=False)
    return steps / (time.perf_counter() - start)


def main() -> None:
    """Our loop and both peers, in turns; figures and a JSON line."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    sides: list[tuple[str, Callable[[int], float]]] = [
        ("ours", lambda seed: ours(args.steps, seed)),
        *((peer, lambda seed, peer=peer: theirs(peer, args.steps, seed)) for peer in PEERS),
    ]
    results = rates_against_peers(take_turns(sides, args.repeats))
    for name, row in results.items():
        print(f"{name}: {row}")
    print(
        json.dumps(
            {
                "bench": "online_loop",
                "peer": "sb3-contrib RecurrentPPO.learn 2.9.2",
                "torch": torch.__version__,
                "threads": args.threads,
                "steps": args.steps,
                "repeats": args.repeats,
                "results": results,
            }
        )
    )


if __name__ == "__main__":
    main()
