"""``VectorEnvironment``: N independent paper accounts on N independent simulated markets, stepped as one.

The agent sees N x S streams (S underlyings per market, market-major): one batched forward per step
decides for every stream of every market. Each market keeps its own account, risk budget and calendar;
all start on the same date with the same steps per session, so they close together and ``done`` is
shared. The combined :class:`StepInfo` sums the accounts (money in USD) and concatenates the per-stream
parts, so the learning loop trains on it exactly as on one account.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from tradingbot.env.paper import Observation, PaperTradingEnvironment, StepInfo, StepResult
from tradingbot.market.types import BoolArray


class VectorEnvironment:
    """Several :class:`PaperTradingEnvironment` s behind the single-environment interface the learner uses."""

    def __init__(self, environments: Sequence[PaperTradingEnvironment]) -> None:
        if not environments:
            raise ValueError("a vector environment needs at least one environment")
        self.environments = tuple(environments)
        self.symbols = tuple(s for env in self.environments for s in env.symbols)
        self._width = len(self.environments[0].symbols)
        if any(len(env.symbols) != self._width for env in self.environments):
            raise ValueError("every environment of a vector environment trades the same number of underlyings")

    def observation(self) -> Observation:
        """(N x S, OBSERVATION_SIZE), market-major."""
        return np.concatenate([env.observation() for env in self.environments])

    def action_mask(self) -> BoolArray:
        """(N x S, 31), market-major."""
        return np.concatenate([env.action_mask() for env in self.environments])

    def step(self, actions: Sequence[int] | npt.NDArray[np.integer]) -> StepResult:
        """Step every market with its slice of ``actions``; the reward is the sum of the accounts'."""
        array = np.asarray(actions)
        if array.shape != (len(self.symbols),):
            raise ValueError(f"step() takes {len(self.symbols)} actions (one per stream), got shape {array.shape}")
        results = [env.step(array[i * self._width : (i + 1) * self._width]) for i, env in enumerate(self.environments)]
        infos = [r.info for r in results]
        closed = sum(env.portfolio.closed for env in self.environments)
        wins = sum(env.portfolio.wins for env in self.environments)
        info = StepInfo(
            timestamp_ms=infos[0].timestamp_ms,
            fills=tuple(f for i in infos for f in i.fills),
            rejections=tuple(r for i in infos for r in i.rejections),
            stale_symbols=tuple(s for i in infos for s in i.stale_symbols),
            portfolio_value=sum(i.portfolio_value for i in infos),
            cash=sum(i.cash for i in infos),
            realized_pnl=sum(i.realized_pnl for i in infos),
            unrealized_pnl=sum(i.unrealized_pnl for i in infos),
            trades=sum(i.trades for i in infos),
            win_rate=wins / closed if closed else 0.0,
            symbol_rewards=tuple(r for i in infos for r in i.symbol_rewards),
            suspended=any(i.suspended for i in infos),
            risk_halted=any(i.risk_halted for i in infos),
        )
        done = {r.done for r in results}
        if len(done) != 1:  # same start date, same steps per session: the markets close together
            raise RuntimeError("the markets of a vector environment closed at different steps")
        observation = np.concatenate([r.observation for r in results])
        return StepResult(observation, sum(r.reward for r in results), done.pop(), info)
