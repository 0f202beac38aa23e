"""What the bot reports about itself: liveness, readiness and the ``/status`` document.

The trading loop publishes a :class:`BotStatus` after every step; the HTTP handlers only read the
latest one, so they never touch the trader while it steps in its worker thread. No secret is ever
part of it: the settings are copied without the credential fields, whose presence alone is shown.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from tradingbot import __version__
from tradingbot.books.urls import redact_url
from tradingbot.config import Settings
from tradingbot.env.actions import ACTION_NAMES
from tradingbot.env.paper import PaperTradingEnvironment
from tradingbot.market.source import FeedStatus
from tradingbot.trader import BaselineTrader, LearningTrader
from tradingbot_contract.status import SCHEMA_KEY, SCHEMA_VERSION

SECRET_SETTINGS = frozenset({"s3_access_key", "s3_secret_key", "massive_api_key"})


@dataclass(frozen=True)
class BotStatus:
    """A published view of the bot. Times are Unix seconds; ``None`` before the first step."""

    started: float
    heartbeat: float | None
    last_market_data: float | None
    feed_connected: bool
    model_loaded: bool
    document: dict[str, Any] = field(default_factory=dict)
    trading_blocked: str | None = None
    """Why nothing can trade now although data flows (the trade journal refuses writes)."""
    data_problems: Mapping[str, str | None] = field(default_factory=dict)
    """Each underlying's reason not to trust its data now (``None``: tradable)."""


def public_settings(settings: Settings) -> dict[str, Any]:
    """The settings as JSON-ready data, credentials replaced by whether they are set."""
    data = settings.model_dump(mode="json", exclude=set(SECRET_SETTINGS))
    if settings.journal is not None:
        data["journal"] = redact_url(settings.journal)
    data["s3_credentials"] = "set" if settings.s3_access_key or settings.s3_secret_key else "unset"
    data["massive_api_key"] = "set" if settings.massive_api_key else "unset"
    return data


def status_document(
    settings: Settings,
    trader: BaselineTrader | LearningTrader,
    last_actions: list[int],
    last_checkpoint_unix: float | None,
    feed: FeedStatus | None = None,
) -> dict[str, Any]:
    """The ``/status`` body, without the ages (added at request time)."""
    portfolio = trader.env.portfolio
    document: dict[str, Any] = {
        SCHEMA_KEY: SCHEMA_VERSION,
        "bot": {"name": settings.bot_name, "version": __version__, "policy": trader.name, "kind": trader.kind},
        "config": public_settings(settings),
        "portfolio": {
            "cash": portfolio.cash,
            "value": portfolio.value,
            "realized_pnl": portfolio.realized_pnl,
            "unrealized_pnl": portfolio.unrealized_pnl,
            "win_rate": portfolio.win_rate,
            "trades": portfolio.trades,
            "drawdown": portfolio.drawdown,
            "positions": [
                {
                    "ticker": t,
                    "quantity": p.quantity,
                    "mark": p.mark,
                    "marked_ms": p.marked_ms,
                    "cost": p.cost,
                    "unrealized_pnl": p.unrealized_pnl,
                    "expiration": p.contract.expiration.isoformat(),
                }
                for t, p in portfolio.positions.items()
            ],
        },
        "trading": {
            "suspended": trader.env.suspended,
            "risk_halted": trader.env.risk_halted,
            "halt_limit": halt[0] if (halt := trader.env.risk.halt()) is not None else None,
            "entry_block": trader.env.entry_block(),
        },
        "risk": risk_status(trader.env),
        "last_actions": {s: ACTION_NAMES[a] for s, a in zip(settings.symbols, last_actions, strict=True)},
        "steps": trader.step,
        "data": {symbol: problem or "tradable" for symbol, problem in trader.env.data_problems().items()},
        "journal": journal_status(trader),
        "feed": {"source": settings.source, "connected": True, "reconnects": 0}
        if feed is None
        else {
            "source": settings.source,
            "connected": feed.connected,
            "reconnects": feed.reconnects,
            "last_event_unix": feed.last_event_unix,
            **feed.detail,
        },
    }
    if isinstance(trader, LearningTrader):
        store = trader.store
        mirror = store.mirror if store is not None else None
        document["device"] = trader.device.as_status()
        document["training"] = {
            "updates": trader.agent.updates,
            "steps_since_update": trader.buffer.fresh_steps,
            "last": asdict(trader.last_metrics) if trader.last_metrics is not None else None,
        }
        document["checkpoints"] = {
            "last_path": str(store.last_path) if store is not None and store.last_path is not None else None,
            "last_saved_unix": last_checkpoint_unix,
            "saves": store.saves if store is not None else 0,
            "failures": trader.save_failures,
            "last_error": trader.last_save_error,
            "corrupt_at_start": list(store.corrupt_at_start) if store is not None else [],
            "s3": asdict(mirror.status) if mirror is not None else None,
        }
    return document


def risk_status(env: PaperTradingEnvironment) -> dict[str, Any]:
    """The risk budget, how much of it is used, the protections' state and the limit that binds (USD,
    fractions of equity)."""
    risk, exposure = env.risk, env.exposure()
    limits = risk.limits
    equity = exposure.equity
    halt = risk.halt()
    sizing = env.last_sizing
    return {
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
        "binding_limit": halt[0] if halt is not None else (sizing[1].binding if sizing is not None else None),
        "last_buy": None
        if sizing is None
        else {"ticker": sizing[0], "contracts": sizing[1].quantity, "bound_by": sizing[1].binding},
    }


def journal_status(trader: BaselineTrader | LearningTrader) -> dict[str, Any] | None:
    """The ``/status`` ``journal`` section (``None`` without one); its location without a password."""
    books = trader.books
    if books is None:
        return None
    return {
        "location": redact_url(books.journal.description),
        "last_seq": books.journal.last_seq,
        "commits": books.journal.commits,
        "failures": books.failures,
        "blocked": trader.env.books_blocked,
        "last_error": books.last_error,
    }


def health(status: BotStatus, now: float, stall_s: float) -> tuple[bool, dict[str, Any]]:
    """Liveness: the loop completed a step within ``stall_s`` (or is still starting)."""
    reference = status.heartbeat if status.heartbeat is not None else status.started
    age = now - reference
    ok = age <= stall_s
    return ok, {"status": "ok" if ok else "stuck", "heartbeat_age_s": round(age, 3), "stall_after_s": stall_s}


def readiness(status: BotStatus, now: float, max_data_age_s: float) -> tuple[bool, dict[str, Any]]:
    """Readiness: a model is loaded, the feed is connected and its newest data is fresh."""
    reasons = []
    if not status.model_loaded:
        reasons.append("no model loaded")
    if status.trading_blocked is not None:
        reasons.append(status.trading_blocked)
    problems = status.data_problems
    if problems and all(problem is not None for problem in problems.values()):
        reasons.append("nothing is tradable: " + "; ".join(str(p) for p in problems.values()))

    if not status.feed_connected:
        reasons.append("market feed not connected")
    age = None if status.last_market_data is None else now - status.last_market_data
    if age is None:
        reasons.append("no market data yet")
    elif age > max_data_age_s:
        reasons.append(f"market data is {age:.0f} s old (limit {max_data_age_s:.0f} s)")
    body: dict[str, Any] = {"status": "ready" if not reasons else "not ready", "reasons": reasons}
    body["market_data_age_s"] = None if age is None else round(age, 3)
    return not reasons, body
