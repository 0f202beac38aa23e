"""Recurrent PPO done right: GAE, on-policy log-probabilities, fresh rollouts, masking, state replay."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from tradingbot.agent import ppo
from tradingbot.agent.agent import OptionsCLSTMPPOAgent
from tradingbot.agent.buffer import ExperienceBuffer
from tradingbot.agent.inference import NumpyStepper
from tradingbot.agent.network import CLSTMActorCritic, masked_logits
from tradingbot.agent.ppo import PPOConfig, compute_gae, explained_variance


def test_gae_matches_a_hand_computed_example():
    # gamma 0.9, lambda 0.8; a session closes with step 1; the rollout is cut after step 3 (bootstrap V=4)
    rewards = torch.tensor([[1.0], [2.0], [0.5], [-1.0]])
    values = torch.tensor([[0.5], [1.0], [2.0], [3.0]])
    dones = torch.tensor([[0.0], [1.0], [0.0], [0.0]])
    last = torch.tensor([4.0])
    adv, ret = compute_gae(rewards, values, dones, last, gamma=0.9, lam=0.8)
    d3 = -1.0 + 0.9 * 4.0 - 3.0  # -0.4
    d2 = 0.5 + 0.9 * 3.0 - 2.0  # 1.2
    d1 = 2.0 + 0.9 * 2.0 - 1.0  # 2.8: the close is not terminal, the value bootstraps across the night
    d0 = 1.0 + 0.9 * 1.0 - 0.5  # 1.4
    a3 = d3
    a2 = d2 + 0.72 * a3
    a1 = d1  # the trace is cut at the close (the recurrent state restarts at the open)
    a0 = d0 + 0.72 * a1
    torch.testing.assert_close(adv[:, 0], torch.tensor([a0, a1, a2, a3]))
    torch.testing.assert_close(ret, adv + values)


def test_advantages_are_normalised_once_over_the_whole_rollout(small_trader, monkeypatch):
    seen = []
    normalise = ppo.normalise_advantages

    def spy(advantages):
        seen.append(tuple(advantages.shape))
        return normalise(advantages)

    monkeypatch.setattr("tradingbot.agent.ppo.normalise_advantages", spy)
    trader = small_trader(update_frequency=500)
    collect(trader, 40)
    trader.learner.agent.train(
        trader.learner.buffer.rollout(), trader.learner.agent.bootstrap_value(trader.env.observation())
    )
    assert seen == [(40, 2)]  # once, all 80 samples: not per minibatch of 10-20
    normalised = ppo.normalise_advantages(torch.tensor([[1.0, 5.0], [3.0, -1.0]]))
    torch.testing.assert_close(normalised.mean(), torch.tensor(0.0))
    torch.testing.assert_close(normalised.std(unbiased=False), torch.tensor(1.0), atol=1e-6, rtol=0)


def collect(trader, steps):
    for _ in range(steps):
        trader.tick()


def test_the_first_minibatch_ratio_is_one_and_kl_zero_before_any_step(small_trader):
    trader = small_trader(update_frequency=500)
    collect(trader, 40)  # crosses a session close (13 steps a day): state resets inside sequences
    rollout = trader.learner.buffer.rollout()
    assert rollout.starts[1:].any(), "the test needs a reset inside the rollout"
    metrics = trader.learner.agent.train(rollout, trader.learner.agent.bootstrap_value(trader.env.observation()))
    assert metrics.first_ratio_error < 1e-5
    assert np.isfinite([metrics.policy_loss, metrics.value_loss, metrics.entropy, metrics.approx_kl]).all()
    assert metrics.samples == 40 * 2


def test_stale_log_probabilities_are_detected_by_the_ratio_check(small_trader):
    trader = small_trader(update_frequency=500)
    collect(trader, 30)
    rollout = trader.learner.buffer.rollout()
    stale = rollout._replace(log_probs=rollout.log_probs - 0.5)  # as if recorded by another policy
    metrics = trader.learner.agent.train(stale, trader.learner.agent.bootstrap_value(trader.env.observation()))
    assert metrics.first_ratio_error > 0.5


def test_stored_recurrent_states_reproduce_the_acting_pass(small_trader):
    trader = small_trader(update_frequency=500)
    collect(trader, 45)
    rollout = trader.learner.buffer.rollout()
    network = trader.learner.agent.network
    bounds = [*rollout.sequence_starts, rollout.actions.shape[0]]
    assert rollout.starts[1:].any(), "the test needs a reset inside the rollout"
    for (t0, t1), state in zip(itertools.pairwise(bounds), rollout.sequence_states, strict=True):
        assert t1 - t0 <= network.config.window and not rollout.starts[t0 + 1 : t1].any()  # one pass each
        with torch.no_grad():
            out = network(rollout.observations[t0:t1], state, rollout.starts[t0:t1])
            log_p = torch.log_softmax(masked_logits(out.logits, rollout.masks[t0:t1]), dim=-1)
        replayed = log_p.gather(-1, rollout.actions[t0:t1].unsqueeze(-1)).squeeze(-1)
        torch.testing.assert_close(replayed, rollout.log_probs[t0:t1], atol=1e-5, rtol=0)
        torch.testing.assert_close(out.values, rollout.values[t0:t1], atol=1e-5, rtol=0)


def test_sequence_and_stepwise_paths_agree(small):
    torch.manual_seed(0)
    network = CLSTMActorCritic(small)
    obs = torch.randn(12, 3, small.observation_size)
    state = network.initial_state(3)
    starts = torch.zeros(12, 3, dtype=torch.bool)
    with torch.no_grad():
        whole = network(obs, state, starts)
        starts_marker = starts.clone()
        starts_marker[5, 1] = True
        stepwise = network._stepwise(obs, state, torch.zeros_like(starts))
        reset = network(obs, state, starts_marker)
    torch.testing.assert_close(whole.logits, stepwise.logits, atol=1e-6, rtol=0)
    torch.testing.assert_close(reset.logits[:, [0, 2]], whole.logits[:, [0, 2]], atol=1e-6, rtol=0)
    fresh = network(obs[5:], network.initial_state(3), torch.zeros(7, 3, dtype=torch.bool))
    torch.testing.assert_close(reset.logits[5:, 1], fresh.logits[:, 1], atol=1e-6, rtol=0)


def test_training_uses_exactly_the_fresh_rollout_at_the_update_frequency(small_trader):
    trader = small_trader(update_frequency=25)
    updates = []
    for _ in range(80):
        report = trader.tick()
        if report.metrics is not None:
            updates.append((trader.step, report.metrics.samples))
        assert trader.learner.buffer.fresh_steps == trader.step % 25
    assert updates == [(25, 50), (50, 50), (75, 50)]
    assert trader.learner.agent.updates == 3 and len(trader.learner.buffer) == 80


def add_step(buffer, state, t):
    """One single-stream transition whose observation and reward are ``t``."""
    buffer.add(
        np.full((1, 2), t, np.float32),
        np.array([t % 31]),
        np.ones((1, 31), bool),
        np.array([float(t)], np.float32),
        np.array([False]),
        np.zeros(1, np.float32),
        np.zeros(1, np.float32),
        np.array([False]),
        state,
    )


def test_the_buffer_is_a_ring_and_rollouts_stay_contiguous_across_the_wrap(small):
    buffer = ExperienceBuffer(1, 2, 31, window=4, capacity=10)
    state = CLSTMActorCritic(small).initial_state(1)
    for t in range(23):
        if t in (8, 16):  # updates; the third rollout wraps around the 10-row ring
            buffer.consume()
        add_step(buffer, state, t)
    rollout = buffer.rollout()
    assert rollout.rewards[:, 0].tolist() == [16.0, 17, 18, 19, 20, 21, 22]
    assert len(rollout.sequence_states) == 2  # sequences start at steps 0 and 4 of the rollout
    assert len(buffer) == 10 and buffer.recent_rewards(3)[:, 0].tolist() == [20.0, 21, 22]
    buffer.consume()
    with pytest.raises(ValueError, match="no fresh experience"):
        buffer.rollout()


def test_a_rollout_longer_than_the_buffer_is_refused(small):
    buffer = ExperienceBuffer(1, 2, 31, window=4, capacity=3)
    state = CLSTMActorCritic(small).initial_state(1)
    for t in range(3):
        add_step(buffer, state, t)
    with pytest.raises(OverflowError, match="train first"):
        add_step(buffer, state, 3)


def test_masked_actions_are_never_sampled_and_have_zero_probability(small):
    agent = OptionsCLSTMPPOAgent(small, PPOConfig(), streams=64, seed=3)
    rng = np.random.default_rng(0)
    for _ in range(50):
        mask = rng.random((64, 31)) < 0.15
        mask[:, 0] = True
        obs = rng.normal(size=(64, small.observation_size)).astype(np.float32)
        sampled = agent.act(obs, mask)
        greedy = agent.act(obs, mask, greedy=True)
        assert mask[np.arange(64), sampled.actions].all() and mask[np.arange(64), greedy.actions].all()
    logits = torch.randn(4, 31) * 50
    mask = torch.zeros(4, 31, dtype=torch.bool)
    mask[:, 7] = True
    probs = torch.softmax(masked_logits(logits, mask), -1)
    assert torch.equal(probs[:, 7], torch.ones(4)) and probs.sum() == 4


def test_an_ended_episode_resets_only_that_streams_state(small):
    agent = OptionsCLSTMPPOAgent(small, PPOConfig(), streams=2, seed=1)
    obs = np.ones((2, small.observation_size), np.float32)
    mask = np.ones((2, 31), bool)
    first = agent.act(obs, mask)
    assert first.starts.all()  # a new agent starts every stream afresh
    agent.act(obs, mask)
    agent.end_episodes(np.array([True, False]))
    third = agent.act(obs, mask)
    assert third.starts.tolist() == [True, False]
    assert all(float(t[:, 0].abs().sum()) == 0 for t in third.state)
    assert all(float(t[:, 1].abs().sum()) > 0 for t in third.state)


def test_training_changes_the_policy_and_reports_sane_metrics(small_trader):
    trader = small_trader(update_frequency=500)
    collect(trader, 60)
    before = [p.detach().clone() for p in trader.learner.agent.network.parameters()]
    metrics = trader.learner.agent.train(
        trader.learner.buffer.rollout(), trader.learner.agent.bootstrap_value(trader.env.observation())
    )
    after = list(trader.learner.agent.network.parameters())
    assert any(not torch.equal(b, a) for b, a in zip(before, after, strict=True))
    assert 0 <= metrics.clip_fraction <= 1 and metrics.entropy > 0 and metrics.epochs >= 1


def test_explained_variance():
    target = torch.tensor([1.0, 2.0, 3.0, 4.0])
    assert explained_variance(target, target) == 1.0
    assert explained_variance(torch.zeros(4), target) == pytest.approx(0.0)
    assert np.isnan(explained_variance(target, torch.ones(4)))


def test_both_acting_paths_compute_what_training_replays(small):
    torch.manual_seed(4)
    network = CLSTMActorCritic(small)
    obs = torch.randn(6, 3, small.observation_size)
    state = network.initial_state(3)
    with torch.no_grad():
        replay = network(obs, state, torch.zeros(6, 3, dtype=torch.bool))
        torch_state, numpy_state = state, tuple(t[0].numpy() for t in state)
        stepper = NumpyStepper(network)
        for t in range(6):
            out = network.step(obs[t], torch_state)
            torch_state = out.state
            logits, values, numpy_state = stepper.step(obs[t].numpy(), numpy_state)
            torch.testing.assert_close(out.logits, replay.logits[t], atol=1e-5, rtol=0)
            np.testing.assert_allclose(logits, replay.logits[t].numpy(), atol=1e-5)
            np.testing.assert_allclose(values, replay.values[t].numpy(), atol=1e-5)


def test_the_numpy_path_follows_weight_updates_in_place(small_trader):
    trader = small_trader(update_frequency=20)
    for _ in range(19):
        trader.tick()
    stepper = trader.learner.agent._stepper
    before = [v.copy() for v in stepper._weights()]
    trader.tick()  # trains
    after = stepper._weights()
    assert any(not np.array_equal(b, a) for b, a in zip(before, after, strict=True))
    for view, tensor in zip(after, stepper._parameters, strict=True):
        np.testing.assert_array_equal(view, tensor.detach().numpy())
