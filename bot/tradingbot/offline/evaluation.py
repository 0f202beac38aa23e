"""``tradingbot evaluate``: the agent against ``hold`` and ``random`` on identical simulated markets.

Each seed is one market path: the simulator's randomness does not depend on what is traded, so every
policy on a seed sees the same prices, quotes and costs (the bot's own settings: fees, risk budget,
data rules). The agent runs with learning frozen (sampling its policy, its recurrent state restarted
at each close as in training) or, ``online``, learning as the bot does. Seeds default to 0, 1, …, never
among the pre-training markets' (:data:`tradingbot.offline.pretrain.PRETRAIN_SEED_BASE` on).

Because the paths are identical, the agent is compared with each baseline pair by pair: the difference
of total return on each seed, and of return on each session, with their standard errors and t.
"""

from __future__ import annotations

import html
import math
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from tradingbot.agent.update_metrics import TrainMetrics
from tradingbot.baselines import make_policy
from tradingbot.build import experience_buffer, new_agent, simulated_environment
from tradingbot.config import Settings
from tradingbot.env.paper import Observation, PaperTradingEnvironment, StepResult
from tradingbot.env.portfolio import Fill
from tradingbot.market.types import BoolArray
from tradingbot.reports.performance import METRICS, daily_returns, mean_and_error, performance
from tradingbot.reports.trading import Account, ReportData
from tradingbot.trader import learn_from_step
from tradingbot_contract import env

POLICIES = ("agent", "hold", "random")
BASELINES = POLICIES[1:]


@dataclass(slots=True)
class Episode:
    """One policy on one seeded market: equity at the opening and at each close (USD), and its fills."""

    policy: str
    seed: int
    equity: list[float]
    fills: list[Fill] = field(default_factory=list)
    updates: list[TrainMetrics] = field(default_factory=list)
    """The PPO updates made on the way (``online`` only)."""
    min_equity: float = 0.0
    """The lowest equity seen after any step, USD."""


def _stepper(
    settings: Settings,
    episode: Episode,
    env: PaperTradingEnvironment,
    weights: dict[str, Any] | None,
    online: bool,
) -> Callable[[Observation, BoolArray], StepResult]:
    """How ``episode.policy`` decides and takes one step."""
    if episode.policy != "agent":
        baseline = make_policy(episode.policy, episode.seed)
        return lambda observation, mask: env.step(baseline.act(observation, mask))
    streams = len(settings.symbols)
    agent = new_agent(settings, streams, "cpu", episode.seed)
    if weights is not None:
        agent.load_state_dict(weights, weights_only=True)
    if online:
        buffer = experience_buffer(settings, streams)

        def learning(observation: Observation, mask: BoolArray) -> StepResult:
            _, result, metrics = learn_from_step(agent, buffer, observation, mask, env.step, settings.update_frequency)
            if metrics is not None:
                episode.updates.append(metrics)
            return result

        return learning

    def frozen(observation: Observation, mask: BoolArray) -> StepResult:
        result = env.step(agent.act(observation, mask).actions)
        agent.end_episodes(result.done)
        return result

    return frozen


def run_episode(
    settings: Settings, policy: str, seed: int, days: int, weights: dict[str, Any] | None, online: bool
) -> Episode:
    """Trade ``policy`` for ``days`` sessions on the market of ``seed``; ``weights`` seed the agent (a
    checkpoint's agent state; ``None``: a fresh network, as ``make run`` starts)."""
    env = simulated_environment(settings, seed)
    episode = Episode(policy, seed, [env.portfolio.value], min_equity=env.portfolio.value)
    step = _stepper(settings, episode, env, weights, online)
    observation = env.observation()
    while len(episode.equity) <= days:
        result = step(observation, env.action_mask())
        observation = result.observation
        episode.fills.extend(result.info.fills)
        episode.min_equity = min(episode.min_equity, env.portfolio.value)
        if result.done:
            episode.equity.append(env.portfolio.value)
    return episode


@dataclass(frozen=True, slots=True)
class Difference:
    """The agent's return minus a baseline's over paired samples (fractions: 0.01 = 1 %)."""

    mean: float
    error: float
    """Standard error of the mean (NaN with fewer than two samples)."""
    samples: int

    @property
    def t(self) -> float:
        """mean / error; NaN when the error is zero or unknown (e.g. two identical accounts)."""
        return self.mean / self.error if self.error > 0 else math.nan


def difference(samples: Sequence[float]) -> Difference:
    """The mean of paired differences (fractions) with its standard error."""
    mean, error = mean_and_error(samples)
    return Difference(mean, error, len(samples))


def paired_differences(agent: Sequence[Episode], baseline: Sequence[Episode]) -> dict[str, Difference]:
    """``total_return``: agent minus baseline on each seed; ``daily_return``: on each session of each seed.
    The episodes must be the same seeds in the same order, each with the same number of sessions."""
    if [a.seed for a in agent] != [b.seed for b in baseline]:
        raise ValueError("paired differences need the same seeds in the same order")
    totals = [a.equity[-1] / a.equity[0] - b.equity[-1] / b.equity[0] for a, b in zip(agent, baseline, strict=True)]
    daily = [
        float(d)
        for a, b in zip(agent, baseline, strict=True)
        for d in daily_returns(a.equity) - daily_returns(b.equity)
    ]
    return {"total_return": difference(totals), "daily_return": difference(daily)}


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Every episode; per policy each metric's mean and standard error over the seeds; and the agent
    against each baseline (:func:`paired_differences`)."""

    episodes: dict[str, list[Episode]]
    summary: dict[str, dict[str, tuple[float, float]]]
    comparisons: dict[str, dict[str, Difference]]


def _one_thread() -> None:
    torch.set_num_threads(1)  # the workers share the cores


@contextmanager
def _single_threaded_children() -> Iterator[None]:
    """Processes started inside inherit the contract's ``NUMERIC_LIBRARY_VARIABLES`` (one OpenMP, OpenBLAS
    and MKL thread, as in the bot's pod), except those the caller set; they are removed again after."""
    added = {name: value for name, value in env.NUMERIC_LIBRARY_VARIABLES.items() if name not in os.environ}
    os.environ.update(added)
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)


def run_episodes(
    settings: Settings,
    jobs: Sequence[tuple[str, int]],
    days: int,
    weights: dict[str, Any] | None,
    online: bool,
    workers: int = 1,
) -> list[Episode]:
    """:func:`run_episode` for every (policy, seed) of ``jobs``, in order; with ``workers`` > 1 in that many
    fresh processes at once (each with one thread for torch and numpy). Every episode is seeded by its own policy and
    seed alone, so the results do not depend on ``workers``."""
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    if workers == 1 or len(jobs) == 1:
        return [run_episode(settings, policy, seed, days, weights, online) for policy, seed in jobs]
    policies, seeds = [policy for policy, _ in jobs], [seed for _, seed in jobs]
    context = multiprocessing.get_context("spawn")  # no forked torch or open sockets
    n = len(jobs)
    with (
        _single_threaded_children(),  # several BLAS threads per worker would fight over the cores
        ProcessPoolExecutor(min(workers, n), mp_context=context, initializer=_one_thread) as pool,
    ):
        return list(pool.map(run_episode, [settings] * n, policies, seeds, [days] * n, [weights] * n, [online] * n))


def evaluate(
    settings: Settings,
    seeds: Sequence[int],
    days: int,
    weights: dict[str, Any] | None,
    online: bool,
    workers: int = 1,
) -> Evaluation:
    """Run every policy of :data:`POLICIES` on every seed (``workers`` processes at once)."""
    jobs = [(policy, seed) for policy in POLICIES for seed in seeds]
    done = iter(run_episodes(settings, jobs, days, weights, online, workers))
    episodes = {policy: [next(done) for _ in seeds] for policy in POLICIES}
    summary = {}
    for policy, runs in episodes.items():
        figures = [performance(run.equity, run.fills) for run in runs]
        summary[policy] = {metric: mean_and_error([f[metric] for f in figures]) for metric in METRICS}
    comparisons = {baseline: paired_differences(episodes["agent"], episodes[baseline]) for baseline in BASELINES}
    return Evaluation(episodes, summary, comparisons)


def _format_difference(name: str, difference: Difference, unit: str) -> str:
    t = "n/a" if math.isnan(difference.t) else f"{difference.t:+.2f}"
    return f"{name} {difference.mean * 100:+.3f}% ± {difference.error * 100:.3f}% (t {t}, {difference.samples} {unit})"


def format_summary(evaluation: Evaluation) -> str:
    """A plain-text table: one row per metric, one column per policy, ``mean ± standard error``."""
    percent = {"total_return", "annualised_return", "max_drawdown", "win_rate"}
    header = f"{'metric':<18}" + "".join(f"{policy:>24}" for policy in POLICIES)
    lines = [header, "-" * len(header)]
    for metric in METRICS:
        cells = []
        for policy in POLICIES:
            mean, error = evaluation.summary[policy][metric]
            scale, unit = (100.0, "%") if metric in percent else (1.0, "")
            cells.append(f"{mean * scale:>12.3f}{unit} ± {error * scale:.3f}{unit}".rjust(24))
        lines.append(f"{metric:<18}" + "".join(cells))
    lines.append("")
    for baseline, difference in evaluation.comparisons.items():
        lines.append(
            f"agent - {baseline}: "
            + _format_difference("total return", difference["total_return"], "seeds")
            + "; "
            + _format_difference("daily return", difference["daily_return"], "sessions")
        )
    return "\n".join(lines)


def evaluation_data(evaluation: Evaluation, summary: str) -> ReportData:
    """An evaluation's page: each policy's mean equity over the seeds, the agent's fills on every seed
    broken down, and its learning curves on the first seed (when it learned online)."""
    accounts = []
    for policy, episodes in evaluation.episodes.items():
        mean = np.mean([e.equity for e in episodes], axis=0)
        fills = [f for e in episodes for f in e.fills]
        accounts.append(Account(f"{policy} (mean of {len(episodes)} seeds)", list(mean), fills))
    updates = evaluation.episodes["agent"][0].updates
    return ReportData("Evaluation: agent, hold and random", accounts, f"<pre>{html.escape(summary)}</pre>", updates)
