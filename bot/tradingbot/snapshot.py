"""What the trading loop publishes about its trader: an immutable picture taken on the trader's own thread
after the journal made the steps durable. ``/status``, the metrics and the progress lines are functions
of it; none of them reaches into the trader, its account, its books or its learner.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from tradingbot.agent.s3_mirror import MirrorStatus
from tradingbot.agent.update_metrics import TrainMetrics
from tradingbot.env.paper import PaperTradingEnvironment
from tradingbot.market.source import FeedStatus
from tradingbot.redaction import redact_url
from tradingbot.trader import Learner, Trader


@dataclass(frozen=True, slots=True)
class PositionView:
    """One open option position: contracts held, the last valid mark and what they cost (USD)."""

    ticker: str
    underlying: str
    quantity: int
    mark: float
    marked_ms: int
    """When the mark was taken, epoch ms."""
    cost: float
    unrealized_pnl: float
    expiration: str
    """The contract's expiry, ISO date."""


@dataclass(frozen=True, slots=True)
class PortfolioView:
    """The paper account (USD; ``win_rate`` and ``drawdown`` are fractions)."""

    cash: float
    value: float
    realized_pnl: float
    unrealized_pnl: float
    win_rate: float
    trades: int
    drawdown: float
    initial_cash: float
    """The account's opening cash (the journal's, which a changed INITIAL_CAPITAL does not move)."""
    positions: tuple[PositionView, ...]


@dataclass(frozen=True, slots=True)
class RiskView:
    """The risk budget's use: the ``/status`` ``risk`` section, and the figures the metrics show."""

    status: dict[str, Any]
    premium_at_risk: float
    """Premium at risk in total, USD."""
    premium_by_underlying: dict[str, float]
    budget: float
    """The total budget now (its fraction of equity), USD."""
    binding_limit: str | None
    """The limit that stops or sized the last entry (``None``: none binds)."""


@dataclass(frozen=True, slots=True)
class JournalView:
    """The trade journal: where it is (no password), how far it is written, and its failures."""

    location: str
    last_seq: int
    commits: int
    failures: int
    last_error: str | None


@dataclass(frozen=True, slots=True)
class LearningView:
    """A learner's training, device and checkpoints."""

    updates: int
    steps_since_update: int
    update_frequency: int
    last_metrics: TrainMetrics | None
    device: dict[str, Any]
    device_problem: bool
    checkpoint_path: str | None
    saves: int
    save_failures: int
    last_save_error: str | None
    corrupt_at_start: tuple[str, ...]
    s3: MirrorStatus | None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The trader after its latest reported step."""

    name: str
    kind: str
    """``agent`` (a learner) or ``baseline``."""
    step: int
    symbols: tuple[str, ...]
    portfolio: PortfolioView
    suspended: bool
    risk_halted: bool
    halt_limit: str | None
    entry_block: str | None
    """Why no entry may open now (``None``: entries may open)."""
    risk: RiskView
    data_problems: dict[str, str | None]
    """Each underlying's reason not to trust its data now (``None``: tradable)."""
    books_blocked: str | None
    """Why the journal refuses writes now (``None``: it takes them)."""
    journal: JournalView | None
    feed: FeedStatus | None
    """The live or replayed feed's status (``None`` for the simulator, whose data is always there)."""
    learning: LearningView | None


def snapshot(trader: Trader) -> Snapshot:
    """The picture of ``trader`` now; call it where the trader steps (its worker thread), between steps."""
    env = trader.env
    halt = env.risk.halt()
    return Snapshot(
        name=trader.name,
        kind=trader.kind,
        step=trader.step,
        symbols=env.symbols,
        portfolio=_portfolio(env),
        suspended=env.suspended,
        risk_halted=halt is not None,
        halt_limit=halt[0] if halt is not None else None,
        entry_block=env.entry_block(),
        risk=_risk(env, halt),
        data_problems=env.data_problems(),
        books_blocked=env.books_blocked,
        journal=None
        if trader.books is None
        else JournalView(
            redact_url(trader.books.journal.description),
            trader.books.journal.last_seq,
            trader.books.journal.commits,
            trader.books.failures,
            trader.books.last_error,
        ),
        feed=env.source.status(),
        learning=None if trader.learner is None else _learning(trader.learner),
    )


def _portfolio(env: PaperTradingEnvironment) -> PortfolioView:
    portfolio = env.portfolio
    positions = tuple(
        PositionView(
            ticker,
            position.contract.underlying,
            position.quantity,
            position.mark,
            position.marked_ms,
            position.cost,
            position.unrealized_pnl,
            position.contract.expiration.isoformat(),
        )
        for ticker, position in portfolio.positions.items()
    )
    return PortfolioView(
        portfolio.cash,
        portfolio.value,
        portfolio.realized_pnl,
        portfolio.unrealized_pnl,
        portfolio.win_rate,
        portfolio.trades,
        portfolio.drawdown,
        portfolio.initial_cash,
        positions,
    )


def _risk(env: PaperTradingEnvironment, halt: tuple[str, str] | None) -> RiskView:
    """The risk budget, how much of it is used, the protections' state and the limit that binds (USD,
    fractions of equity); ``halt``: the protection that stops entries now, if any."""
    risk, exposure = env.risk, env.exposure()
    limits = risk.limits
    equity = exposure.equity
    sizing = env.last_sizing
    binding = halt[0] if halt is not None else (sizing[1].binding if sizing is not None else None)
    status = {
        "limits": asdict(limits),
        "equity": equity,
        "premium_at_risk": exposure.total,
        "premium_at_risk_by_underlying": exposure.by_underlying,
        "total_budget_used": exposure.total / (limits.total * equity) if equity > 0 else None,
        "capital_floor": risk.floor,
        "daily_loss": risk.daily_loss,
        "drawdown": risk.drawdown,
        "drawdown_peak": risk.peak,
        "session": risk.state.session,
        "halted_until_session": risk.state.halted_until or None,
        "binding_limit": binding,
        "last_buy": None
        if sizing is None
        else {"ticker": sizing[0], "contracts": sizing[1].quantity, "bound_by": sizing[1].binding},
    }
    return RiskView(status, exposure.total, dict(exposure.by_underlying), limits.total * equity, binding)


def _learning(learner: Learner) -> LearningView:
    store = learner.store
    mirror = store.mirror if store is not None else None
    return LearningView(
        updates=learner.agent.updates,
        steps_since_update=learner.buffer.fresh_steps,
        update_frequency=learner.update_frequency,
        last_metrics=learner.last_metrics,
        device=learner.device.as_status(),
        device_problem=learner.device.problem is not None,
        checkpoint_path=str(store.last_path) if store is not None and store.last_path is not None else None,
        saves=store.saves if store is not None else 0,
        save_failures=learner.save_failures,
        last_save_error=learner.last_save_error,
        corrupt_at_start=tuple(store.corrupt_at_start) if store is not None else (),
        s3=mirror.status if mirror is not None else None,
    )
