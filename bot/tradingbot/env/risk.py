"""Risk rules: the one place that decides whether a new position may be opened, and how many contracts.

The action mask consults this module, so no action these rules forbid can be sampled. Every gate of an
entry is here: per underlying (:meth:`RiskManager.underlying_gate`) trustworthy data, no suspension, no
tripped protection; per contract (:meth:`RiskManager.entry`) a listed contract with a valid quote, the
open-positions limit, then the budgets. Exits are never blocked by
these rules (only a journal that refuses writes stops every trade, exits too: the environment's rule).
Money is in USD; fractions are of **equity**, the account's marked value now (cash plus its options at
their mids), unless a rule says otherwise.

- **Premium at risk** of a long option is what it can still lose: its marked value. A buy adds its cost
  at the ask plus fees. Budgets cap the premium at risk of one trade, of one position, of one underlying
  and of the whole account.
- **Size:** a buy takes as many contracts as every budget, the cash above the capital floor, the per-trade
  cap and the per-position cap allow; when not even one fits, the action is masked and the binding
  limit is named.
- **Capital floor:** no buy takes cash below this fraction of the initial capital. A long option is never
  worth less than zero, so equity never falls below cash, and the floor bounds what the account can lose.
- **Daily loss limit:** once equity is this fraction below its value at the previous session's last step,
  entries stop until the next session.
- **Drawdown protection:** once equity is this fraction below its highest value over the last
  ``lookback`` sessions, entries stop for ``cooldown`` sessions; then the high-water mark restarts from
  the equity at that point, so the protection lifts and can trip again.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple

TRADE = "trade budget"
POSITION = "position budget"
UNDERLYING = "underlying budget"
TOTAL = "total budget"
FLOOR = "capital floor"
TRADE_CAP = "contracts per trade"
POSITION_CAP = "contracts per position"
DAILY_LOSS = "daily loss limit"
DRAWDOWN = "drawdown protection"
LIMITS = (TRADE, POSITION, UNDERLYING, TOTAL, FLOOR, TRADE_CAP, POSITION_CAP, DAILY_LOSS, DRAWDOWN)
"""Every limit's name, as ``/status`` and the metrics' ``limit`` label give it."""


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """The account's risk budget. Fractions of equity unless said; 1.0 (or 0 for the floor) turns a rule off."""

    trade: float = 0.02
    """Premium one buy may commit."""
    position: float = 0.02
    """Premium at risk in one option."""
    underlying: float = 0.04
    """Premium at risk in the options of one underlying."""
    total: float = 0.06
    """Premium at risk in the whole account."""
    capital_floor: float = 0.80
    """Fraction of the initial capital that buys never take cash below."""
    daily_loss: float = 0.02
    """Loss since the previous session's last step that stops entries for the rest of the session."""
    max_drawdown: float = 0.10
    """Fall from the lookback's high-water mark that trips the drawdown protection."""
    lookback_sessions: int = 5
    """Sessions (trading days, today included) whose highest equity is the drawdown's reference."""
    cooldown_sessions: int = 2
    """Sessions without entries after the drawdown protection trips (it lifts at the next open after them)."""
    contracts_per_trade: int = 10
    """Contracts one buy takes at most."""
    contracts_per_position: int = 10
    """Contracts held in one option at most."""
    max_open_positions: int = 20
    """Options held at once at most (a buy of an option already held adds to its position)."""

    def __post_init__(self) -> None:
        for name in ("trade", "position", "underlying", "total", "daily_loss", "max_drawdown"):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0 < value <= 1):
                raise ValueError(f"risk limit {name} must be a fraction in (0, 1], got {value!r}")
        if not (math.isfinite(self.capital_floor) and 0 <= self.capital_floor < 1):
            raise ValueError(f"the capital floor must be a fraction in [0, 1), got {self.capital_floor!r}")
        if self.lookback_sessions < 1 or self.cooldown_sessions < 1:
            raise ValueError("the drawdown lookback and cooldown must be at least one session")
        if min(self.contracts_per_trade, self.contracts_per_position) < 1:
            raise ValueError("contracts per trade and per position must be at least 1")
        if self.max_open_positions < 1:
            raise ValueError("the open positions limit must be at least 1")


@dataclass(slots=True)
class RiskState:
    """What the protections remember between steps; booked with each step in the trade journal."""

    day: int = 0
    """Ordinal of the US/Eastern date of the current session (0 before the first observation)."""
    session: int = 0
    """Sessions seen so far (the first is 1)."""
    last_equity: float = 0.0
    """Equity at the last observed step, USD."""
    reference_equity: float = 0.0
    """Equity at the previous session's last step (the daily loss's reference), USD."""
    daily_stopped: bool = False
    """The daily loss limit tripped this session."""
    peaks: list[tuple[int, float]] = field(default_factory=list)
    """(session, highest equity) of each session in the drawdown's lookback, oldest first."""
    halted_until: int = 0
    """First session in which entries resume after the drawdown protection tripped (0: not halted)."""

    def as_dict(self) -> dict[str, Any]:
        """Plain data for the journal."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RiskState:
        """Inverse of :meth:`as_dict`."""
        state = cls(**{k: v for k, v in data.items() if k != "peaks"})
        state.peaks = [(int(s), float(p)) for s, p in data.get("peaks", [])]
        return state


@dataclass(frozen=True, slots=True)
class Exposure:
    """The account's premium at risk now, USD."""

    equity: float
    cash: float
    total: float
    by_underlying: dict[str, float]
    by_position: dict[str, float]


@dataclass(frozen=True, slots=True)
class Sizing:
    """How many contracts a buy may take, and which limit set that number (``None``: nothing bound it)."""

    quantity: int
    binding: str | None
    reason: str | None = None
    """Why the buy is refused (``quantity == 0``)."""


class EntryCandidate(NamedTuple):
    """A buy the action mask asks about: the underlying, the contract it resolves to and what is known of
    its data and quote (a tuple: the mask builds one per buy action and underlying every step)."""

    underlying: str
    action: str
    """The action's name, for a refusal's reason."""
    ticker: str | None
    """The contract it resolves to (``None``: none is listed near its target)."""
    quote_problem: str | None = None
    """Why the contract's quote is not valid (``None``: it is)."""
    held: int = 0
    """Contracts of it the account holds."""
    cost_per_contract: float = math.inf
    """What one contract costs at the ask with fees, USD."""


class RiskManager:
    """The rules of :class:`RiskLimits` applied to an account over time."""

    def __init__(self, limits: RiskLimits, initial_capital: float, state: RiskState | None = None) -> None:
        self.limits = limits
        self.initial_capital = initial_capital
        self.state = state or RiskState()

    @property
    def floor(self) -> float:
        """Cash no buy takes the account below, USD."""
        return self.limits.capital_floor * self.initial_capital

    def observe(self, day: int, equity: float) -> None:
        """Account for a step that ended on ``day`` (a date ordinal) with ``equity`` (USD)."""
        state, limits = self.state, self.limits
        if day != state.day:
            state.reference_equity = state.last_equity if state.day else equity
            state.day = day
            state.session += 1
            state.daily_stopped = False
            if state.halted_until and state.session >= state.halted_until:
                state.halted_until = 0
                state.peaks = []  # the high-water mark restarts from here
            state.peaks.append((state.session, equity))
            state.peaks = state.peaks[-limits.lookback_sessions :]
        elif not state.peaks or equity > state.peaks[-1][1]:
            state.peaks[-1:] = [(state.session, equity)]
        state.last_equity = equity
        if limits.daily_loss < 1 and equity <= state.reference_equity * (1 - limits.daily_loss):
            state.daily_stopped = True
        if not state.halted_until and limits.max_drawdown < 1 and self.drawdown >= limits.max_drawdown:
            state.halted_until = state.session + limits.cooldown_sessions + 1

    @property
    def peak(self) -> float:
        """The highest equity over the drawdown's lookback, USD (0 before the first observation)."""
        return max((p for _, p in self.state.peaks), default=0.0)

    @property
    def drawdown(self) -> float:
        """Fall of equity from the lookback's high-water mark, as a fraction of it."""
        peak = self.peak
        return max(0.0, 1.0 - self.state.last_equity / peak) if peak > 0 else 0.0

    @property
    def daily_loss(self) -> float:
        """Loss since the previous session's last step, as a fraction of the equity then."""
        reference = self.state.reference_equity
        return max(0.0, 1.0 - self.state.last_equity / reference) if reference > 0 else 0.0

    def halt(self) -> tuple[str, str] | None:
        """(limit, reason) of the protection that stops every entry now, or ``None``."""
        state, limits = self.state, self.limits
        if state.halted_until:
            return DRAWDOWN, (
                f"drawdown protection: equity fell {limits.max_drawdown:.0%} below its {limits.lookback_sessions}-"
                f"session high; no new entries until session {state.halted_until} "
                f"({state.halted_until - state.session} sessions from now)"
            )
        if state.daily_stopped:
            return DAILY_LOSS, (
                f"daily loss limit: equity fell {self.daily_loss:.2%} since the last close "
                f"(limit {limits.daily_loss:.0%}); no new entries until the next session"
            )
        return None

    def entry_block(self, suspended: bool) -> str | None:
        """Why no entry at all may open now (a suspension, a tripped protection), or ``None``."""
        if suspended:
            return "suspended: no new entries"
        halt = self.halt()
        return halt[1] if halt is not None else None

    def underlying_gate(self, data_problem: str | None, suspended: bool) -> str | None:
        """Why no entry on an underlying may open now: its data cannot be trusted (``data_problem``), entries
        are suspended or a protection tripped; ``None`` when its contracts may be weighed one by one
        (:meth:`entry`)."""
        if data_problem is not None:
            return f"no trustworthy market data for {data_problem}"
        return self.entry_block(suspended)

    def entry(self, exposure: Exposure, candidate: EntryCandidate, open_positions: int) -> Sizing:
        """How many contracts the buy ``candidate`` may take now (0, with the reason, when a gate refuses
        it), ``open_positions`` being the options the account holds; ask :meth:`underlying_gate` first."""
        if candidate.ticker is None:
            return Sizing(0, None, f"no listed contract for {candidate.action} on {candidate.underlying}")
        if candidate.quote_problem is not None:
            return Sizing(0, None, f"no valid quote for {candidate.ticker}: {candidate.quote_problem}")
        if candidate.held == 0 and open_positions >= self.limits.max_open_positions:
            return Sizing(0, None, f"at the limit of {self.limits.max_open_positions} open positions")
        return self.size(exposure, candidate.underlying, candidate.ticker, candidate.held, candidate.cost_per_contract)

    def size(self, exposure: Exposure, underlying: str, ticker: str, held: int, cost_per_contract: float) -> Sizing:
        """Contracts a buy of ``ticker`` (``held`` already held) may take at ``cost_per_contract`` USD (the ask
        times the multiplier, plus fees), and the limit that bound it."""
        limits, equity = self.limits, exposure.equity
        rooms = (  # USD each budget and the floor leave
            (TRADE, limits.trade * equity),
            (POSITION, limits.position * equity - exposure.by_position.get(ticker, 0.0)),
            (UNDERLYING, limits.underlying * equity - exposure.by_underlying.get(underlying, 0.0)),
            (TOTAL, limits.total * equity - exposure.total),
            (FLOOR, exposure.cash - self.floor),
        )
        caps = ((TRADE_CAP, limits.contracts_per_trade), (POSITION_CAP, limits.contracts_per_position - held))
        # the fewest contracts any limit allows; on a tie the first limit in this order binds
        binding, fewest, left = TRADE, math.inf, 0.0
        for name, room in rooms:
            count = math.floor(max(room, 0.0) / cost_per_contract)
            if count < fewest:
                binding, fewest, left = name, count, room
        for name, cap in caps:
            if cap < fewest:
                binding, fewest = name, cap
        quantity = max(int(fewest), 0)
        if quantity >= limits.contracts_per_trade:
            return Sizing(limits.contracts_per_trade, None)
        if quantity > 0:
            return Sizing(quantity, binding)
        if binding in (TRADE_CAP, POSITION_CAP):
            return Sizing(0, binding, f"at the limit of {limits.contracts_per_position} contracts in {ticker}")
        if binding == FLOOR:
            return Sizing(
                0,
                binding,
                f"insufficient cash above the capital floor (${self.floor:,.2f}): one contract of {ticker} costs "
                f"${cost_per_contract:,.2f}, cash ${exposure.cash:,.2f}",
            )
        return Sizing(
            0,
            binding,
            f"{binding}: one contract of {ticker} costs ${cost_per_contract:,.2f}, ${max(left, 0.0):,.2f} left",
        )
