"""Self-contained charts for the HTML reports: small inline SVG line and bar charts, and the page around
them (no scripts, no external files: a report opens anywhere and renders the same in any browser)."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

import numpy as np

from tradingbot.market.types import FloatArray

WIDTH, HEIGHT, PAD, LEFT = 460, 260, 40, 64
"""Chart size, margin and left margin (room for the y axis' numbers), CSS pixels."""
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e")
Series = tuple[str, Sequence[float] | FloatArray, Sequence[float] | FloatArray]
"""A chart line: its label, x values and y values."""


def svg_chart(title: str, lines: Sequence[Series], x_label: str, y_label: str, bars: bool = False) -> str:
    """A small line (or bar) chart as inline SVG."""
    xs = np.concatenate([np.asarray(x, dtype=float) for _, x, _ in lines])
    ys = np.concatenate([np.asarray(y, dtype=float) for _, _, y in lines])
    finite = np.isfinite(xs) & np.isfinite(ys)
    if not finite.any():
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" role="img">'
            f"<title>{html.escape(title)}</title>"
            f'<text x="{WIDTH / 2}" y="16" text-anchor="middle" font-size="13">{html.escape(title)}</text>'
            f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle" font-size="12">no data yet</text></svg>'
        )
    x0, x1 = float(xs[finite].min()), float(xs[finite].max())
    y0, y1 = min(float(ys[finite].min()), 0.0) if bars else float(ys[finite].min()), float(ys[finite].max())
    x1, y1 = (x1 if x1 > x0 else x0 + 1), (y1 if y1 > y0 else y0 + 1)

    def px(x: float) -> float:
        return LEFT + (x - x0) / (x1 - x0) * (WIDTH - LEFT - PAD)

    def py(y: float) -> float:
        return HEIGHT - PAD - (y - y0) / (y1 - y0) * (HEIGHT - 2 * PAD)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" role="img">',
        f"<title>{html.escape(title)}</title>",
        f'<text x="{WIDTH / 2}" y="16" text-anchor="middle" font-size="13">{html.escape(title)}</text>',
        f'<line x1="{LEFT}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" stroke="#444"/>',
        f'<line x1="{LEFT}" y1="{PAD}" x2="{LEFT}" y2="{HEIGHT - PAD}" stroke="#444"/>',
        f'<text x="{WIDTH / 2}" y="{HEIGHT - 6}" text-anchor="middle" font-size="11">{html.escape(x_label)}</text>',
        f'<text x="10" y="{HEIGHT / 2}" font-size="11" transform="rotate(-90 10 {HEIGHT / 2})" '
        f'text-anchor="middle">{html.escape(y_label)}</text>',
    ]
    for value, anchor in ((x0, "start"), (x1, "end")):
        parts.append(
            f'<text x="{px(value)}" y="{HEIGHT - PAD + 14}" font-size="10" text-anchor="{anchor}">{value:.3g}</text>'
        )
    for value in (y0, y1):
        parts.append(f'<text x="{LEFT - 4}" y="{py(value) + 4}" font-size="10" text-anchor="end">{value:.4g}</text>')
    for k, (label, x, y) in enumerate(lines):
        colour = COLOURS[k % len(COLOURS)]
        points = [(px(a), py(b)) for a, b in zip(x, y, strict=True) if math.isfinite(a) and math.isfinite(b)]
        if bars and k == 0:
            step = (WIDTH - LEFT - PAD) / max(len(points), 1)
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


def page(title: str, body: str) -> str:
    """A complete HTML page: ``title`` (escaped here) over ``body`` (HTML), charts laid out in rows."""
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif;margin:20px}.charts{display:flex;flex-wrap:wrap;gap:12px}"
        "pre{background:#f6f6f6;padding:8px;font-size:12px}table{border-collapse:collapse;font-size:13px}"
        "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>{body}</body></html>"
    )
