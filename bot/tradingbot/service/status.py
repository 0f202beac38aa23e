"""What the bot reports about itself: liveness, readiness and the ``/status`` document.

The trading loop publishes a :class:`BotStatus` each time it reports (after the first step at least
0.25 s after its last report, at each checkpoint and at the end), built from the trader's
:class:`~tradingbot.snapshot.Snapshot`; the HTTP handlers only read the latest one, so they never touch
the trader while it steps in its worker thread. A model is always loaded by then: the bot builds it
before it serves. No secret is ever part of it: a secret setting shows only whether it is set (a URL,
without its password).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from tradingbot import __version__
from tradingbot.config import Settings, secret_settings
from tradingbot.env.actions import ACTION_NAMES
from tradingbot.redaction import redact_url
from tradingbot.snapshot import Snapshot
from tradingbot_contract.status import SCHEMA_KEY, SCHEMA_VERSION


@dataclass(frozen=True)
class BotStatus:
    """A published view of the bot. Times are Unix seconds; ``None`` before the first step."""

    started: float
    heartbeat: float | None
    last_market_data: float | None
    feed_connected: bool
    document: dict[str, Any] = field(default_factory=dict)
    trading_blocked: str | None = None
    """Why nothing can trade now although data flows (the trade journal refuses writes)."""
    data_problems: Mapping[str, str | None] = field(default_factory=dict)
    """Each underlying's reason not to trust its data now (``None``: tradable)."""


def public_settings(settings: Settings) -> dict[str, Any]:
    """The settings as JSON-ready data; a secret setting shows only whether it is set, or, when it is a URL
    (the journal), the URL without its password."""
    data = settings.model_dump(mode="json", exclude=set(secret_settings()))
    for name in secret_settings():
        value = getattr(settings, name)
        data[name] = redact_url(value) if isinstance(value, str) else "unset" if value is None else "set"
    return data


def status_document(
    settings: Settings, snapshot: Snapshot, last_actions: list[int], last_checkpoint_unix: float | None
) -> dict[str, Any]:
    """The ``/status`` body of ``snapshot``, without the ages (added at request time)."""
    portfolio = snapshot.portfolio
    feed = snapshot.feed
    document: dict[str, Any] = {
        SCHEMA_KEY: SCHEMA_VERSION,
        "bot": {"name": settings.bot_name, "version": __version__, "policy": snapshot.name, "kind": snapshot.kind},
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
                    "ticker": p.ticker,
                    "quantity": p.quantity,
                    "mark": p.mark,
                    "marked_ms": p.marked_ms,
                    "cost": p.cost,
                    "unrealized_pnl": p.unrealized_pnl,
                    "expiration": p.expiration,
                }
                for p in portfolio.positions
            ],
        },
        "trading": {
            "suspended": snapshot.suspended,
            "risk_halted": snapshot.risk_halted,
            "halt_limit": snapshot.halt_limit,
            "entry_block": snapshot.entry_block,
        },
        "risk": snapshot.risk.status,
        "last_actions": {s: ACTION_NAMES[a] for s, a in zip(settings.symbols, last_actions, strict=True)},
        "steps": snapshot.step,
        "data": {symbol: problem or "tradable" for symbol, problem in snapshot.data_problems.items()},
        "journal": None
        if snapshot.journal is None
        else {**asdict(snapshot.journal), "blocked": snapshot.books_blocked},
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
    learning = snapshot.learning
    if learning is not None:
        document["device"] = learning.device
        document["training"] = {
            "updates": learning.updates,
            "steps_since_update": learning.steps_since_update,
            "last": asdict(learning.last_metrics) if learning.last_metrics is not None else None,
        }
        document["checkpoints"] = {
            "last_path": learning.checkpoint_path,
            "last_saved_unix": last_checkpoint_unix,
            "saves": learning.saves,
            "failures": learning.save_failures,
            "last_error": learning.last_save_error,
            "corrupt_at_start": list(learning.corrupt_at_start),
            "s3": asdict(learning.s3) if learning.s3 is not None else None,
        }
    return document


def health(status: BotStatus, now: float, stall_s: float) -> tuple[bool, dict[str, Any]]:
    """Liveness: the loop completed a step within ``stall_s`` (or is still starting)."""
    reference = status.heartbeat if status.heartbeat is not None else status.started
    age = now - reference
    ok = age <= stall_s
    return ok, {"status": "ok" if ok else "stuck", "heartbeat_age_s": round(age, 3), "stall_after_s": stall_s}


def readiness(status: BotStatus, now: float, max_data_age_s: float) -> tuple[bool, dict[str, Any]]:
    """Readiness: the journal takes writes, something is tradable, the feed is connected and its newest
    data is fresh."""
    reasons = []
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
