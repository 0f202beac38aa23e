"""The HTML report a trader reads: ``tradingbot report --journal FILE`` and ``tradingbot evaluate --html``.

One self-contained page (inline SVG, :mod:`tradingbot.reports.charts`) with the equity curve and its drawdown,
daily P&L, P&L by underlying and by kind of trade, the distribution of closed trades' P&L, and, when
the agent learned, its learning curves (losses, entropy, approximate KL and explained variance per
update). Money in USD.

From a journal the equity is **realised**: the opening cash plus the realised P&L of each session's
closing fills (the journal keeps fills, not the marks in between), so open positions show only once
closed. From an evaluation it is the marked equity at each close.
"""

from __future__ import annotations

import html
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from tradingbot.agent.update_metrics import TrainMetrics
from tradingbot.env.portfolio import Fill
from tradingbot.market.clock import eastern
from tradingbot.market.occ import parse_occ
from tradingbot.reports.charts import Series, page, svg_chart
from tradingbot.reports.performance import max_drawdown


@dataclass(frozen=True, slots=True)
class Account:
    """One account to chart: its equity at the opening and at each close (USD), and its fills."""

    label: str
    equity: Sequence[float]
    fills: Sequence[Fill] = ()


@dataclass(frozen=True, slots=True)
class ReportData:
    """What a report shows: accounts (the first is the one broken down), a summary and learning curves."""

    title: str
    accounts: Sequence[Account]
    summary_html: str = ""
    updates: Sequence[TrainMetrics] = field(default_factory=tuple)


def _bars(title: str, names: Sequence[str], values: Sequence[float], y_label: str) -> str:
    """A bar chart of named values (the names in the x label, in order)."""
    return svg_chart(title, [("", list(range(len(values))), list(values))], " | ".join(names), y_label, bars=True)


def _kind(fill: Fill) -> str:
    contract = "calls" if parse_occ(fill.ticker).contract_type == "call" else "puts"
    return f"{contract} {'sold' if fill.kind == 'sell' else 'expired'}"


def render(data: ReportData) -> str:
    """The report page."""
    charts = []
    sessions: list[Series] = [(a.label, list(range(len(a.equity))), list(a.equity)) for a in data.accounts]
    charts.append(svg_chart("Equity at each close", sessions, "session", "USD"))
    drawdowns: list[Series] = []
    for account in data.accounts:
        highs = np.maximum.accumulate(np.asarray(account.equity, dtype=float))
        drawdowns.append((account.label, list(range(len(highs))), list((1 - np.asarray(account.equity) / highs) * 100)))
    charts.append(svg_chart("Drawdown from the running high", drawdowns, "session", "%"))
    main = data.accounts[0]
    daily = np.diff(np.asarray(main.equity, dtype=float))
    charts.append(
        svg_chart(
            f"{main.label}: daily P&L", [("", list(range(1, len(daily) + 1)), list(daily))], "session", "USD", bars=True
        )
    )
    closes = [f for f in main.fills if f.kind != "buy"]
    by_underlying: dict[str, float] = defaultdict(float)
    by_kind: dict[str, float] = defaultdict(float)
    for fill in closes:
        by_underlying[fill.underlying] += fill.realized_pnl
        by_kind[_kind(fill)] += fill.realized_pnl
    if closes:
        names = sorted(by_underlying)
        charts.append(
            _bars(f"{main.label}: realised P&L by underlying", names, [by_underlying[n] for n in names], "USD")
        )
        kinds = sorted(by_kind)
        charts.append(_bars(f"{main.label}: realised P&L by kind of trade", kinds, [by_kind[k] for k in kinds], "USD"))
        pnl = np.array([f.realized_pnl for f in closes])
        counts, edges = np.histogram(pnl, bins=min(30, max(5, len(pnl) // 3)))
        centres = (edges[:-1] + edges[1:]) / 2
        charts.append(
            svg_chart(
                f"{main.label}: closed trades' P&L ({len(pnl)})",
                [("", list(centres), list(counts))],
                "realised P&L per close, USD",
                "closes",
                bars=True,
            )
        )
    if data.updates:
        x = list(range(1, len(data.updates) + 1))
        u = data.updates
        charts.append(
            svg_chart(
                "Losses per update",
                [("policy", x, [m.policy_loss for m in u]), ("value", x, [m.value_loss for m in u])],
                "update",
                "loss",
            )
        )
        charts.append(svg_chart("Entropy per update", [("entropy", x, [m.entropy for m in u])], "update", "nats"))
        charts.append(
            svg_chart(
                "Approximate KL and explained variance",
                [
                    ("approx KL x 100", x, [100 * m.approx_kl for m in u]),
                    ("explained variance", x, [m.explained_variance for m in u]),
                ],
                "update",
                "",
            )
        )
    figures = "".join(
        f"<tr><td style='text-align:left'>{html.escape(a.label)}</td><td>{a.equity[-1]:,.2f}</td>"
        f"<td>{100 * (a.equity[-1] / a.equity[0] - 1):+.2f}%</td><td>{100 * max_drawdown(a.equity):.2f}%</td>"
        f"<td>{sum(f.kind != 'expire' for f in a.fills)}</td></tr>"
        for a in data.accounts
    )
    table = (
        "<table><tr><th>account</th><th>final equity, USD</th><th>return</th><th>max drawdown</th><th>trades</th></tr>"
        f"{figures}</table>"
    )
    body = f"{table}{data.summary_html}<div class='charts'>{''.join(charts)}</div>"
    return page(data.title, body)


def journal_data(opening: float, fills: Sequence[Fill], bot: str) -> ReportData:
    """A journal's account: realised equity at the end of each session that had a fill."""
    by_day: dict[str, float] = defaultdict(float)
    for fill in fills:
        by_day[eastern(fill.timestamp_ms).date().isoformat()] += fill.realized_pnl if fill.kind != "buy" else 0.0
    equity = [opening]
    for day in sorted(by_day):
        equity.append(equity[-1] + by_day[day])
    note = (
        "<p>Equity here is realised: the opening cash plus closed trades' P&L (the journal keeps fills, not marks).</p>"
    )
    return ReportData(f"Trade journal: {bot}", [Account(bot, equity, fills)], note)
