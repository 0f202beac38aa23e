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

Both sides step the same environment, whose cost bounds the ratio (Amdahl): each run also times its
environment calls (ours: stepping and the action masks; theirs: ``env.step``), and the bench prints the
milliseconds per market step spent outside them — the learner's own cost (acting, buffering, updates) —
and that ratio too.

    python bench/pretrain.py [--envs 4,16] [--steps 3200] [--repeats 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
import torch
from sb3_contrib import RecurrentPPO
from stable_baselines3.common.vec_env import DummyVecEnv

from common import (
    DEFAULT_NETWORK,
    PEERS,
    GymPaperTrading,
    Stopwatch,
    environment,
    median,
    rates_against_peers,
    take_turns,
)
from tradingbot.agent.agent import OptionsCLSTMPPOAgent
from tradingbot.agent.buffer import ExperienceBuffer
from tradingbot.agent.ppo import PPOConfig
from tradingbot.env.actions import NUM_ACTIONS
from tradingbot.env.observation import OBSERVATION_SIZE
from tradingbot.env.paper import StepResult
from tradingbot.env.vector import VectorEnvironment
from tradingbot.trader import learn_from_step

ROLLOUT = 100
"""Steps per market per PPO update."""


class Throughput(NamedTuple):
    """One timed run: market steps per second and milliseconds per market step spent outside the
    environment (the learner's own cost)."""

    steps_per_s: float
    learner_ms: float


def throughput(steps: int, seconds: float, environment_seconds: float) -> Throughput:
    """The figures of a run of ``steps`` market steps in ``seconds``, ``environment_seconds`` of them in
    the environment."""
    return Throughput(steps / seconds, 1000.0 * (seconds - environment_seconds) / steps)


def ours(envs: int, steps: int, seed: int) -> Throughput:
    """Our vectorised pre-training loop."""
    vector = VectorEnvironment([environment(seed * 100 + i) for i in range(envs)])
    agent = OptionsCLSTMPPOAgent(DEFAULT_NETWORK, PPOConfig(target_kl=None), streams=envs, seed=seed)
    buffer = ExperienceBuffer(envs, OBSERVATION_SIZE, NUM_ACTIONS, DEFAULT_NETWORK.window)
    observation = vector.observation()
    clock = Stopwatch()

    def step(actions: npt.NDArray[np.int64]) -> StepResult:
        with clock:
            return vector.step(actions)

    def run(vector_steps: int) -> None:
        nonlocal observation
        for _ in range(vector_steps):
            with clock:
                mask = vector.action_mask()
            _, result, _ = learn_from_step(agent, buffer, observation, mask, step, ROLLOUT)
            observation = result.observation

    run(ROLLOUT)
    clock.seconds = 0.0
    start = time.perf_counter()
    run(steps // envs)
    return throughput((steps // envs) * envs, time.perf_counter() - start, clock.seconds)


def theirs(peer: str, envs: int, steps: int, seed: int) -> Throughput:
    """RecurrentPPO.learn with ``n_envs = envs``."""
    clock = Stopwatch()
    vec = DummyVecEnv([(lambda i=i: GymPaperTrading(seed * 100 + i, clock)) for i in range(envs)])
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
    clock.seconds = 0.0
    start = time.perf_counter()
    model.learn(steps, reset_num_timesteps=False)
    return throughput(steps, time.perf_counter() - start, clock.seconds)


def compare(envs: int, steps: int, repeats: int) -> dict[str, object]:
    """Ours against every peer on ``envs`` markets, sides taking turns; prints a summary, returns the row."""
    learner_ms: dict[str, list[float]] = {}

    def rate(side: str, run: Throughput) -> float:
        learner_ms.setdefault(side, []).append(run.learner_ms)
        return run.steps_per_s

    sides: list[tuple[str, Callable[[int], float]]] = [
        ("ours", lambda seed: rate("ours", ours(envs, steps, seed))),
        *((peer, lambda seed, peer=peer: rate(peer, theirs(peer, envs, steps, seed))) for peer in PEERS),
    ]
    runs = take_turns(sides, repeats)
    row = rates_against_peers(runs)
    learner = {side: round(median(ms), 3) for side, ms in learner_ms.items()}
    row["learner_ms_per_step_median"] = learner
    row["learner_ratio_vs_peer"] = {peer: round(learner[peer] / learner["ours"], 2) for peer in PEERS}
    print(
        f"envs={envs}: ours {median(runs['ours']):.0f} steps/s | "
        + " | ".join(f"{peer} {median(runs[peer]):.0f} ({row[f'ratio_median_vs_{peer}']}x)" for peer in PEERS)
        + f"\n  outside the environment, ms per market step: ours {learner['ours']:.3f} | "
        + " | ".join(f"{peer} {learner[peer]:.3f} ({learner[peer] / learner['ours']:.2f}x)" for peer in PEERS)
    )
    return row


def main() -> None:
    """Every (envs, peer) case, sides alternating within each repeat; a table and a JSON line."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--envs", default="4,16")
    parser.add_argument("--steps", type=int, default=3200, help="market steps timed per run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results = {f"envs_{envs}": compare(envs, args.steps, args.repeats) for envs in map(int, args.envs.split(","))}
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
