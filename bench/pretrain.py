"""Pre-training throughput: environment steps per second of ``tradingbot pretrain``'s loop on N markets
against sb3-contrib ``RecurrentPPO.learn`` with ``n_envs = N`` (a DummyVecEnv of the same environment
wrapped for gymnasium), at the same sizes and threads.

Both: one underlying per market on the default simulator, a rollout of 100 steps per market, 4 epochs
of 4 minibatches, no KL early stop, float32, the same torch. Ours decides for every market in one
batched forward per step and also computes each market's action mask; theirs steps its envs one by one
and lets the environment refuse invalid actions. Two peers: sb3-contrib's default ``MlpLstmPolicy``
(separate actor and critic LSTMs) and its shared-LSTM variant (``shared_lstm=True,
enable_critic_lstm=False``). Each run is a fresh model, warmed up for one rollout, then timed; the sides
alternate within every repeat; medians and means over repeats; ratio = ours / peer (higher is better).

    python bench/pretrain.py [--envs 4,16] [--steps 3200] [--repeats 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

import torch
from sb3_contrib import RecurrentPPO
from stable_baselines3.common.vec_env import DummyVecEnv

from common import DEFAULT_NETWORK, PEERS, GymPaperTrading, environment, median, rates_against_peers, take_turns
from tradingbot.agent.agent import OptionsCLSTMPPOAgent
from tradingbot.agent.buffer import ExperienceBuffer
from tradingbot.agent.ppo import PPOConfig
from tradingbot.env.actions import NUM_ACTIONS
from tradingbot.env.observation import OBSERVATION_SIZE
from tradingbot.env.vector import VectorEnvironment
from tradingbot.learning import learn_from_step

ROLLOUT = 100
"""Steps per market per PPO update."""


def ours(envs: int, steps: int, seed: int) -> float:
    """Market steps per second of our vectorised pre-training loop."""
    vector = VectorEnvironment([environment(seed * 100 + i) for i in range(envs)])
    agent = OptionsCLSTMPPOAgent(DEFAULT_NETWORK, PPOConfig(target_kl=None), streams=envs, seed=seed)
    buffer = ExperienceBuffer(envs, OBSERVATION_SIZE, NUM_ACTIONS, DEFAULT_NETWORK.window)
    observation = vector.observation()

    def run(vector_steps: int) -> None:
        nonlocal observation
        for _ in range(vector_steps):
            _, result, _ = learn_from_step(agent, buffer, observation, vector.action_mask(), vector.step, ROLLOUT)
            observation = result.observation

    run(ROLLOUT)
    start = time.perf_counter()
    run(steps // envs)
    return (steps // envs) * envs / (time.perf_counter() - start)


def theirs(peer: str, envs: int, steps: int, seed: int) -> float:
    """Market steps per second of RecurrentPPO.learn with ``n_envs = envs``."""
    vec = DummyVecEnv([(lambda i=i: GymPaperTrading(seed * 100 + i)) for i in range(envs)])
    model = RecurrentPPO(
        "MlpLstmPolicy",
        vec,
        n_steps=ROLLOUT,
        batch_size=ROLLOUT * envs // 4,
        n_epochs=4,
        policy_kwargs=PEERS[peer],
        device="cpu",
        seed=seed,
    )
    model.learn(ROLLOUT * envs)
    start = time.perf_counter()
    model.learn(steps, reset_num_timesteps=False)
    return steps / (time.perf_counter() - start)


def main() -> None:
    """Every (envs, peer) case, sides alternating within each repeat; a table and a JSON line."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--envs", default="4,16")
    parser.add_argument("--steps", type=int, default=3200, help="market steps timed per run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results: dict[str, dict[str, object]] = {}
    for envs in (int(n) for n in args.envs.split(",")):
        sides: list[tuple[str, Callable[[int], float]]] = [
            ("ours", lambda seed, envs=envs: ours(envs, args.steps, seed)),
            *((peer, lambda seed, peer=peer, envs=envs: theirs(peer, envs, args.steps, seed)) for peer in PEERS),
        ]
        runs = take_turns(sides, args.repeats)
        row = rates_against_peers(runs)
        results[f"envs_{envs}"] = row
        print(
            f"envs={envs}: ours {median(runs['ours']):.0f} steps/s | "
            + " | ".join(f"{peer} {median(runs[peer]):.0f} ({row[f'ratio_median_vs_{peer}']}x)" for peer in PEERS)
        )
    print(
        json.dumps(
            {
                "bench": "pretrain",
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
