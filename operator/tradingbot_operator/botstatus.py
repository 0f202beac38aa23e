"""The bot's live figures for ``kubectl get``: read from its ``/status`` through its Service.

Parsing is pure and tolerant: a field the bot does not report stays unknown; nothing from the bot's
settings (let alone a credential) is copied. The document's ``schemaVersion`` must be the one this
operator knows (:mod:`tradingbot_contract.status`), and only the fields the contract lists are read.
Values are rounded so that status changes, and is written, only when a figure a user reads really
changed.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp

from tradingbot_contract import status as contract

STATUS_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class LiveFigures:
    """What the printer columns show. Money as a dollar string, win rate in percent."""

    portfolio_value: str | None
    win_rate: str | None
    trades: int | None
    last_checkpoint_time: str | None
    risk_halted: bool | None
    entry_block: str | None
    halt_limit: str | None
    """The risk protection that stops entries (``daily loss limit``, ``drawdown protection``), if any."""
    device: str | None = None
    """What the agent runs on (``cpu``, ``cuda``); ``None`` for a baseline or an older bot."""
    device_problem: str | None = None
    """Set when GPUs were reserved but the bot runs on the CPU."""

    def status_fields(self) -> dict[str, Any]:
        """The TradingBot ``status`` fields these figures set (unknown ones are left out)."""
        fields = {
            "portfolioValue": self.portfolio_value,
            "winRate": self.win_rate,
            "trades": self.trades,
            "lastCheckpointTime": self.last_checkpoint_time,
        }
        return {k: v for k, v in fields.items() if v is not None}


def _number(value: Any) -> float | None:  # noqa: ANN401 - JSON values
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _section(value: Any) -> dict[str, Any]:  # noqa: ANN401 - untrusted JSON
    return value if isinstance(value, dict) else {}


class UnknownSchemaError(ValueError):
    """The bot's ``/status`` is of a version this operator does not read."""


def parse_status(document: Any) -> LiveFigures:  # noqa: ANN401 - untrusted JSON
    """The live figures in a bot's ``/status`` document; :class:`UnknownSchemaError` for another version."""
    doc = _section(document)
    version = doc.get(contract.SCHEMA_KEY)
    if version != contract.SCHEMA_VERSION:
        raise UnknownSchemaError(
            f"the bot's /status has {contract.SCHEMA_KEY} {version!r}; this operator reads "
            f"{contract.SCHEMA_VERSION} (run matching operator and bot versions)"
        )
    portfolio, trading, checkpoints, device = (
        _section(doc.get(k)) for k in ("portfolio", "trading", "checkpoints", "device")
    )
    value = _number(portfolio.get("value"))
    win_rate = _number(portfolio.get("win_rate"))
    trades = portfolio.get("trades")
    saved = _number(checkpoints.get("last_saved_unix"))
    halted = trading.get("risk_halted")
    block = trading.get("entry_block")
    return LiveFigures(
        portfolio_value=None if value is None else f"{value:.2f}",
        win_rate=None if win_rate is None else f"{100 * win_rate:.1f}%",
        trades=trades if isinstance(trades, int) and not isinstance(trades, bool) and trades >= 0 else None,
        last_checkpoint_time=None
        if saved is None
        else datetime.fromtimestamp(saved, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        risk_halted=halted if isinstance(halted, bool) else None,
        entry_block=block[:300] if isinstance(block, str) else None,
        halt_limit=_text(trading.get("halt_limit")),
        device=_text(device.get("using")),
        device_problem=_text(device.get("problem")),
    )


def _text(value: Any) -> str | None:  # noqa: ANN401 - untrusted JSON
    return value[:300] if isinstance(value, str) else None


async def fetch_status(session: aiohttp.ClientSession, url: str) -> LiveFigures:
    """GET the bot's ``/status``; raises :class:`BotUnreachableError` with a readable reason."""
    try:
        async with session.get(url, timeout=aiohttp.ClientTimeout(total=STATUS_TIMEOUT_S)) as response:
            if response.status != 200:
                raise BotUnreachableError(f"{url} answered HTTP {response.status}")
            return parse_status(json.loads(await response.text()))
    except (aiohttp.ClientError, TimeoutError, ValueError) as error:
        raise BotUnreachableError(f"{url}: {type(error).__name__}: {error}") from error


class BotUnreachableError(Exception):
    """The bot's ``/status`` could not be read."""
