"""The acting step on CPU in numpy, over zero-copy views of the network's parameters.

One decision is a handful of small matrix-vector products, where PyTorch's per-operator dispatch
costs more than the arithmetic; numpy on the same float32 weights (views of the very tensors the
optimizer updates in place, re-taken if a tensor is ever reallocated) does the same math for a
fraction of the overhead. ``CLSTMActorCritic.forward`` stays the definition: tests check this step
against it, and training replays acting exactly through it.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import torch
from scipy.special import expit

from tradingbot.agent.network import CLSTMActorCritic, lstm_weights

F32 = npt.NDArray[np.float32]


def _lstm_cell(x: F32, h: F32, c: F32, w_ih: F32, w_hh: F32, bias: F32) -> tuple[F32, F32]:
    """One LSTM step, PyTorch's gate order (input, forget, cell, output); x (B, I), h and c (B, H)."""
    gates = x @ w_ih.T + h @ w_hh.T + bias  # (B, 4H)
    size = h.shape[1]
    squashed = expit(gates)  # sigmoid of every gate; the cell gate's slice is replaced by tanh below
    g = np.tanh(gates[:, 2 * size : 3 * size])
    c_next = squashed[:, size : 2 * size] * c + squashed[:, :size] * g
    return squashed[:, 3 * size :] * np.tanh(c_next), c_next


class NumpyStepper:
    """``CLSTMActorCritic.step`` in numpy for a network on the CPU."""

    def __init__(self, network: CLSTMActorCritic) -> None:
        self._parameters = [
            *lstm_weights(network.feature_lstm),
            network.mlp_in.weight, network.mlp_in.bias, network.mlp_out.weight, network.mlp_out.bias,
            *lstm_weights(network.policy_lstm),
            network.actor.weight, network.actor.bias, network.critic.weight, network.critic.bias,
        ]  # fmt: skip
        self._pointers: tuple[int, ...] = ()
        self._views: list[F32] = []

    def _weights(self) -> list[F32]:
        pointers = tuple(t.data_ptr() for t in self._parameters)
        if pointers != self._pointers:
            self._views = [t.detach().numpy() for t in self._parameters]
            self._pointers = pointers
        return self._views

    def step(self, observations: F32, state: tuple[F32, ...]) -> tuple[F32, F32, tuple[F32, ...]]:
        """Logits (B, A), values (B,) and the next (feature h, c, policy h, c), each (B, H)."""
        (f_ih, f_hh, f_bi, f_bh, m1, m1b, m2, m2b, p_ih, p_hh, p_bi, p_bh, actor, actor_b, critic, critic_b) = (
            self._weights()
        )
        feature_h, feature_c, policy_h, policy_c = state
        fh, fc = _lstm_cell(observations, feature_h, feature_c, f_ih, f_hh, f_bi + f_bh)
        hidden = np.tanh(np.tanh(fh @ m1.T + m1b) @ m2.T + m2b)
        ph, pc = _lstm_cell(hidden, policy_h, policy_c, p_ih, p_hh, p_bi + p_bh)
        logits = ph @ actor.T + actor_b
        values = (ph @ critic.T + critic_b)[:, 0]
        return logits, values, (fh, fc, ph, pc)


def uses_numpy(device: torch.device) -> bool:
    """Whether acting on ``device`` takes the numpy path."""
    return device.type == "cpu"
