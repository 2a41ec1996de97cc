"""Small server-side SVG charts (grouped bar charts): plain markup, every text escaped, no JavaScript.

Each chart carries an accessible <title> and <desc>, each bar a tooltip <title> with its exact value, and the
pages show the same numbers in a table beside it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from html import escape

from markupsafe import Markup

from app.services.reports.tables import Chart

PALETTE = ("#0b5394", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#6b6b6b")
WIDTH, HEIGHT = 760, 280
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 34, 44


def _nice_max(value: float) -> float:
    """A round axis maximum at or above `value` (1, 2 or 5 times a power of ten)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power:
            return float(step * power)
    return float(10 * power)  # pragma: no cover - the loop always returns


def _number(value: float) -> str:
    """A label as people write it: 3, 0.5, 1.25; a small value that rounds to nothing is "<0.01", never "0."."""
    if float(value).is_integer():
        return f"{value:.0f}"
    if 0 < abs(value) < 0.005:
        return "<0.01" if value > 0 else ">-0.01"
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "chart"


def svg(chart: Chart | None) -> Markup:
    """A report's chart drawn as inline SVG (nothing for no chart)."""
    if chart is None:
        return Markup("")
    return grouped_bars(chart.title, chart.description, chart.categories, chart.series, chart.unit)


def grouped_bars(title: str, description: str, categories: Sequence[str],
                 series: Sequence[tuple[str, Sequence[float]]], unit: str) -> Markup:
    """A vertical bar chart: one group of bars per category, one bar (and colour) per series."""
    ident = _slug(title)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    # the axis goes up to at least 0.05 so its steps (0.01 at least) read in the two decimals labels show
    top = max(_nice_max(max((v for _, values in series for v in values), default=0)), 0.05)

    def y(v: float) -> float:  # the value axis: value -> SVG y
        return TOP + plot_h - plot_h * v / top

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
             f'aria-labelledby="{ident}-title {ident}-desc">',
             f'<title id="{ident}-title">{escape(title)}</title>',
             f'<desc id="{ident}-desc">{escape(description)}</desc>']
    steps = 4 if f"{top:e}".startswith("2") else 5  # 0.5 steps up to 2, 0.2 up to 1, 1 up to 5, ...
    for i in range(steps + 1):  # gridlines and the value axis
        value = top * i / steps
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(value):.1f}" y2="{y(value):.1f}" '
                     f'class="grid" stroke="#dde2ea"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y(value) + 4:.1f}" text-anchor="end" font-size="11" '
                     f'fill="#5b6475">{_number(value)}</text>')
    parts.append(f'<text x="12" y="{TOP - 14}" font-size="11" fill="#5b6475">{escape(unit)}</text>')
    if categories and series:
        group_w = plot_w / len(categories)
        bar_w = group_w * 0.8 / len(series)
        for c, category in enumerate(categories):
            x0 = LEFT + c * group_w + group_w * 0.1
            for s, (name, values) in enumerate(series):
                value = float(values[c])
                x, top_y = x0 + s * bar_w, y(value)
                label = f"{name}, {category}: {_number(value)} {unit}"
                parts.append(f'<rect x="{x:.1f}" y="{top_y:.1f}" width="{max(bar_w - 2, 1):.1f}" '
                             f'height="{TOP + plot_h - top_y:.1f}" fill="{PALETTE[s % len(PALETTE)]}">'
                             f'<title>{escape(label)}</title></rect>')
                if value and bar_w >= 14:
                    parts.append(f'<text x="{x + bar_w / 2 - 1:.1f}" y="{top_y - 3:.1f}" text-anchor="middle" '
                                 f'font-size="10" fill="#1d2433">{_number(value)}</text>')
            parts.append(f'<text x="{LEFT + c * group_w + group_w / 2:.1f}" y="{TOP + plot_h + 16}" '
                         f'text-anchor="middle" font-size="11" fill="#1d2433">{escape(category)}</text>')
    if not any(v for _, values in series for v in values):
        parts.append(f'<text x="{LEFT + plot_w / 2}" y="{TOP + plot_h / 2}" text-anchor="middle" font-size="13" '
                     f'fill="#5b6475">No data</text>')
    parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{TOP + plot_h}" y2="{TOP + plot_h}" stroke="#5b6475"/>')
    x = LEFT
    for s, (name, _) in enumerate(series):  # legend along the bottom
        parts.append(f'<rect x="{x}" y="{HEIGHT - 14}" width="10" height="10" fill="{PALETTE[s % len(PALETTE)]}"/>'
                     f'<text x="{x + 14}" y="{HEIGHT - 5}" font-size="11" fill="#1d2433">{escape(name)}</text>')
        x += 24 + 7 * len(name)
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated text above is escaped
