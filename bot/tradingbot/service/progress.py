"""What the bot tells a person: progress lines, each fill at DEBUG, the start and the summary (USD)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from tradingbot.config import Settings
from tradingbot.env.actions import ACTION_NAMES
from tradingbot.market.clock import eastern
from tradingbot.snapshot import Snapshot
from tradingbot.trader import TickReport

log = logging.getLogger("tradingbot")


@dataclass(frozen=True, slots=True)
class RunSummary:
    """How a run ended (money in USD)."""

    steps: int
    portfolio_value: float
    realized_pnl: float
    unrealized_pnl: float
    trades: int
    win_rate: float
    reward_total: float
    stopped_by_signal: bool
    final_checkpoint: Path | None


def money(value: float, signed: bool = False) -> str:
    """USD as a person reads it, ``$1,234.56``; ``signed``: with a + before gains too."""
    sign = "+" if signed and value >= 0 else "-" if value < 0 else ""
    return f"{sign}${abs(value):,.2f}"


def log_progress(snapshot: Snapshot, report: TickReport) -> None:
    """One readable progress line of the step ``report`` (with a learner's updates and last losses); P&L
    is against the account's opening cash (the journal's, which a changed INITIAL_CAPITAL does not move)."""
    info = report.result.info
    portfolio = snapshot.portfolio
    pnl = info.portfolio_value - portfolio.initial_cash
    learning = ""
    if snapshot.learning is not None:
        metrics = snapshot.learning.last_metrics
        learning = f" | updates {snapshot.learning.updates}"
        if metrics is not None:
            learning += (
                f" (policy loss {metrics.policy_loss:+.4f}, value loss {metrics.value_loss:.4f}, "
                f"entropy {metrics.entropy:.2f}, kl {metrics.approx_kl:.4f})"
            )
    log.info(
        "step %d | %s ET | value %s | cash %s | positions %d | trades %d | P&L %s (realised %s, unrealised %s)"
        " | win rate %.1f%% | policy %s%s",
        snapshot.step,
        f"{eastern(info.timestamp_ms):%Y-%m-%d %H:%M}",
        money(info.portfolio_value),
        money(info.cash),
        len(portfolio.positions),
        info.trades,
        money(pnl, True),
        money(info.realized_pnl, True),
        money(info.unrealized_pnl, True),
        100 * info.win_rate,
        snapshot.name,
        learning,
    )


def log_details(report: TickReport) -> None:
    """Each fill and rejection of a step, at DEBUG."""
    if not log.isEnabledFor(logging.DEBUG):
        return
    for fill in report.result.info.fills:
        log.debug(
            "fill %s %d %s @ %.2f, cash %s",
            fill.kind,
            fill.quantity,
            fill.ticker,
            fill.price,
            money(fill.cash_delta, True),
        )
    for rejection in report.result.info.rejections:
        log.debug("refused %s on %s: %s", ACTION_NAMES[rejection.action], rejection.symbol, rejection.reason)


def log_start(settings: Settings, snapshot: Snapshot) -> None:
    """The line that says trading starts: the policy, the data, the account."""
    log.info(
        "paper trading with policy %s (%s) on %s data: symbols %s, capital %s, seed %d%s",
        snapshot.name,
        snapshot.kind,
        settings.source,
        ",".join(settings.symbols),
        money(snapshot.portfolio.initial_cash),
        settings.seed,
        f", {settings.max_steps} steps" if settings.max_steps else ", until stopped",
    )


def summarize(
    snapshot: Snapshot, steps: int, reward_total: float, by_signal: bool, final: Path | None, ended: str
) -> RunSummary:
    """The run's summary, logged: ``steps`` taken by this run, how it ended, the account at the end."""
    portfolio = snapshot.portfolio
    summary = RunSummary(
        steps,
        portfolio.value,
        portfolio.realized_pnl,
        portfolio.unrealized_pnl,
        portfolio.trades,
        portfolio.win_rate,
        reward_total,
        by_signal,
        final,
    )
    log.info(
        "stopped after %d steps (%s): value %s, P&L %s, %d trades, win rate %.1f%%, total reward %.4f",
        summary.steps,
        "signal" if by_signal else ended,
        money(summary.portfolio_value),
        money(summary.portfolio_value - portfolio.initial_cash, True),
        summary.trades,
        100 * summary.win_rate,
        summary.reward_total,
    )
    return summary
