"""Inline SVG charts, rendered on the server so that pages work with no network at all.

Each function returns SVG markup (a string safe to embed: every text is escaped).
A *mark* ``(badge, note)`` flags a bar or cell drawn from a restricted result: the
badge (e.g. ``H3``) is drawn beside it in the restriction colour and the note (the
restriction) is its tooltip. Presentation attributes only: no inline style or script.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

__all__ = ["Mark", "bar_chart", "heat_grid", "line_chart"]

#: (badge, note): e.g. ("H3", "H3: not for use in sanctions designations")
Mark = tuple[str, str]
RESTRICTED_COLOUR = "#8e44ad"

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#17becf")
LEVEL_COLOURS = {
    None: "#f0f0f0",
    "low": "#fde0c5",
    "medium": "#facba6",
    "high": "#f59e72",
    "critical": "#c0392b",
}


def heat_grid(
    rows: Sequence[str],
    columns: Sequence[str],
    cells: Mapping[tuple[str, str], tuple[str | None, str]],
    *,
    title: str,
    marks: Mapping[tuple[str, str], Mark] | None = None,
) -> str:
    """A map-like grid: one row per area, one column per period, coloured by level.

    ``cells[(row, column)] = (level, tooltip)``; ``marks[(row, column)]`` outlines a
    cell drawn from a restricted result and adds the restriction to its tooltip.
    """
    marks = marks or {}
    cell_w, cell_h, left, top = 14, 16, 190, 40
    width = left + cell_w * max(1, len(columns)) + 20
    height = top + cell_h * max(1, len(rows)) + 20
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart heat-grid" role="img" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
        f"<title>{escape(title)}</title>",
    ]
    for j, column in enumerate(columns):
        if j % 6 == 0:
            x = left + j * cell_w
            parts.append(
                f'<text x="{x}" y="{top - 8}" font-size="10" transform="rotate(-45 {x} {top - 8})">'
                f"{escape(column)}</text>"
            )
    for i, row in enumerate(rows):
        y = top + i * cell_h
        parts.append(
            f'<text x="{left - 6}" y="{y + 12}" font-size="11" text-anchor="end">'
            f"{escape(row)}</text>"
        )
        for j, column in enumerate(columns):
            level, tip = cells.get((row, column), (None, ""))
            mark = marks.get((row, column))
            flagged = (
                f' stroke="{RESTRICTED_COLOUR}" stroke-width="2" class="restricted" '
                f'data-hc="{escape(mark[0])}"'
                if mark
                else ""
            )
            note = f" [{mark[1]}]" if mark else ""
            parts.append(
                f'<rect x="{left + j * cell_w}" y="{y}" width="{cell_w - 1}" height="{cell_h - 1}" '
                f'fill="{LEVEL_COLOURS.get(level, "#ccc")}" data-level="{escape(level or "")}"'
                f"{flagged}>"
                f"<title>{escape(row)} {escape(column)}: {escape(tip or 'no finding')}"
                f"{escape(note)}</title></rect>"
            )
    parts.append("</svg>")
    return "".join(parts)


def line_chart(series: Mapping[str, Mapping[str, float]], *, title: str, y_label: str) -> str:
    """Lines over a shared, sorted x axis of period labels (e.g. months)."""
    xs = sorted({x for values in series.values() for x in values})
    width, height, left, bottom, top = 720, 260, 56, 40, 20
    plot_w, plot_h = width - left - 20, height - top - bottom
    y_max = max([v for values in series.values() for v in values.values()] + [1])
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart line-chart" role="img" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
        'stroke="#333"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#333"/>',
        f'<text x="12" y="{top + plot_h / 2}" font-size="11" '
        f'transform="rotate(-90 12 {top + plot_h / 2})">'
        f"{escape(y_label)}</text>",
        f'<text x="{left - 4}" y="{top + 4}" font-size="10" text-anchor="end">{y_max:g}</text>',
        f'<text x="{left - 4}" y="{top + plot_h}" font-size="10" text-anchor="end">0</text>',
    ]

    def x_at(index: int) -> float:
        return left + (plot_w * index / max(1, len(xs) - 1))

    for j, x in enumerate(xs):
        if j % max(1, len(xs) // 8) == 0:
            parts.append(
                f'<text x="{x_at(j):.1f}" y="{top + plot_h + 16}" font-size="10" '
                f'text-anchor="middle">{escape(x)}</text>'
            )
    for k, (name, values) in enumerate(sorted(series.items())):
        colour = PALETTE[k % len(PALETTE)]
        points = " ".join(
            f"{x_at(j):.1f},{top + plot_h - plot_h * values.get(x, 0) / y_max:.1f}"
            for j, x in enumerate(xs)
        )
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{points}" '
            f'data-series="{escape(name)}"/>'
        )
        parts.append(
            f'<text x="{left + 8 + 150 * k}" y="{height - 6}" font-size="11" fill="{colour}">'
            f"{escape(name)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


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
            f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_h - 4}" fill="{PALETTE[0]}"/>'
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
