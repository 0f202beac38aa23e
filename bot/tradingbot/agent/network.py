"""The cascaded-LSTM actor-critic.

    observation --feature LSTM--> --MLP (tanh)--> --policy LSTM--> actor head (31 logits)
                                                               \\-> critic head (value)

Both LSTMs are stateful: acting feeds one observation per step and carries (h, c) forward, so a
tick costs one step of each LSTM. Training replays the rollout in sequences of ``window`` steps
(truncated back-propagation through time), each starting from the recurrent state stored when it
was acted on, so the network sees in training exactly what it saw when acting. A stream whose
episode ended has its state zeroed before its next step, when acting and when replaying.

Shapes: T = time steps, B = streams or sequences, D = observation size, A = actions.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import NamedTuple

import torch
from torch import Tensor, nn

from tradingbot.env.actions import HOLD, NUM_ACTIONS


@dataclass(frozen=True, slots=True)
class NetworkConfig:
    """Sizes of the network. Defaults: the CLSTM-PPO paper's best window (30) and feature size (128),
    with the policy LSTM at 256 (the paper's 512 scores best, 256 is second-best at a quarter of the
    cost on a 2-core CPU)."""

    observation_size: int
    num_actions: int = NUM_ACTIONS
    feature_hidden: int = 128
    mlp_hidden: int = 128
    policy_hidden: int = 256
    window: int = 30
    """Steps per training sequence (truncated BPTT length)."""

    def as_dict(self) -> dict[str, int]:
        """The settings that shape the network, as plain data (for checkpoints)."""
        return asdict(self)


class RecurrentState(NamedTuple):
    """(h, c) of both LSTMs, each shaped (1, B, hidden)."""

    feature_h: Tensor
    feature_c: Tensor
    policy_h: Tensor
    policy_c: Tensor

    def select(self, index: Tensor | slice) -> RecurrentState:
        """The state of a subset of the batch."""
        return RecurrentState(*(t[:, index] for t in self))

    def masked(self, keep: Tensor) -> RecurrentState:
        """Zero the state of streams where ``keep`` (shape (B,)) is 0."""
        factor = keep.view(1, -1, 1)
        return RecurrentState(*(t * factor for t in self))

    def detach_clone(self) -> RecurrentState:
        """A copy detached from any graph."""
        return RecurrentState(*(t.detach().clone() for t in self))


class NetworkOutput(NamedTuple):
    """Logits (T, B, A), values (T, B) and the state after the last step."""

    logits: Tensor
    values: Tensor
    state: RecurrentState


def _orthogonal(layer: nn.Linear, gain: float) -> nn.Linear:
    nn.init.orthogonal_(layer.weight, gain)
    nn.init.zeros_(layer.bias)
    return layer


class CLSTMActorCritic(nn.Module):
    """Feature LSTM, tanh MLP, policy LSTM, actor and critic heads."""

    def __init__(self, config: NetworkConfig) -> None:
        super().__init__()
        self.config = config
        self.feature_lstm = nn.LSTM(config.observation_size, config.feature_hidden)
        self.mlp_in = _orthogonal(nn.Linear(config.feature_hidden, config.mlp_hidden), math.sqrt(2))
        self.mlp_out = _orthogonal(nn.Linear(config.mlp_hidden, config.mlp_hidden), math.sqrt(2))
        self.policy_lstm = nn.LSTM(config.mlp_hidden, config.policy_hidden)
        self.actor = _orthogonal(nn.Linear(config.policy_hidden, config.num_actions), 0.01)
        self.critic = _orthogonal(nn.Linear(config.policy_hidden, 1), 1.0)
        for lstm in (self.feature_lstm, self.policy_lstm):
            for name, parameter in lstm.named_parameters():
                if "bias" in name:
                    nn.init.zeros_(parameter)
                else:
                    nn.init.orthogonal_(parameter, 1.0)

    def set_hold_prior(self, probability: float) -> None:
        """Bias a fresh actor so it holds with ``probability`` while every action is valid (the other logits
        start near 0); 0 leaves the uniform start (1/31 each)."""
        if not 0 <= probability < 1:
            raise ValueError(f"the hold prior must be a probability in [0, 1), got {probability!r}")
        others = self.config.num_actions - 1
        with torch.no_grad():
            self.actor.bias.zero_()
            if probability > 0:
                self.actor.bias[HOLD] = math.log(probability * others / (1 - probability))

    def mlp(self, features: Tensor) -> Tensor:
        """The two tanh layers between the LSTMs."""
        return torch.tanh(self.mlp_out(torch.tanh(self.mlp_in(features))))

    def initial_state(self, batch: int, device: torch.device | None = None) -> RecurrentState:
        """All-zero recurrent state for ``batch`` streams."""
        cfg = self.config
        f = torch.zeros(1, batch, cfg.feature_hidden, device=device)
        p = torch.zeros(1, batch, cfg.policy_hidden, device=device)
        return RecurrentState(f, f.clone(), p, p.clone())

    def forward(self, observations: Tensor, state: RecurrentState, starts: Tensor) -> NetworkOutput:
        """Run T steps. ``observations`` (T, B, D); ``starts`` (T, B) is 1 where a stream's state resets
        before that step (ignored at t = 0: ``state`` is the state to use there)."""
        if bool(starts[1:].any()):
            return self._stepwise(observations, state, starts)
        return self._sequence(observations, state)

    def _sequence(self, observations: Tensor, state: RecurrentState) -> NetworkOutput:
        features, (fh, fc) = self.feature_lstm(observations, (state.feature_h, state.feature_c))  # (T, B, Hf)
        hidden = self.mlp(features)  # (T, B, Hm)
        policy, (ph, pc) = self.policy_lstm(hidden, (state.policy_h, state.policy_c))  # (T, B, Hp)
        return NetworkOutput(self.actor(policy), self.critic(policy).squeeze(-1), RecurrentState(fh, fc, ph, pc))

    def step(self, observations: Tensor, state: RecurrentState) -> NetworkOutput:
        """One step for acting, without the per-call overhead of ``nn.LSTM``: ``observations`` (B, D);
        logits (B, A), values (B,). Same weights and arithmetic as ``forward`` (tested to agree)."""
        feature = (state.feature_h[0], state.feature_c[0])
        fh, fc = torch.lstm_cell(observations, feature, *lstm_weights(self.feature_lstm))  # (B, Hf)
        hidden = self.mlp(fh)  # (B, Hm)
        policy = (state.policy_h[0], state.policy_c[0])
        ph, pc = torch.lstm_cell(hidden, policy, *lstm_weights(self.policy_lstm))  # (B, Hp)
        new_state = RecurrentState(fh.unsqueeze(0), fc.unsqueeze(0), ph.unsqueeze(0), pc.unsqueeze(0))
        return NetworkOutput(self.actor(ph), self.critic(ph).squeeze(-1), new_state)

    def _stepwise(self, observations: Tensor, state: RecurrentState, starts: Tensor) -> NetworkOutput:
        logits, values = [], []
        for t in range(observations.shape[0]):
            if t > 0:
                state = state.masked(1.0 - starts[t].to(observations.dtype))
            out = self._sequence(observations[t : t + 1], state)
            logits.append(out.logits)
            values.append(out.values)
            state = out.state
        return NetworkOutput(torch.cat(logits), torch.cat(values), state)


def lstm_weights(lstm: nn.LSTM) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """(weight_ih, weight_hh, bias_ih, bias_hh) of a one-layer LSTM, gates in PyTorch's order i, f, g, o."""
    w_ih, w_hh, b_ih, b_hh = lstm.all_weights[0]
    return w_ih, w_hh, b_ih, b_hh


def masked_logits(logits: Tensor, mask: Tensor) -> Tensor:
    """Logits with invalid actions (``mask`` False) pushed to the dtype's minimum: probability exactly 0."""
    return torch.where(mask, logits, torch.finfo(logits.dtype).min)
