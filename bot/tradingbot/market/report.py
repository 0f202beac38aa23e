"""``tradingbot market-report``: the simulated market's statistics beside their targets, and its charts.

The text report prints, per symbol, each statistic of :mod:`tradingbot.market.calibration`, its target
band and whether it holds. ``--html FILE`` also writes a self-contained page (inline SVG, no scripts)
with the daily return distribution against a normal of the same variance, the implied-volatility term
structure (median, calm and stressed days), the skew by tenor (25-delta put, ATM, 25-delta call) and
the quoted widths of calls by moneyness and days to expiry on the last simulated day at 12:00.
"""

from __future__ import annotations

import argparse
import html
import math
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import numpy as np

from tradingbot.market.calibration import Sample, nearest_surface, statistics, targets_for
from tradingbot.market.calibration import sample as sample_market
from tradingbot.market.clock import eastern
from tradingbot.market.simulator import PRESETS
from tradingbot.market.types import FloatArray

WIDTH, HEIGHT, PAD = 460, 260, 40
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e")
Series = tuple[str, Sequence[float] | FloatArray, Sequence[float] | FloatArray]
"""A chart line: its label, x values and y values."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``market-report`` flags."""
    parser.add_argument("--preset", choices=tuple(PRESETS), default="realistic")
    parser.add_argument(
        "--days", type=int, default=1500, help="simulated trading days (at least 60; 1500: ~15 s a symbol)"
    )
    parser.add_argument("--symbols", default="SPY,QQQ,AAPL", help="underlyings, comma-separated")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--html", type=Path, help="also write the charts to this HTML file")


def run(args: argparse.Namespace) -> int:
    """Print the report (and write the HTML page); exit code 0, or 2 for bad arguments."""
    symbols = tuple(s.strip() for s in args.symbols.split(",") if s.strip())
    if args.days < 60 or not symbols:
        print("tradingbot market-report: --days must be at least 60 and --symbols not empty", file=sys.stderr)
        return 2
    samples = sample_market(args.preset, symbols, args.days, args.seed)
    lines, misses = text_report(args.preset, args.days, samples)
    print("\n".join(lines))
    if args.html is not None:
        args.html.write_text(html_report(args.preset, args.days, samples, lines), encoding="utf-8")
        print(f"charts written to {args.html}")
    print(f"{misses} statistic(s) outside their target band")
    return 0


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


def _svg(title: str, lines: Sequence[Series], x_label: str, y_label: str, bars: bool = False) -> str:
    """A small line (or bar) chart as inline SVG."""
    xs = np.concatenate([np.asarray(x, dtype=float) for _, x, _ in lines])
    ys = np.concatenate([np.asarray(y, dtype=float) for _, _, y in lines])
    finite = np.isfinite(xs) & np.isfinite(ys)
    x0, x1 = float(xs[finite].min()), float(xs[finite].max())
    y0, y1 = min(float(ys[finite].min()), 0.0) if bars else float(ys[finite].min()), float(ys[finite].max())
    x1, y1 = (x1 if x1 > x0 else x0 + 1), (y1 if y1 > y0 else y0 + 1)

    def px(x: float) -> float:
        return PAD + (x - x0) / (x1 - x0) * (WIDTH - 2 * PAD)

    def py(y: float) -> float:
        return HEIGHT - PAD - (y - y0) / (y1 - y0) * (HEIGHT - 2 * PAD)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" role="img">',
        f"<title>{html.escape(title)}</title>",
        f'<text x="{WIDTH / 2}" y="16" text-anchor="middle" font-size="13">{html.escape(title)}</text>',
        f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" stroke="#444"/>',
        f'<line x1="{PAD}" y1="{PAD}" x2="{PAD}" y2="{HEIGHT - PAD}" stroke="#444"/>',
        f'<text x="{WIDTH / 2}" y="{HEIGHT - 6}" text-anchor="middle" font-size="11">{html.escape(x_label)}</text>',
        f'<text x="10" y="{HEIGHT / 2}" font-size="11" transform="rotate(-90 10 {HEIGHT / 2})" '
        f'text-anchor="middle">{html.escape(y_label)}</text>',
    ]
    for value, anchor in ((x0, "start"), (x1, "end")):
        parts.append(
            f'<text x="{px(value)}" y="{HEIGHT - PAD + 14}" font-size="10" text-anchor="{anchor}">{value:.3g}</text>'
        )
    for value in (y0, y1):
        parts.append(f'<text x="{PAD - 4}" y="{py(value) + 4}" font-size="10" text-anchor="end">{value:.3g}</text>')
    for k, (label, x, y) in enumerate(lines):
        colour = COLOURS[k % len(COLOURS)]
        points = [(px(a), py(b)) for a, b in zip(x, y, strict=True) if math.isfinite(a) and math.isfinite(b)]
        if bars and k == 0:
            step = (WIDTH - 2 * PAD) / max(len(points), 1)
            parts += [
                f'<rect x="{a - step / 2:.1f}" y="{b:.1f}" width="{step * 0.9:.1f}" height="{py(y0) - b:.1f}" '
                f'fill="{colour}" opacity="0.6"/>'
                for a, b in points
            ]
        else:
            path = " ".join(f"{a:.1f},{b:.1f}" for a, b in points)
            parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        parts.append(
            f'<text x="{WIDTH - PAD}" y="{PAD + 14 * k}" font-size="11" text-anchor="end" fill="{colour}">'
            f"{html.escape(label)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _return_chart(symbol: str, observed: Sample) -> str:
    returns = np.diff(np.log(observed.closes))
    sd = float(np.std(returns))
    edges = np.linspace(-5 * sd, 5 * sd, 41)
    counts, _ = np.histogram(np.clip(returns, edges[0], edges[-1]), edges)
    centres = (edges[:-1] + edges[1:]) / 2 * 100
    density = counts / counts.sum()
    normal = np.exp(-0.5 * (centres / 100 / sd) ** 2)
    normal = normal / normal.sum()
    return _svg(
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
    return _svg(f"{symbol}: ATM implied volatility by tenor", lines, "calendar days to expiry", "IV, %")


def _skew_chart(symbol: str, observed: Sample) -> str:
    lines: list[Series] = []
    for target in (7, 30, 90):
        nearest = [nearest_surface(points, target) for points in observed.surfaces]
        put = float(np.median([p.put25_iv for p in nearest])) * 100
        atm = float(np.median([p.atm_iv for p in nearest])) * 100
        call = float(np.median([p.call25_iv for p in nearest])) * 100
        lines.append((f"~{target} days", [-1.0, 0.0, 1.0], [put, atm, call]))
    return _svg(
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
    return _svg(f"{symbol}: call spread by moneyness ({today}, 12:00)", lines, "ln(K/S), %", "bid-ask width, USD")


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
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>Simulated market: {html.escape(preset)}</title>"
        "<style>body{font-family:sans-serif;margin:20px}.charts{display:flex;flex-wrap:wrap;gap:12px}"
        "pre{background:#f6f6f6;padding:8px;font-size:12px}</style></head><body>"
        f"<h1>Simulated market '{html.escape(preset)}': {days} trading days</h1>"
        f"<pre>{html.escape(chr(10).join(lines))}</pre>{''.join(sections)}</body></html>"
    )
