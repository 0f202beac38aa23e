"""``PaperTradingEnvironment``: the market, the paper portfolio and the action table, stepped together.

One step: execute one action per underlying at the current snapshot (buys at the ask, closes at the
bid), advance the market, mark positions to the new quotes' mids, close positions expiring today
at the cut-off and settle expired ones, then compute the reward and the next observation.

Expiry is physical settlement, booked in cash: an in-the-money long call delivers shares that are sold
at the bid, a long put is exercised with shares bought at the ask, so an expired position settles at
its intrinsic value from the underlying's mid less the stock's half-spread (a trade price, whose spread
is unknown, settles at plain intrinsic). Exercising costs no commission; the stock trade's own
commission is left out (most brokers charge none).

``done`` is true at the 16:00 close, which ends a trading episode; in online use the portfolio carries
on and ``done`` only cuts recurrent state and advantage estimation there.

Nothing trades on data it cannot trust (the rules are :mod:`tradingbot.market.quality`'s): an
underlying whose quote is missing, one-sided, crossed, too wide or not fresh (by arrival and by its
stamp), or whose chain is missing or stale, cannot be bought on; a contract is bought at its ask and
sold at its bid only while its own quote is valid. Positions are marked at a valid mid only (otherwise
they keep their last valid mark, whose age is reported), and expiring ones settle from the
underlying's last valid mid, never from a one-sided quote. An action that is masked when it executes
is refused with a reason (reported in ``StepInfo.rejections``) and changes nothing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from tradingbot.env.actions import (
    ACTIONS,
    BUY_ACTIONS,
    HOLD,
    NUM_ACTIONS,
    BuyOption,
    ClosePositions,
    CloseSelector,
    check_action,
)
from tradingbot.env.chain_layout import ChainLayout, LayoutCache
from tradingbot.env.observation import OBSERVATION_SIZE, ObservationBuilder, PositionLimits
from tradingbot.env.portfolio import FeeSchedule, Fill, Portfolio, Position
from tradingbot.env.reward import step_reward
from tradingbot.env.risk import EntryCandidate, Exposure, RiskLimits, RiskManager, RiskState, Sizing
from tradingbot.env.settlement import Reference, SettlementPrices, expire_positions
from tradingbot.market.clock import SESSION_MINUTES, eastern, session_minute
from tradingbot.market.quality import DataRules, quote_problem, staleness, tradable_quote
from tradingbot.market.sim.simulator import TRADING_DAYS_PER_YEAR
from tradingbot.market.source import MarketSource
from tradingbot.market.types import BoolArray, MarketSnapshot, OptionChain

Observation = npt.NDArray[np.float32]
"""Shape (n_symbols, OBSERVATION_SIZE), float32."""
_MAX_STRIKE_MISS = 0.02
"""A buy resolves only to a strike within this fraction of the spot of its target strike."""


@dataclass(frozen=True, slots=True)
class EnvironmentConfig:
    """Trading rules of the paper account. Money in USD."""

    initial_capital: float = 100_000.0
    fees: FeeSchedule = field(default_factory=FeeSchedule)
    risk: RiskLimits = field(default_factory=RiskLimits)
    """The risk budget: how much premium may be at risk, how many contracts a buy takes, when entries stop."""
    expiry_cutoff_minutes: float = 45.0
    """Positions expiring today are sold at the bid this many minutes before the close; 0 holds them to settlement."""
    data: DataRules = field(default_factory=DataRules)
    """What data may be traded on: freshness (by arrival and stamp) and quote validity."""
    steps_per_day: int = SESSION_MINUTES

    def __post_init__(self) -> None:
        if not (math.isfinite(self.initial_capital) and self.initial_capital > 0):
            raise ValueError(f"initial capital must be positive, got {self.initial_capital!r}")
        if not 0 <= self.expiry_cutoff_minutes < SESSION_MINUTES:
            raise ValueError("the expiry cut-off must lie within the session")


@dataclass(frozen=True, slots=True)
class Rejection:
    """An action that was not executed, and why."""

    symbol: str
    action: int
    reason: str


@dataclass(frozen=True, slots=True)
class StepInfo:
    """What a step did and where the account stands after it (USD)."""

    timestamp_ms: int
    fills: tuple[Fill, ...]
    rejections: tuple[Rejection, ...]
    stale_symbols: tuple[str, ...]
    portfolio_value: float
    cash: float
    realized_pnl: float
    unrealized_pnl: float
    trades: int
    win_rate: float
    symbol_rewards: tuple[float, ...]
    """Each underlying's share of the reward: its positions' P&L over the step, net of its fills' costs.
    They sum to the step's reward."""
    suspended: bool = False
    """New entries were suspended during this step."""
    risk_halted: bool = False
    """A risk protection (daily loss limit, drawdown protection) stops new entries after this step."""


class StepResult(NamedTuple):
    """The seed's ``(observation, reward, done, info)``."""

    observation: Observation
    reward: float
    done: bool
    info: StepInfo


@dataclass(slots=True)
class _SymbolView:
    """One underlying at the current snapshot, as the environment may use it."""

    spot: float
    chain: OptionChain | None
    tradable: bool
    buy_targets: list[int]
    """Chain index of each buy action's contract (in ``BUY_ACTIONS`` order), -1 when none resolves."""
    problem: str | None = None
    """Why nothing can be bought on this underlying now (``None`` when it is tradable)."""


def _resolve_buys(chain: OptionChain, layout: ChainLayout, spot: float, today: int) -> list[int]:
    """The contract each buy action would take: nearest expiry to the tier's target, nearest strike."""
    targets = dict.fromkeys(BUY_ACTIONS, -1)
    expiries = layout.expiries_after(today)
    if expiries.size == 0:
        return [-1] * len(BUY_ACTIONS)
    days_out = expiries - today
    for (call, target_days), group in _BUY_GROUPS.items():
        miss = np.abs(days_out - target_days)
        expiry = int(expiries[np.flatnonzero(miss == miss.min())[-1]])
        for action, otm in group:
            want = spot * (1 + otm) if call else spot * (1 - otm)
            best = layout.nearest(expiry, call, want)
            if best is not None and abs(chain.strike[best] - want) <= _MAX_STRIKE_MISS * spot:
                targets[action] = best
    return [targets[a] for a in BUY_ACTIONS]


def _group_buys() -> dict[tuple[bool, int], list[tuple[int, float]]]:
    """Buy actions grouped by (is call, target days): each group shares one expiry and one strike column."""
    groups: dict[tuple[bool, int], list[tuple[int, float]]] = {}
    for index in BUY_ACTIONS:
        order = ACTIONS[index].order
        assert isinstance(order, BuyOption)
        groups.setdefault((order.contract_type == "call", order.target_days), []).append((index, order.otm))
    return groups


_BUY_GROUPS = _group_buys()


class PaperTradingEnvironment:
    """A paper account trading long options on every underlying of a market source."""

    def __init__(
        self,
        source: MarketSource,
        config: EnvironmentConfig,
        history: Mapping[str, Sequence[tuple[int, float]]] | None = None,
    ) -> None:
        """``history``: earlier underlying prices, ``(epoch ms, USD)`` oldest first, that warm up the features."""
        self.source = source
        self.config = config
        self.symbols = source.symbols
        limits = PositionLimits(config.risk.contracts_per_position, config.risk.max_open_positions)
        self._layouts = LayoutCache()
        self._observer = ObservationBuilder(
            self.symbols, TRADING_DAYS_PER_YEAR * config.steps_per_day, limits, self._layouts
        )
        self.portfolio = Portfolio(config.initial_capital, config.fees)
        self.risk = RiskManager(config.risk, config.initial_capital)
        self.last_sizing: tuple[str, Sizing] | None = None
        """(ticker, sizing) of the last buy executed: how many contracts it took and which limit bound it."""
        self.steps = 0
        self.suspended = False
        """While set, no new position is opened; open ones are still managed and can be closed."""
        self.books_blocked: str | None = None
        """Why the trade journal takes no writes now; while set nothing trades (a fill that cannot be
        booked must not happen) and expiring positions wait."""
        for symbol, bars in (history or {}).items():
            for timestamp_ms, price in bars:
                if symbol in self.symbols and math.isfinite(price) and price > 0:
                    self._observer.record(symbol, timestamp_ms, price)
        self._settlement = SettlementPrices()
        """Each underlying's last trustworthy price of each recent session (at or before its close)."""
        self._snapshot = source.current()
        self._views = self._observe_market(self._snapshot)
        self._observe_risk()

    @property
    def observation_size(self) -> int:
        """Length of each underlying's observation vector."""
        return OBSERVATION_SIZE

    @property
    def snapshot(self) -> MarketSnapshot:
        """The market snapshot the next actions will execute against."""
        return self._snapshot

    @property
    def risk_halted(self) -> bool:
        """Whether a risk protection (daily loss limit, drawdown protection) stops new entries now."""
        return self.risk.halt() is not None

    def entry_block(self) -> str | None:
        """Why no new position may be opened now, or ``None`` if entries are allowed (within the budget)."""
        return self.risk.entry_block(self.suspended)

    def exposure(self) -> Exposure:
        """The account's premium at risk now: each option's marked value, by underlying and in total (USD)."""
        by_position = {ticker: p.market_value for ticker, p in self.portfolio.positions.items()}
        by_underlying = dict.fromkeys(self.symbols, 0.0)
        for ticker, position in self.portfolio.positions.items():
            underlying = position.contract.underlying
            by_underlying[underlying] = by_underlying.get(underlying, 0.0) + by_position[ticker]
        total = sum(by_position.values())
        return Exposure(self.portfolio.cash + total, self.portfolio.cash, total, by_underlying, by_position)

    def reset(self) -> Observation:
        """Start a new account with the initial capital at the current market; returns the observation."""
        self.portfolio = Portfolio(self.config.initial_capital, self.config.fees)
        self.risk = RiskManager(self.config.risk, self.config.initial_capital)
        self._observe_risk()
        self.steps = 0
        return self._observation()

    def restore(self, portfolio: Portfolio) -> None:
        """Continue trading with a saved account (positions are re-marked at the current quotes)."""
        foreign = {p.contract.underlying for p in portfolio.positions.values()} - set(self.symbols)
        if foreign:
            raise ValueError(f"the saved account holds options on {', '.join(sorted(foreign))}, not traded here")
        self.portfolio = portfolio
        self._mark_positions()
        self.risk = RiskManager(self.config.risk, self.config.initial_capital)  # its references: this account
        self._observe_risk()

    def restore_risk(self, state: RiskState) -> None:
        """Continue with the risk protections' saved state (the journal's), then account for the current step."""
        self.risk = RiskManager(self.config.risk, self.config.initial_capital, state)
        self._observe_risk()

    def observation(self) -> Observation:
        """The current observation without stepping."""
        return self._observation()

    def action_mask(self) -> BoolArray:
        """Valid actions now, shape (n_symbols, 31); hold is always valid."""
        mask = np.zeros((len(self.symbols), NUM_ACTIONS), dtype=np.bool_)
        mask[:, HOLD] = True
        exposure = self.exposure()
        for i in range(len(self.symbols)):
            for action in range(1, NUM_ACTIONS):
                mask[i, action] = self._rejection(i, action, exposure) is None
        return mask

    def step(self, actions: Sequence[int] | npt.NDArray[np.integer]) -> StepResult:
        """Execute one action per underlying (in ``symbols`` order), advance the market one step."""
        chosen = self._check_actions(actions)
        before = self.portfolio.value
        held_before = self.held_value_by_symbol()
        fills: list[Fill] = []
        rejections: list[Rejection] = []
        untouched: Portfolio | None = None
        for i, action in enumerate(chosen):
            if action == HOLD:
                continue
            exposure = self.exposure()
            reason = self._rejection(i, action, exposure)
            if reason is not None:
                rejections.append(Rejection(self.symbols[i], action, reason))
                continue
            untouched = untouched or self.portfolio.copy()
            fills.extend(self._execute(i, action, exposure))

        try:
            self._snapshot = self.source.advance()
        except BaseException:
            if untouched is not None:  # a step that cannot complete trades nothing: its fills are undone
                self.portfolio = untouched
            raise
        self._views = self._observe_market(self._snapshot)
        self._mark_positions()
        if self.books_blocked is None:  # nothing trades or settles while the journal refuses writes
            chains = {symbol: view.chain for symbol, view in zip(self.symbols, self._views, strict=True)}
            fills.extend(
                expire_positions(
                    self.portfolio,
                    chains,
                    self._settlement,
                    self._snapshot.timestamp_ms,
                    self.config.expiry_cutoff_minutes,
                    self.config.data.option_spread,
                )
            )
        self.portfolio.update_peak()
        self._observe_risk()
        self.steps += 1

        portfolio = self.portfolio
        capital = self.config.initial_capital
        flows = dict.fromkeys(self.symbols, 0.0)
        for fill in fills:
            flows[fill.underlying] += fill.cash_delta
        held_after = self.held_value_by_symbol()
        symbol_rewards = tuple(step_reward(held_before[s], held_after[s] + flows[s], capital) for s in self.symbols)
        info = StepInfo(
            timestamp_ms=self._snapshot.timestamp_ms,
            fills=tuple(fills),
            rejections=tuple(rejections),
            stale_symbols=tuple(s for s, v in zip(self.symbols, self._views, strict=True) if not v.tradable),
            portfolio_value=portfolio.value,
            cash=portfolio.cash,
            realized_pnl=portfolio.realized_pnl,
            unrealized_pnl=portfolio.unrealized_pnl,
            trades=portfolio.trades,
            win_rate=portfolio.win_rate,
            symbol_rewards=symbol_rewards,
            suspended=self.suspended,
            risk_halted=self.risk_halted,
        )
        reward = step_reward(before, portfolio.value, capital)
        done = session_minute(self._snapshot.timestamp_ms) >= SESSION_MINUTES
        return StepResult(self._observation(), reward, done, info)

    def roll_back(self, portfolio: Portfolio, reason: str) -> None:
        """Steps could not be booked in the journal, so their fills did not happen: continue from
        ``portfolio`` (the last durable account, marked at the current quotes); nothing trades while
        ``books_blocked`` holds ``reason``."""
        self.portfolio = portfolio
        self._mark_positions()
        self.books_blocked = reason

    def held_value_by_symbol(self) -> dict[str, float]:
        """The marked value of the positions on each underlying, USD."""
        values = dict.fromkeys(self.symbols, 0.0)
        for position in self.portfolio.positions.values():
            values[position.contract.underlying] += position.market_value
        return values

    def _check_actions(self, actions: Sequence[int] | npt.NDArray[np.integer]) -> list[int]:
        array = np.asarray(actions)
        if array.shape != (len(self.symbols),) or not np.issubdtype(array.dtype, np.integer):
            raise ValueError(f"step() takes one integer action per symbol {list(self.symbols)}, got {actions!r}")
        return [check_action(int(a)).index for a in array]

    def data_problems(self) -> dict[str, str | None]:
        """Why each underlying cannot be bought on now (``None``: it can); for ``/ready`` and ``/status``."""
        return {symbol: view.problem for symbol, view in zip(self.symbols, self._views, strict=True)}

    def _observe_market(self, snapshot: MarketSnapshot) -> list[_SymbolView]:
        today = eastern(snapshot.timestamp_ms).date().toordinal()
        now, rules = snapshot.timestamp_ms, self.config.data
        views = []
        for symbol in self.symbols:
            data = snapshot.symbols.get(symbol)
            if data is None:
                views.append(_SymbolView(math.nan, None, False, [-1] * len(BUY_ACTIONS), "no market data"))
                continue
            quote = data.quote
            spot = math.nan
            problem = quote_problem(quote.bid, quote.ask, rules.stock_spread)
            if problem is None:
                spot = quote.mid
                self._observer.record(symbol, now, spot)
                self._settlement.remember(
                    symbol, Reference(spot, "mid", quote.timestamp_ms, (quote.ask - quote.bid) / 2)
                )
                problem = staleness(quote.timestamp_ms, data.quote_age_s, now, rules)
            elif data.trade is not None:
                self._settlement.remember(symbol, Reference(data.trade.price, "last trade", data.trade.timestamp_ms))
            chain: OptionChain | None = data.chain if len(data.chain) else None
            chain_problem = "no option chain" if chain is None else None
            if chain is not None:
                chain_problem = staleness(chain.timestamp_ms, data.chain_age_s, now, rules)
                if chain_problem is not None:
                    chain = None  # neither traded on nor marked at
                    chain_problem = f"option chain: {chain_problem}"
            reason = f"{symbol}: {problem}" if problem else (f"{symbol}: {chain_problem}" if chain_problem else None)
            targets = [-1] * len(BUY_ACTIONS)
            if reason is None and chain is not None:
                targets = _resolve_buys(chain, self._layouts.layout(chain), spot, today)
            views.append(_SymbolView(spot, chain, reason is None, targets, reason))
        return views

    def _rejection(self, i: int, action: int, exposure: Exposure) -> str | None:
        """Why ``action`` on underlying ``i`` cannot execute now, or ``None`` if it can."""
        if self.books_blocked is not None:
            return f"the trade journal takes no writes ({self.books_blocked}): nothing trades until it does"
        order = ACTIONS[action].order
        if isinstance(order, ClosePositions):  # an exit needs only a fresh chain and a valid quote of its own
            return None if self._sellable(i, order.selector) else f"nothing sellable for {ACTIONS[action].name}"
        return self._buy_size(i, action, exposure).reason

    def _buy_size(self, i: int, action: int, exposure: Exposure) -> Sizing:
        """How many contracts buy ``action`` on underlying ``i`` takes now (0, with the reason, if none)."""
        view = self._views[i]
        symbol = self.symbols[i]
        untrusted = None if view.tradable and view.chain is not None else view.problem or symbol
        gate = self.risk.underlying_gate(untrusted, self.suspended)
        if gate is not None:
            return Sizing(0, None, gate)
        assert view.chain is not None  # a tradable underlying has a chain
        open_positions = len(self.portfolio.positions)
        target = view.buy_targets[BUY_ACTIONS.index(action)]
        if target < 0:
            return self.risk.entry(exposure, EntryCandidate(symbol, ACTIONS[action].name, None), open_positions)
        chain = view.chain
        contract = chain.contracts[target]
        bid, ask = float(chain.bid[target]), float(chain.ask[target])
        held = self.portfolio.positions.get(contract.ticker)
        problem = quote_problem(bid, ask, self.config.data.option_spread)
        candidate = EntryCandidate(
            symbol,
            ACTIONS[action].name,
            contract.ticker,
            quote_problem=problem,
            held=held.quantity if held else 0,
            cost_per_contract=self.portfolio.buy_cost(contract, 1, ask) if problem is None else math.inf,
        )
        return self.risk.entry(exposure, candidate, open_positions)

    def _sellable(self, i: int, selector: CloseSelector) -> list[Position]:
        """Positions on underlying ``i`` that ``selector`` closes and that have a positive bid now."""
        chain = self._views[i].chain
        if chain is None:
            return []
        symbol = self.symbols[i]
        candidates = []
        for position in self.portfolio.positions.values():
            contract = position.contract
            limit = self.config.data.option_spread
            if contract.underlying != symbol or tradable_quote(chain, contract.ticker, limit) is None:
                continue
            if selector == "calls" and contract.contract_type != "call":
                continue
            if selector == "puts" and contract.contract_type != "put":
                continue
            candidates.append(position)
        if not candidates or selector in ("calls", "puts", "all"):
            return candidates
        if selector == "nearest_expiry":
            return [min(candidates, key=lambda p: p.contract.expiration)]
        per_contract = {p.contract.ticker: p.unrealized_pnl / p.quantity for p in candidates}
        pick = max if selector == "best" else min
        return [pick(candidates, key=lambda p: per_contract[p.contract.ticker])]

    def _execute(self, i: int, action: int, exposure: Exposure) -> list[Fill]:
        chain = self._views[i].chain
        assert chain is not None
        timestamp = self._snapshot.timestamp_ms
        order = ACTIONS[action].order
        if isinstance(order, ClosePositions):
            fills = []
            for position in self._sellable(i, order.selector):
                quote = tradable_quote(chain, position.contract.ticker, self.config.data.option_spread)
                assert quote is not None  # _sellable keeps only positions with a valid quote
                fills.append(self.portfolio.sell(position.contract.ticker, position.quantity, quote[0], timestamp))
            return fills
        target = self._views[i].buy_targets[BUY_ACTIONS.index(action)]
        contract = chain.contracts[target]
        sizing = self._buy_size(i, action, exposure)
        self.last_sizing = (contract.ticker, sizing)
        return [self.portfolio.buy(contract, sizing.quantity, float(chain.ask[target]), timestamp)]

    def _observe_risk(self) -> None:
        """Let the risk protections see the account at the current snapshot."""
        self.risk.observe(eastern(self._snapshot.timestamp_ms).date().toordinal(), self.portfolio.value)

    def _mark_positions(self) -> None:
        """Mark every position at its quote's mid when the quote is valid; otherwise it keeps its last valid
        mark (``marked_ms`` says when)."""
        views = dict(zip(self.symbols, self._views, strict=True))
        limit = self.config.data.option_spread
        for position in self.portfolio.positions.values():
            view = views.get(position.contract.underlying)
            quote = tradable_quote(view.chain if view is not None else None, position.contract.ticker, limit)
            if quote is not None:
                position.mark = (quote[0] + quote[1]) / 2
                position.marked_ms = self._snapshot.timestamp_ms

    def _observation(self) -> Observation:
        timestamp = self._snapshot.timestamp_ms
        rows = [
            self._observer.build(symbol, timestamp, view.chain, self.portfolio, view.tradable)
            for symbol, view in zip(self.symbols, self._views, strict=True)
        ]
        return np.stack(rows)
