"""Inline SVG charts, rendered on the server so that pages work with no network at all.

Each function returns SVG markup (a string safe to embed: every text is escaped).
A *mark* ``(badge, note)`` flags a bar or cell drawn from a restricted result: the
badge (e.g. ``H3``) is drawn beside it in the restriction colour and the note (the
restriction) is its tooltip. Presentation attributes only: no inline style or script.

:func:`timeline` (issue 18, "Time") draws counts per month with every month of the span
on its axis: a month without a value is a zero, so a line never bridges a gap, and the
``<desc>`` says in words what the chart shows. Its colours are checked with
:func:`contrast_ratio`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from html import escape

__all__ = [
    "Mark",
    "bar_chart",
    "contrast_ratio",
    "months_between",
    "timeline",
]

#: (badge, note): e.g. ("H3", "H3: not for use in sanctions designations")
Mark = tuple[str, str]
RESTRICTED_COLOUR = "#8e44ad"

#: The bars' colour: 4.8:1 on white.
BAR_COLOUR = "#1f77b4"
#: Line colours with at least 3.8:1 contrast on white (WCAG 1.4.11 asks 3:1), each with its
#: own dash pattern so that no series is told from another by colour alone (WCAG 1.4.1).
SERIES_COLOURS = ("#0072b2", "#d55e00", "#117733", "#aa4499", "#8c564b", "#332288", "#882255")
SERIES_DASHES = ("", "6 3", "2 2", "8 3 2 3", "4 4", "1 3", "10 4")
MONTH = re.compile(r"(\d{4})-(\d{2})")
LEVEL_COLOURS = {
    None: "#f0f0f0",
    "low": "#fde0c5",
    "medium": "#facba6",
    "high": "#f59e72",
    "critical": "#c0392b",
}


def bar_chart(
    values: Sequence[tuple[str, float]],
    *,
    title: str,
    unit: str = "",
    marks: Sequence[Mark | None] = (),
) -> str:
    """Horizontal bars, largest first as given; ``marks[i]`` flags bar ``i`` as restricted."""
    bar_h, left, longest = 18, 220, 420
    width = left + longest + 80 + (60 if any(marks) else 0)  # room for the badges
    height = 20 + bar_h * max(1, len(values)) + 10
    top_value = max([v for _, v in values] + [1])
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart bar-chart" role="img" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
        f"<title>{escape(title)}</title>",
    ]
    for i, (label, value) in enumerate(values):
        y = 20 + i * bar_h
        w = longest * value / top_value
        mark = marks[i] if i < len(marks) else None
        bar = (
            f'<text x="{left - 6}" y="{y + 13}" font-size="11" text-anchor="end">'
            f"{escape(label)}</text>"
            f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_h - 4}" fill="{BAR_COLOUR}"/>'
            f'<text x="{left + w + 4:.1f}" y="{y + 13}" font-size="11">'
            f"{value:,.4g}{escape(unit)}</text>"
        )
        if mark:
            badge_x = left + w + 8 + 7 * len(f"{value:,.4g}{unit}")
            bar = (
                f'<g class="restricted" data-hc="{escape(mark[0])}">'
                f"<title>{escape(label)}: {escape(mark[1])}</title>{bar}"
                f'<text x="{badge_x:.1f}" y="{y + 13}" font-size="11" font-weight="bold" '
                f'fill="{RESTRICTED_COLOUR}">{escape(mark[0])}</text></g>'
            )
        parts.append(bar)
    parts.append("</svg>")
    return "".join(parts)


def contrast_ratio(colour: str, other: str) -> float:
    """WCAG 2's contrast ratio of two ``#rrggbb`` colours, from 1 to 21 (1.4.3, 1.4.11):
    how the palettes here are chosen and checked."""

    def luminance(hex_colour: str) -> float:
        channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    light, dark = sorted((luminance(colour), luminance(other)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def _month_number(month: str) -> int:
    """``"YYYY-MM"`` as a count of months since year 0; raises :class:`ValueError` otherwise."""
    found = MONTH.fullmatch(month)
    if not found or not 1 <= int(found[2]) <= 12:
        raise ValueError(f"not a month (YYYY-MM): {month!r}")
    return int(found[1]) * 12 + int(found[2]) - 1


def months_between(first: str, last: str) -> list[str]:
    """Every month from ``first`` to ``last``, both included (``[]`` if ``last`` is earlier).

    Raises :class:`ValueError` when either is not a ``"YYYY-MM"`` month.
    """
    start, end = _month_number(first), _month_number(last)
    return [_month_text(n) for n in range(start, end + 1)]


def _month_text(number: int) -> str:
    """A month count (as :func:`_month_number` gives) back as ``"YYYY-MM"``."""
    return f"{number // 12:04d}-{number % 12 + 1:02d}"


def _nice_ceiling(value: float) -> float:
    """The axis top: the first round number (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 or 10 times
    a power of ten) at or above ``value``, at least 1; the plot is never under half full."""
    if value <= 1:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    steps = (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10)
    return min(round(step * power, 6) for step in steps if round(step * power, 6) >= value)


def _label_step(count: int) -> int:
    """Label every month, or every 2nd, quarter, half-year, year...: at most 10 labels."""
    return next(s for s in (1, 2, 3, 6, 12, 24, 60, 120, 1200) if count <= 10 * s)


def _month_axis(months: Sequence[str], x_at: Sequence[float], axis_y: float) -> list[str]:
    """A tick under every month, longer ones with labels on calendar-aligned months."""
    step = _label_step(len(months))
    parts = ['<g class="x-axis" stroke="#333">']
    labels = []
    for month, x in zip(months, x_at, strict=True):
        labelled = _month_number(month) % step == 0
        tick = axis_y + (6 if labelled else 3)
        parts.append(f'<line x1="{x:.1f}" y1="{axis_y}" x2="{x:.1f}" y2="{tick}"/>')
        if labelled:
            labels.append(
                f'<text x="{x:.1f}" y="{axis_y + 17}" font-size="10" text-anchor="middle" '
                f'fill="#1b1b1b" stroke="none">{escape(month)}</text>'
            )
    return [*parts, *labels, "</g>"]


def _value_axis(y_max: float, left: int, right: float, top: int, plot_h: int) -> list[str]:
    """0, the rounded maximum and (when whole) the middle, with light grid lines."""
    ticks = [0.0, y_max / 2, y_max] if (y_max / 2).is_integer() else [0.0, y_max]
    parts = []
    for tick in ticks:
        y = top + plot_h - plot_h * tick / y_max
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{right:.1f}" y2="{y:.1f}" stroke="#dddddd"/>'
            f'<text x="{left - 4}" y="{y + 4:.1f}" font-size="10" text-anchor="end" '
            f'fill="#1b1b1b">{tick:,g}</text>'
        )
    return parts


def _series_legend(names: Sequence[str], top: float, width: int) -> tuple[list[str], float]:
    """One sample line (colour and dash) and name per series, wrapped into rows."""
    parts, x, y = ['<g class="legend">'], 12.0, top
    for k, name in enumerate(names):
        item = 34 + 6.5 * len(name)
        if x + item > width and x > 12:
            x, y = 12.0, y + 16
        parts.append(
            f'<line x1="{x:.1f}" y1="{y - 4}" x2="{x + 24:.1f}" y2="{y - 4}" '
            f'stroke="{SERIES_COLOURS[k % len(SERIES_COLOURS)]}" stroke-width="2" {_dash(k)}/>'
            f'<text x="{x + 28:.1f}" y="{y}" font-size="11" fill="#1b1b1b">{escape(name)}</text>'
        )
        x += item
    return [*parts, "</g>"], y - top + 16


def _dash(k: int) -> str:
    dash = SERIES_DASHES[k % len(SERIES_DASHES)]
    return f'stroke-dasharray="{dash}"' if dash else ""


def _timeline_description(
    series: Mapping[str, Mapping[str, float]], months: Sequence[str], y_label: str
) -> str:
    """The text alternative: what is counted over which months, and the peak."""
    if not months:
        return f"{y_label} per month: no months to show."
    span = f"{y_label} per month, {months[0]} to {months[-1]}"
    peaks = [
        (-series[name].get(month, 0), month, name)
        for name in series
        for month in months
        if series[name].get(month, 0) > 0
    ]
    if not peaks:
        return f"{span}; none recorded."
    value, month, name = min(peaks)
    return f"{span}; peak {month} ({-value:,g}) for {name}."


def timeline(
    series: Mapping[str, Mapping[str, float]],
    *,
    title: str,
    y_label: str,
    first: str | None = None,
    last: str | None = None,
) -> str:
    """Counts per month, one line per series, over every month from first to last.

    ``series[name]["YYYY-MM"] = count``; ``y_label`` names what is counted (e.g.
    "events"). The axis runs from ``first`` to ``last`` when given, else from the
    earliest to the latest month with a value; a month with no value is drawn at 0, so
    a line never bridges a gap, and values outside the axis are left out. Raises
    :class:`ValueError` for a key or bound that is not a ``"YYYY-MM"`` month.
    """
    keys = sorted({_month_number(m) for values in series.values() for m in values})
    first = first or (_month_text(keys[0]) if keys else None)
    last = last or (_month_text(keys[-1]) if keys else None)
    months = months_between(first, last) if first and last else []
    names = sorted(series)
    width, left, right, top, plot_h = 720, 56, 704, 16, 200
    y_max = _nice_ceiling(max([series[n].get(m, 0) for n in names for m in months] + [0]))
    if len(months) == 1:
        x_at = [(left + right) / 2]
    else:
        x_at = [left + (right - left) * i / (len(months) - 1) for i in range(len(months))]
    legend, legend_h = _series_legend(names, top + plot_h + 42, width)
    height = math.ceil(top + plot_h + 30 + legend_h)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart timeline" role="img" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
        f"<title>{escape(title)}</title>",
        f"<desc>{escape(_timeline_description(series, months, y_label))}</desc>",
        *_value_axis(y_max, left, right, top, plot_h),
        f'<text x="14" y="{top + plot_h / 2}" font-size="11" text-anchor="middle" '
        f'fill="#1b1b1b" transform="rotate(-90 14 {top + plot_h / 2})">{escape(y_label)}</text>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#333"/>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{right}" y2="{top + plot_h}" stroke="#333"/>',
        *_month_axis(months, x_at, top + plot_h),
    ]
    for k, name in enumerate(names if months else []):
        points = [
            (x, top + plot_h - plot_h * series[name].get(month, 0) / y_max)
            for month, x in zip(months, x_at, strict=True)
        ]
        parts.append(_series_shape(k, name, points))
    return "".join([*parts, *legend, "</svg>"])


def _series_shape(k: int, name: str, points: Sequence[tuple[float, float]]) -> str:
    """The ``k``-th series as a line, or a dot when the axis has one month."""
    colour = SERIES_COLOURS[k % len(SERIES_COLOURS)]
    common = f'stroke="{colour}" stroke-width="2" {_dash(k)} data-series="{escape(name)}"'
    tip = f"<title>{escape(name)}</title>"
    if len(points) == 1:
        (x, y), *_ = points
        return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}" {common}>{tip}</circle>'
    shape = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    return f'<polyline fill="none" points="{shape}" {common}>{tip}</polyline>'
