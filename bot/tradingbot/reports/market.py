"""``tradingbot market-report``: the simulated market's statistics beside their targets, and its charts.

The text report prints, per symbol, each statistic of :mod:`tradingbot.market.sim.calibration`, its target
band and whether it holds. ``--html FILE`` also writes a self-contained page (inline SVG, no scripts)
with the daily return distribution against a normal of the same variance, the implied-volatility term
structure (median, calm and stressed days), the skew by tenor (25-delta put, ATM, 25-delta call) and
the quoted widths of calls by moneyness and days to expiry on the last simulated day at 12:00.
"""

from __future__ import annotations

import html
from datetime import date

import numpy as np

from tradingbot.market.clock import eastern
from tradingbot.market.sim.calibration import Sample, nearest_surface, statistics, targets_for
from tradingbot.reports.charts import Series, page, svg_chart


def text_report(preset: str, days: int, samples: dict[str, Sample]) -> tuple[list[str], int]:
    """The report's lines and how many statistics fall outside their bands."""
    lines = [
        f"market preset {preset!r}, {days} trading days, seeded",
        "the bands are long-run targets: samples much under 500 days often leave some (a calm or a stormy year)",
    ]
    misses = 0
    for symbol, observed in samples.items():
        bands = targets_for(symbol)
        lines.append(f"\n{symbol}")
        for name, value in statistics(observed).items():
            band = bands[name]
            verdict = "ok" if band.holds(value) else "OUTSIDE"
            misses += verdict != "ok"
            lines.append(
                f"  {name:24s} {value:9.4f}   target {band.low:g} .. {band.high:g} {band.unit:10s} {verdict:8s}"
                f"{band.meaning}"
            )
    return lines, misses


def _return_chart(symbol: str, observed: Sample) -> str:
    returns = np.diff(np.log(observed.closes))
    sd = float(np.std(returns))
    edges = np.linspace(-5 * sd, 5 * sd, 41)
    counts, _ = np.histogram(np.clip(returns, edges[0], edges[-1]), edges)
    centres = (edges[:-1] + edges[1:]) / 2 * 100
    density = counts / counts.sum()
    normal = np.exp(-0.5 * (centres / 100 / sd) ** 2)
    normal = normal / normal.sum()
    return svg_chart(
        f"{symbol}: daily log returns",
        [("simulated", centres, density), ("normal, same s.d.", centres, normal)],
        "daily return, %",
        "share of days",
        bars=True,
    )


def _term_chart(symbol: str, observed: Sample) -> str:
    iv30 = np.array(observed.iv30)
    stressed, calm = iv30 >= np.quantile(iv30, 0.9), iv30 <= np.quantile(iv30, 0.5)
    lines: list[Series] = []
    for label, days in (("all days", np.ones_like(iv30, dtype=bool)), ("calm half", calm), ("top-decile IV", stressed)):
        by_tenor: dict[int, list[float]] = {}
        for chosen, points in zip(days, observed.surfaces, strict=True):
            if chosen:
                for point in points:
                    by_tenor.setdefault(min(point.days // 7 * 7 + 3, 112), []).append(point.atm_iv)
        tenors = sorted(by_tenor)
        lines.append((label, tenors, [float(np.median(by_tenor[t])) * 100 for t in tenors]))
    return svg_chart(f"{symbol}: ATM implied volatility by tenor", lines, "calendar days to expiry", "IV, %")


def _skew_chart(symbol: str, observed: Sample) -> str:
    lines: list[Series] = []
    for target in (7, 30, 90):
        nearest = [nearest_surface(points, target) for points in observed.surfaces]
        put = float(np.median([p.put25_iv for p in nearest])) * 100
        atm = float(np.median([p.atm_iv for p in nearest])) * 100
        call = float(np.median([p.call25_iv for p in nearest])) * 100
        lines.append((f"~{target} days", [-1.0, 0.0, 1.0], [put, atm, call]))
    return svg_chart(
        f"{symbol}: skew (25-delta put, ATM, 25-delta call)",
        lines,
        "-1: 25-delta put, 0: ATM, 1: 25-delta call",
        "median IV, %",
    )


def _spread_chart(symbol: str, observed: Sample) -> str:
    chain = observed.last_chain
    assert chain is not None  # every sampled day keeps its chain
    today: date = eastern(chain.timestamp_ms).date()
    lines: list[Series] = []
    for ordinal in (
        np.unique(chain.expiration_ordinal)[[1, 4, -1]] if len(np.unique(chain.expiration_ordinal)) > 4 else []
    ):
        calls = (chain.expiration_ordinal == ordinal) & chain.is_call & (chain.bid > 0)
        moneyness = np.log(chain.strike[calls] / chain.underlying_price) * 100
        width = chain.ask[calls] - chain.bid[calls]
        keep = np.abs(moneyness) <= 10
        lines.append((f"{int(ordinal) - today.toordinal()} days", moneyness[keep], width[keep]))
    return svg_chart(f"{symbol}: call spread by moneyness ({today}, 12:00)", lines, "ln(K/S), %", "bid-ask width, USD")


def html_report(preset: str, days: int, samples: dict[str, Sample], lines: list[str]) -> str:
    """A self-contained HTML page with the text report and every chart."""
    sections = []
    for symbol, observed in samples.items():
        charts = (
            _return_chart(symbol, observed),
            _term_chart(symbol, observed),
            _skew_chart(symbol, observed),
            _spread_chart(symbol, observed),
        )
        sections.append(f"<h2>{html.escape(symbol)}</h2><div class='charts'>{''.join(charts)}</div>")
    body = f"<pre>{html.escape(chr(10).join(lines))}</pre>{''.join(sections)}"
    return page(f"Simulated market '{preset}': {days} trading days", body)
