"""Shared pieces of the benchmarks: the environment wrapped for gymnasium (for sb3-contrib), timing helpers."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import gymnasium
import numpy as np
import numpy.typing as npt

from tradingbot.agent.network import NetworkConfig
from tradingbot.env.actions import NUM_ACTIONS
from tradingbot.env.observation import OBSERVATION_SIZE
from tradingbot.env.paper import EnvironmentConfig, PaperTradingEnvironment
from tradingbot.market.sim.simulator import MarketSimulator, SimulatorConfig

DEFAULT_NETWORK = NetworkConfig(OBSERVATION_SIZE)
"""Our defaults: feature LSTM 128, MLP 128-128, policy LSTM 256, window 30."""
PEER_POLICY_KWARGS: dict[str, Any] = {
    "lstm_hidden_size": DEFAULT_NETWORK.policy_hidden,
    "n_lstm_layers": 1,
    "net_arch": {"pi": [DEFAULT_NETWORK.mlp_hidden], "vf": [DEFAULT_NETWORK.mlp_hidden]},
}
"""sb3-contrib MlpLstmPolicy sized like ours: a 256-unit LSTM (plus its default separate critic LSTM) and a
128-unit tanh MLP per head."""
PEERS: dict[str, dict[str, Any]] = {
    "sb3_default": PEER_POLICY_KWARGS,
    "sb3_shared_lstm": {**PEER_POLICY_KWARGS, "shared_lstm": True, "enable_critic_lstm": False},
}
"""The two sb3-contrib peers: its default (separate actor and critic LSTMs, about 1.27x our compute) and
its shared-LSTM variant (one LSTM for both heads, about 0.70x)."""


def environment(seed: int, symbols: tuple[str, ...] = ("SPY",)) -> PaperTradingEnvironment:
    """The paper-trading environment on the default simulator."""
    return PaperTradingEnvironment(MarketSimulator(SimulatorConfig(symbols, seed=seed)), EnvironmentConfig())


class GymPaperTrading(gymnasium.Env[npt.NDArray[np.float32], np.int64]):
    """One underlying of the paper-trading environment as a gymnasium environment (for sb3-contrib).

    An invalid action is refused by the environment and changes nothing, as in our own loop; episodes
    end at each session close, and ``reset`` continues the same market with a fresh account.
    """

    def __init__(self, seed: int = 0, clock: Stopwatch | None = None) -> None:
        self.env = environment(seed)
        self.clock = clock or Stopwatch()
        self.observation_space = gymnasium.spaces.Box(-10.0, 10.0, (OBSERVATION_SIZE,), np.float32)
        self.action_space = gymnasium.spaces.Discrete(NUM_ACTIONS)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[npt.NDArray[np.float32], dict[str, Any]]:
        """A fresh account on the continuing market."""
        super().reset(seed=seed)
        return self.env.reset()[0], {}

    def step(self, action: np.int64) -> tuple[npt.NDArray[np.float32], float, bool, bool, dict[str, Any]]:
        """One step; ``terminated`` at the session close (its time is added to ``clock``)."""
        with self.clock:
            result = self.env.step([int(action)])
        return result.observation[0], result.reward, result.done, False, {}


class Stopwatch:
    """Total seconds spent inside ``with`` blocks (the environment's share of a timed run)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._started = 0.0

    def __enter__(self) -> None:
        self._started = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self.seconds += time.perf_counter() - self._started


def percentile(samples: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) of samples."""
    return float(np.percentile(np.asarray(samples), q))


def median(values: Sequence[float]) -> float:
    """The median."""
    return float(statistics.median(values))


def parameter_count(module: Any) -> int:  # noqa: ANN401 - any torch module
    """Trainable parameters of a torch module."""
    return int(sum(p.numel() for p in module.parameters() if p.requires_grad))


def take_turns(sides: Sequence[tuple[str, Callable[[int], float]]], repeats: int) -> dict[str, list[float]]:
    """Each side's figure from every repeat (the repeat is its seed); the sides take turns within each
    repeat, the order reversed on odd repeats, so drift in the machine's speed falls on all of them."""
    runs: dict[str, list[float]] = {name: [] for name, _ in sides}
    for repeat in range(repeats):
        for name, measure in sides if repeat % 2 == 0 else list(sides)[::-1]:
            runs[name].append(measure(repeat))
    return runs


def rates_against_peers(runs: dict[str, list[float]]) -> dict[str, object]:
    """Median and mean of each side's rate (higher is better) and ours / peer of both, for every peer."""
    results: dict[str, object] = {
        name: {"median": round(median(v), 1), "mean": round(statistics.fmean(v), 1)} for name, v in runs.items()
    }
    for peer in PEERS:
        results[f"ratio_median_vs_{peer}"] = round(median(runs["ours"]) / median(runs[peer]), 2)
        results[f"ratio_mean_vs_{peer}"] = round(statistics.fmean(runs["ours"]) / statistics.fmean(runs[peer]), 2)
    return results
