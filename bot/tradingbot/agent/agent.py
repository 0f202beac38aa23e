"""``OptionsCLSTMPPOAgent``: acts one step at a time with per-stream recurrent state, and trains with PPO.

A stream is one underlying: every underlying gets its own decision each step from the same weights,
with its own recurrent state, over one shared portfolio.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from tradingbot.agent.buffer import Rollout
from tradingbot.agent.inference import NumpyStepper, uses_numpy
from tradingbot.agent.network import CLSTMActorCritic, NetworkConfig, NetworkOutput, RecurrentState
from tradingbot.agent.ppo import PPOConfig, ppo_update
from tradingbot.agent.update_metrics import TrainMetrics


def sample_masked(
    logits: npt.NDArray[np.float32], mask: npt.NDArray[np.bool_], rng: np.random.Generator, greedy: bool
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """Draw one action per row from softmax(logits) restricted to ``mask`` (or take the argmax); returns the
    actions and their log-probabilities. A masked action has probability exactly 0 and is never drawn."""
    shifted = np.where(mask, logits.astype(np.float64), -np.inf)  # (B, A)
    shifted -= shifted.max(axis=1, keepdims=True)
    weights = np.exp(shifted)
    rows = np.arange(len(weights))
    if greedy:
        actions = shifted.argmax(axis=1)
        totals = weights.sum(axis=1)
    else:
        cumulative = weights.cumsum(axis=1)
        totals = cumulative[:, -1]
        draws = rng.random(len(totals)) * totals  # < totals: the first cumulative weight above it is unmasked
        actions = (cumulative <= draws[:, None]).sum(axis=1)
    log_probs = shifted[rows, actions] - np.log(totals)
    return actions.astype(np.int64), log_probs.astype(np.float32)


@dataclass(frozen=True, slots=True)
class ActOutput:
    """One step's decisions, one entry per stream, and the recurrent state they were made from."""

    actions: npt.NDArray[np.int64]
    log_probs: npt.NDArray[np.float32]
    values: npt.NDArray[np.float32]
    starts: npt.NDArray[np.bool_]
    state: RecurrentState


class OptionsCLSTMPPOAgent:
    """The cascaded-LSTM PPO agent over ``streams`` underlyings."""

    def __init__(
        self,
        network_config: NetworkConfig,
        ppo_config: PPOConfig,
        streams: int,
        device: torch.device | str = "cpu",
        seed: int = 0,
        hold_prior: float = 0.0,
    ) -> None:
        """``hold_prior``: the probability with which a fresh network holds (see
        :meth:`CLSTMActorCritic.set_hold_prior`); loaded weights replace it."""
        self.device = torch.device(device)
        self.ppo_config = ppo_config
        self.streams = streams
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.network = CLSTMActorCritic(network_config)
            self.network.set_hold_prior(hold_prior)
            self.network.to(self.device)
        self.optimizer = torch.optim.Adam(
            self.network.parameters(), lr=ppo_config.learning_rate, eps=ppo_config.adam_eps, fused=True
        )
        self._rng = np.random.default_rng([seed, 2])
        self._stepper = NumpyStepper(self.network) if uses_numpy(self.device) else None
        self._train_generator = torch.Generator().manual_seed(seed + 1)
        self._state = self.network.initial_state(streams, self.device)
        self._arrays = tuple(t[0].numpy() for t in self._state)  # the numpy path's view of ``_state``
        self._reset = np.ones(streams, dtype=np.bool_)
        self.updates = 0

    @property
    def config(self) -> NetworkConfig:
        """The network's shape."""
        return self.network.config

    def act(self, observation: npt.NDArray[np.float32], mask: npt.NDArray[np.bool_], greedy: bool = False) -> ActOutput:
        """Choose an action per stream (never a masked one) and advance the recurrent state by one step.

        ``observation`` is (B, D), ``mask`` (B, A). ``greedy`` takes the most likely action instead of sampling.
        """
        starts = self._reset.copy()
        obs = np.ascontiguousarray(observation, dtype=np.float32)  # (B, D)
        state = self._state_for_next_step()
        if self._stepper is not None:
            arrays = tuple(t[0].numpy() for t in state) if starts.any() else self._arrays
            logits, values, self._arrays = self._stepper.step(obs, arrays)
            self._state = RecurrentState(*(torch.from_numpy(a[None]) for a in self._arrays))
        else:
            with torch.inference_mode():
                out = self.network.step(torch.from_numpy(obs).to(self.device), state)
            logits, values = out.logits.cpu().numpy(), out.values.cpu().numpy()  # (B, A), (B,)
            self._state = out.state
        self._reset[:] = False
        actions, log_probs = sample_masked(logits, mask, self._rng, greedy)
        return ActOutput(actions, log_probs, values.astype(np.float32), starts, state)

    def end_episodes(self, done: npt.NDArray[np.bool_] | bool) -> None:
        """Reset the recurrent state of streams whose episode ended, before their next step."""
        self._reset |= np.broadcast_to(np.asarray(done, dtype=np.bool_), self._reset.shape)

    def bootstrap_value(self, observation: npt.NDArray[np.float32]) -> torch.Tensor:
        """V of the observation the next step will act on (B,), without advancing the state."""
        with torch.inference_mode():
            self.network.eval()
            obs = torch.as_tensor(observation, dtype=torch.float32, device=self.device).unsqueeze(0)
            out: NetworkOutput = self.network(
                obs, self._state_for_next_step(), torch.zeros(1, self.streams, dtype=torch.bool)
            )
            return out.values[0].cpu().clone()

    def train(self, rollout: Rollout, last_value: torch.Tensor) -> TrainMetrics:
        """One PPO update on the fresh rollout this agent collected."""
        metrics = ppo_update(self.network, self.optimizer, rollout, last_value, self.ppo_config, self._train_generator)
        self.updates += 1
        return metrics

    def state_dict(self) -> dict[str, Any]:
        """Weights, optimizer state and update count (plain data and tensors only)."""
        return {"network": self.network.state_dict(), "optimizer": self.optimizer.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: dict[str, Any], weights_only: bool = False) -> None:
        """Restore what ``state_dict`` returned; ``weights_only`` keeps this agent's optimizer and count."""
        self.network.load_state_dict(state["network"])
        if not weights_only:
            self.optimizer.load_state_dict(state["optimizer"])
            for group in self.optimizer.param_groups:  # the configured step size, not the saved one
                group["lr"] = self.ppo_config.learning_rate
            self.updates = int(state["updates"])

    def _state_for_next_step(self) -> RecurrentState:
        if not self._reset.any():
            return self._state
        keep = torch.as_tensor(~self._reset, dtype=torch.float32, device=self.device)
        return self._state.masked(keep)
