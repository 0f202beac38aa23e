"""Recurrent PPO on one fresh rollout: GAE, then clipped-surrogate epochs over sequence minibatches.

Every loss term is in ``ppo_update``. Advantages are normalised once, over the whole rollout (per
minibatch of 10-60 samples the mean and scale would discard much of the signal). Sequences are
slices of each stream's rollout of at most ``window`` steps, cut also at every recurrent-state reset
(the buffer's ``sequence_starts``), each started from the recurrent state stored when it was acted on;
so every sequence replays in one LSTM pass. Shorter ones are padded, and padding is masked out of every
loss term.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from tradingbot.agent.buffer import Rollout
from tradingbot.agent.network import CLSTMActorCritic, NetworkOutput, RecurrentState, masked_logits
from tradingbot.agent.update_metrics import TrainMetrics
from tradingbot_contract import env


def _number(variable: env.Variable) -> float:
    """A numeric variable's default."""
    value = variable.default
    if not isinstance(value, int | float):
        raise TypeError(f"{variable.name} has no numeric default")
    return float(value)


@dataclass(frozen=True, slots=True)
class PPOConfig:
    """PPO hyper-parameters; every default is the bot's own, from the contract (the CLSTM-PPO paper's Table 1
    where it states them, SB3/CleanRL otherwise). ``adam_eps`` is not a setting (CleanRL's 1e-5)."""

    learning_rate: float = _number(env.LEARNING_RATE)
    adam_eps: float = 1e-5
    gamma: float = _number(env.GAMMA)
    gae_lambda: float = _number(env.GAE_LAMBDA)
    clip: float = _number(env.CLIP_RANGE)
    epochs: int = int(_number(env.PPO_EPOCHS))
    minibatches: int = int(_number(env.PPO_MINIBATCHES))
    value_coef: float = _number(env.VALUE_COEF)
    entropy_coef: float = _number(env.ENTROPY_COEF)
    max_grad_norm: float = _number(env.MAX_GRAD_NORM)
    target_kl: float | None = _number(env.TARGET_KL) or None
    """Stop the epochs early once the mean approximate KL exceeds this (None: never)."""


def compute_gae(
    rewards: Tensor, values: Tensor, dones: Tensor, last_value: Tensor, gamma: float, lam: float
) -> tuple[Tensor, Tensor]:
    """Generalised advantage estimates and returns, both (T, B).

    ``dones[t] = 1`` when a trading session closed with step t. The close is not terminal: cash and
    positions carry overnight, so the value still bootstraps from V at t + 1 (the next session's first
    decision, whose reward holds the overnight move); only the advantage trace is cut there, as for a
    time-limit truncation, because the recurrent state restarts at the open. ``last_value`` (B,) is V of
    the observation after the last step.
    """
    steps = rewards.shape[0]
    advantages = torch.zeros_like(rewards)
    next_advantage = torch.zeros_like(last_value)
    next_value = last_value
    for t in reversed(range(steps)):
        carry = 1.0 - dones[t]
        delta = rewards[t] + gamma * next_value - values[t]
        next_advantage = delta + gamma * lam * carry * next_advantage
        advantages[t] = next_advantage
        next_value = values[t]
    return advantages, advantages + values


def normalise_advantages(advantages: Tensor) -> Tensor:
    """The rollout's advantages (T, B) scaled to mean 0 and standard deviation 1 over all of them."""
    return (advantages - advantages.mean()) / (advantages.std(unbiased=False) + 1e-8)


@dataclass(frozen=True, slots=True)
class _Sequences:
    """The rollout cut into S padded sequences of L steps: tensors (L, S, ...)."""

    observations: Tensor
    actions: Tensor
    masks: Tensor
    starts: Tensor
    log_probs: Tensor
    advantages: Tensor
    returns: Tensor
    valid: Tensor
    lengths: Tensor
    """Valid steps of each sequence, (S,); stays on the CPU."""
    states: RecurrentState

    def to(self, device: torch.device) -> _Sequences:
        """The same sequences on ``device``."""
        return _Sequences(
            observations=self.observations.to(device),
            actions=self.actions.to(device),
            masks=self.masks.to(device),
            starts=self.starts.to(device),
            log_probs=self.log_probs.to(device),
            advantages=self.advantages.to(device),
            returns=self.returns.to(device),
            valid=self.valid.to(device),
            lengths=self.lengths,
            states=RecurrentState(*(s.to(device) for s in self.states)),
        )


def _to_sequences(rollout: Rollout, advantages: Tensor, returns: Tensor) -> _Sequences:
    steps, streams = rollout.actions.shape
    bounds = [*rollout.sequence_starts, steps]
    chunks = list(itertools.pairwise(bounds))
    length = max(t1 - t0 for t0, t1 in chunks)

    def cut(x: Tensor, fill: float | bool = 0) -> Tensor:
        parts = []
        for t0, t1 in chunks:
            part = x[t0:t1]  # (l, B, ...)
            if part.shape[0] < length:
                pad = torch.full((length - part.shape[0], *part.shape[1:]), fill, dtype=x.dtype)
                part = torch.cat([part, pad])
            parts.append(part)
        return torch.cat(parts, dim=1)  # (L, chunks * B, ...): chunk-major, then stream

    valid = cut(torch.ones(steps, streams, dtype=torch.bool), False)
    states = RecurrentState(*(torch.cat([s[i] for s in rollout.sequence_states], dim=1) for i in range(4)))
    return _Sequences(
        observations=cut(rollout.observations),
        actions=cut(rollout.actions),
        masks=cut(rollout.masks, True),
        starts=cut(rollout.starts, False),
        log_probs=cut(rollout.log_probs),
        advantages=cut(advantages),
        returns=cut(returns),
        valid=valid,
        lengths=valid.sum(dim=0),
        states=states,
    )


def _masked_mean(x: Tensor, valid: Tensor) -> Tensor:
    return (x * valid).sum() / valid.sum().clamp(min=1)


def explained_variance(predicted: Tensor, target: Tensor) -> float:
    """1 - Var(target - predicted) / Var(target); NaN when the target is constant."""
    variance = target.var()
    if float(variance) == 0.0:
        return float("nan")
    return float(1.0 - (target - predicted).var() / variance)


def ppo_update(
    network: CLSTMActorCritic,
    optimizer: torch.optim.Optimizer,
    rollout: Rollout,
    last_value: Tensor,
    config: PPOConfig,
    generator: torch.Generator,
) -> TrainMetrics:
    """Train ``network`` on ``rollout`` (the fresh one, collected by this very network) and return metrics."""
    device = next(network.parameters()).device
    advantages, returns = compute_gae(
        rollout.rewards, rollout.values, rollout.dones, last_value.cpu(), config.gamma, config.gae_lambda
    )
    seq = _to_sequences(rollout, normalise_advantages(advantages), returns).to(device)
    count = seq.actions.shape[1]
    minibatches = max(1, min(config.minibatches, count))
    totals = {"policy": 0.0, "value": 0.0, "entropy": 0.0, "kl": 0.0, "clip": 0.0}
    runs = 0
    first_ratio_error = float("nan")
    epochs = 0
    network.train()
    for _ in range(config.epochs):
        epochs += 1
        order = torch.randperm(count, generator=generator)  # on the CPU, like ``seq.lengths``
        epoch_kl = []
        for chosen in order.chunk(minibatches):
            steps = int(seq.lengths[chosen].max())  # trim padding that no sequence of this minibatch needs
            batch = chosen.to(device)
            valid = seq.valid[:steps, batch].float()
            out: NetworkOutput = network(
                seq.observations[:steps, batch], seq.states.select(batch), seq.starts[:steps, batch]
            )
            log_p = torch.log_softmax(masked_logits(out.logits, seq.masks[:steps, batch]), dim=-1)  # (l, S_mb, A)
            taken = log_p.gather(-1, seq.actions[:steps, batch].unsqueeze(-1)).squeeze(-1)  # (l, S_mb)
            log_ratio = taken - seq.log_probs[:steps, batch]
            ratio = log_ratio.exp()
            if runs == 0:
                first_ratio_error = float(((ratio.detach() - 1).abs() * valid).max())

            advantage = seq.advantages[:steps, batch]
            surrogate = torch.max(-advantage * ratio, -advantage * ratio.clamp(1 - config.clip, 1 + config.clip))
            policy_loss = _masked_mean(surrogate, valid)
            value_loss = 0.5 * _masked_mean((out.values - seq.returns[:steps, batch]) ** 2, valid)
            entropy = _masked_mean(-(log_p.exp() * log_p).sum(-1), valid)
            loss = policy_loss + config.value_coef * value_loss - config.entropy_coef * entropy

            optimizer.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            nn.utils.clip_grad_norm_(network.parameters(), config.max_grad_norm, foreach=True)
            optimizer.step()

            with torch.no_grad():
                kl = float(_masked_mean((ratio - 1) - log_ratio, valid))
                totals["policy"] += float(policy_loss)
                totals["value"] += float(value_loss)
                totals["entropy"] += float(entropy)
                totals["kl"] += kl
                totals["clip"] += float(_masked_mean(((ratio - 1).abs() > config.clip).float(), valid))
            epoch_kl.append(kl)
            runs += 1
        if config.target_kl is not None and sum(epoch_kl) / len(epoch_kl) > config.target_kl:
            break
    return TrainMetrics(
        policy_loss=totals["policy"] / runs,
        value_loss=totals["value"] / runs,
        entropy=totals["entropy"] / runs,
        approx_kl=totals["kl"] / runs,
        clip_fraction=totals["clip"] / runs,
        explained_variance=explained_variance(rollout.values.flatten(), returns.flatten()),
        first_ratio_error=first_ratio_error,
        samples=int(rollout.actions.numel()),
        epochs=epochs,
    )
