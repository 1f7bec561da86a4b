"""A map of places on country outlines, drawn as inline SVG on the server (issue 18, "A map").

The analyst pages run no script and load nothing from elsewhere, so the map is markup
built here from outlines shipped with the package: Natural Earth's 1:50m admin 0
countries as the npm package ``world-atlas`` 2.0.2 gives them (``geo/README.md``).

* **Outlines** are decoded by :mod:`clearinghouse.node.ui.topojson` once, on first use
  (:func:`countries`).
* **Projection** is equirectangular with longitude scaled by the cosine of the view's
  middle latitude, which keeps a region's shape right without a projection library.
* **The view** fits the marks with padding, at least :data:`MIN_SPAN` degrees across
  (:func:`fit_view`); with no marks it is the inhabited world.
* **Size**: outlines are clipped to the view and thinned to its resolution (a point
  closer than :data:`TOLERANCE_PX` to the last one kept is dropped), so a region's map
  stays a few tens of kilobytes.

Marks are circles coloured by level (:data:`~clearinghouse.node.ui.charts.LEVEL_COLOURS`)
with a dark outline that holds 3:1 contrast against land and sea (WCAG 1.4.11); their
area grows with the deaths counted. A mark drawn from a restricted result has a dashed
outline in the restriction colour and its badge and note in its tooltip, as in
:mod:`~clearinghouse.node.ui.charts`. Presentation attributes only, no inline style or
script, so the pages' Content-Security-Policy (``node/api/ui_headers.py``) holds; every
text is escaped.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from html import escape
from pathlib import Path
from typing import Any, Final

from clearinghouse.node.ui.charts import LEVEL_COLOURS, RESTRICTED_COLOUR, Mark
from clearinghouse.node.ui.topojson import Country, Point, Ring, read_countries

__all__ = [
    "MIN_SPAN",
    "WORLD",
    "MapMark",
    "View",
    "countries",
    "fit_view",
    "world_map",
]

OUTLINES: Final = Path(__file__).parent / "geo" / "countries-50m.json"
LEVELS: Final = ("low", "medium", "high", "critical")
PRECISIONS: Final = ("coordinates", "cell", "country")
PRECISION_NOTES: Final = {
    "coordinates": "",
    "cell": " (placed at the centre of its grid cell)",
    "country": " (placed at the centre of the country)",
}
MIN_SPAN: Final = 6.0  # degrees: a single place still shows its neighbours
PADDING: Final = 0.15  # of the marks' span, on each side
ASPECT: Final = (0.5, 0.75)  # height / width of the map, least and most
TOLERANCE_PX: Final = 1.0
R_MIN, R_MAX = 4.0, 22.0
SEA, LAND, BORDER, INK = "#dfe9f0", "#f2efe9", "#7f7f7f", "#1b1b1b"


@cache
def countries() -> tuple[Country, ...]:
    """Every country of the shipped outlines, sorted by name; read once per process."""
    return read_countries(json.loads(OUTLINES.read_text(encoding="utf-8")))


# --- marks and view --------------------------------------------------------------


@dataclass(frozen=True)
class MapMark:
    """One place on the map.

    ``label`` is the mark's accessible text (its tooltip), e.g. "Aleppo Governorate,
    Syria, 2016-08: critical, 1,234 deaths"; ``precision`` says how the position was
    found: ``"coordinates"`` (the events' own), ``"cell"`` (a grid cell's centre) or
    ``"country"`` (the country's centre). Raises :class:`ValueError` for a position off
    the globe or an unknown level or precision.
    """

    lat: float
    lon: float
    label: str
    level: str | None = None
    fatalities: int | None = None
    href: str | None = None
    restricted: Mark | None = None
    precision: str = "coordinates"

    def __post_init__(self) -> None:
        if not (-90.0 <= self.lat <= 90.0 and -180.0 <= self.lon <= 180.0):
            raise ValueError(f"not a position on the globe: lat {self.lat}, lon {self.lon}")
        if self.level is not None and self.level not in LEVELS:
            raise ValueError(f"unknown level {self.level!r}; expected one of {LEVELS}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"unknown precision {self.precision!r}; expected {PRECISIONS}")


@dataclass(frozen=True)
class View:
    """The part of the globe a map shows, in degrees."""

    west: float
    south: float
    east: float
    north: float

    @property
    def lon_factor(self) -> float:
        """How much shorter a degree of longitude is than one of latitude, mid-view."""
        return math.cos(math.radians(max(-75.0, min(75.0, (self.south + self.north) / 2))))

    def meets(self, bbox: tuple[float, float, float, float]) -> bool:
        west, south, east, north = bbox
        return (
            west <= self.east and east >= self.west and south <= self.north and north >= self.south
        )


#: The view with no marks: every inhabited land, Antarctica left out.
WORLD: Final = View(-180.0, -58.0, 180.0, 84.0)


def _centred(middle: float, span: float, low: float, high: float) -> tuple[float, float]:
    """A ``span`` around ``middle``, shifted (not shrunk) to stay within low..high."""
    span = min(span, high - low)
    start = max(low, min(high - span, middle - span / 2))
    return start, start + span


def fit_view(marks: Sequence[MapMark]) -> View:
    """The view that shows every mark with some land around it, :data:`WORLD` if none.

    At least :data:`MIN_SPAN` degrees each way plus :data:`PADDING`, then widened or
    heightened so that the map's shape stays within :data:`ASPECT`.
    """
    if not marks:
        return WORLD
    lons, lats = [m.lon for m in marks], [m.lat for m in marks]
    lon_span = max(max(lons) - min(lons), MIN_SPAN) * (1 + 2 * PADDING)
    lat_span = max(max(lats) - min(lats), MIN_SPAN) * (1 + 2 * PADDING)
    mid_lon, mid_lat = (min(lons) + max(lons)) / 2, (min(lats) + max(lats)) / 2
    factor = View(0.0, mid_lat, 0.0, mid_lat).lon_factor
    least, most = ASPECT
    if lat_span < least * lon_span * factor:
        lat_span = least * lon_span * factor
    elif lat_span > most * lon_span * factor:
        lon_span = lat_span / (most * factor)
    west, east = _centred(mid_lon, lon_span, -180.0, 180.0)
    south, north = _centred(mid_lat, lat_span, -90.0, 90.0)
    return View(west, south, east, north)


# --- drawing ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Projection:
    view: View
    width: int

    @property
    def scale(self) -> float:  # pixels per degree of latitude
        return self.width / ((self.view.east - self.view.west) * self.view.lon_factor)

    @property
    def height(self) -> float:
        return (self.view.north - self.view.south) * self.scale

    def __call__(self, lon: float, lat: float) -> Point:
        return (
            (lon - self.view.west) * self.view.lon_factor * self.scale,
            (self.view.north - lat) * self.scale,
        )


def _clip_edge(points: list[Point], axis: int, bound: float, below: bool) -> list[Point]:
    """One Sutherland-Hodgman step: the polygon's part on one side of a line."""
    out: list[Point] = []
    if not points:
        return out
    prev = points[-1]
    prev_in = prev[axis] <= bound if below else prev[axis] >= bound
    for cur in points:
        cur_in = cur[axis] <= bound if below else cur[axis] >= bound
        if cur_in != prev_in:
            t = (bound - prev[axis]) / (cur[axis] - prev[axis])
            out.append((prev[0] + t * (cur[0] - prev[0]), prev[1] + t * (cur[1] - prev[1])))
        if cur_in:
            out.append(cur)
        prev, prev_in = cur, cur_in
    return out


def _clip(points: list[Point], width: float, height: float) -> list[Point]:
    """The polygon cut to the map's rectangle, a pixel beyond it so no edge shows."""
    edges = ((0, -1.0, False), (0, width + 1, True), (1, -1.0, False), (1, height + 1, True))
    for axis, bound, below in edges:
        points = _clip_edge(points, axis, bound, below)
    return points


def _thin(points: list[Point]) -> list[tuple[int, int]]:
    """Positions in tenths of a pixel, each at least :data:`TOLERANCE_PX` from the last."""
    kept: list[tuple[int, int]] = []
    last: Point | None = None
    for x, y in points:
        if last is None or math.hypot(x - last[0], y - last[1]) >= TOLERANCE_PX:
            kept.append((round(x * 10), round(y * 10)))
            last = (x, y)
    return kept


def _tenths(value: int) -> str:
    whole, tenth = divmod(abs(value), 10)
    return ("-" if value < 0 else "") + (f"{whole}.{tenth}" if tenth else str(whole))


def _bbox(ring: Ring) -> tuple[float, float, float, float]:
    lons, lats = [lon for lon, _ in ring], [lat for _, lat in ring]
    return min(lons), min(lats), max(lons), max(lats)


def _ring_path(ring: Ring, project: _Projection) -> str:
    """A ring as path data with relative steps, "" when it is under a pixel or off the map."""
    points = [project(lon, lat) for lon, lat in ring[:-1]]
    kept = _thin(_clip(points, project.width, project.height))
    if len(kept) < 3:
        return ""
    (x0, y0), steps = kept[0], []
    for (xa, ya), (xb, yb) in itertools.pairwise(kept):
        steps.append(f"{_tenths(xb - xa)} {_tenths(yb - ya)}")
    return f"M{_tenths(x0)} {_tenths(y0)}l{' '.join(steps)}z"


def _country_path(country: Country, project: _Projection) -> str:
    """Every ring of the country that the view meets; a ring running past the antimeridian
    is also drawn a turn of the globe east or west, where its other part shows."""
    paths = []
    for ring in country.rings:
        west, south, east, north = _bbox(ring)
        for turn in (-360.0, 0.0, 360.0):
            if project.view.meets((west + turn, south, east + turn, north)):
                moved = tuple((lon + turn, lat) for lon, lat in ring) if turn else ring
                paths.append(_ring_path(moved, project))
    return "".join(paths)


def _outlines(project: _Projection) -> list[str]:
    parts = []
    for country in countries():
        west, south, east, north = country.bbox
        if not any(project.view.meets((west + t, south, east + t, north)) for t in (-360, 0, 360)):
            continue
        d = _country_path(country, project)
        if d:
            parts.append(f'<path d="{d}"><title>{escape(country.name)}</title></path>')
    return parts


def _radius(fatalities: int | None, top: int) -> float:
    """Area grows with the deaths: ``R_MIN`` for none, ``R_MAX`` for the most on the map."""
    if not fatalities or top <= 0:
        return R_MIN
    return R_MIN + (R_MAX - R_MIN) * math.sqrt(min(fatalities, top) / top)


def _order(mark: MapMark, top: int) -> tuple[Any, ...]:
    """Largest first (small circles stay on top, clickable); every field breaks ties."""
    size = (-_radius(mark.fatalities, top), -(mark.fatalities or 0))
    rest = (mark.label, mark.level or "", mark.href or "", mark.restricted or ("", ""))
    return (*size, mark.lat, mark.lon, *rest, mark.precision)


def _mark(mark: MapMark, top: int, project: _Projection) -> str:
    x, y = project(mark.lon, mark.lat)
    tip = mark.label + PRECISION_NOTES[mark.precision]
    outline = f'stroke="{INK}" stroke-width="1"'
    classes = "map-mark"
    if mark.restricted:
        badge, note = mark.restricted
        tip += f" [{badge}: {note}]"
        outline = (
            f'stroke="{RESTRICTED_COLOUR}" stroke-width="2" stroke-dasharray="3 2" '
            f'data-hc="{escape(badge)}"'
        )
        classes += " restricted"
    circle = (
        f'<circle class="{classes}" cx="{x:.1f}" cy="{y:.1f}" '
        f'r="{_radius(mark.fatalities, top):.1f}" fill="{LEVEL_COLOURS[mark.level]}" '
        f'fill-opacity="0.9" {outline} data-level="{escape(mark.level or "")}" '
        f'data-precision="{escape(mark.precision)}"><title>{escape(tip)}</title></circle>'
    )
    return f'<a href="{escape(mark.href)}">{circle}</a>' if mark.href else circle


def _nice_floor(value: float) -> int:
    """The largest of 1, 2 or 5 times a power of ten not above ``value`` (0 below 1)."""
    if value < 1:
        return 0
    power = 10 ** math.floor(math.log10(value))
    return int(max(step * power for step in (1, 2, 5) if step * power <= value))


def _size_references(top: int) -> list[int]:
    """Two or three round numbers of deaths, largest first, to read circle sizes by."""
    return sorted({n for n in (_nice_floor(top * q) for q in (1, 0.2, 0.02)) if n}, reverse=True)


def _legend(marks: Sequence[MapMark], top: int, y: float, width: int) -> tuple[list[str], float]:
    """Level swatches on one line, reference circles with their deaths on the next,
    and the outlines' attribution; returns the parts and the legend's height."""
    text = 'font-size="11" fill="#1b1b1b"'
    parts = [f'<g class="map-legend"><text x="8" y="{y + 16:.1f}" {text}>Level:</text>']
    x = 50.0
    shown: list[str | None] = ["critical", "high", "medium", "low"]
    if any(m.level is None for m in marks):
        shown.append(None)
    for level in shown:
        parts.append(
            f'<circle cx="{x + 6:.1f}" cy="{y + 12:.1f}" r="6" fill="{LEVEL_COLOURS[level]}" '
            f'stroke="{INK}"/><text x="{x + 15:.1f}" y="{y + 16:.1f}" {text}>'
            f"{level or 'no level'}</text>"
        )
        x += 30 + 6.5 * len(level or "no level")  # room for the widest glyphs
    if any(m.restricted for m in marks):
        parts.append(
            f'<circle cx="{x + 6:.1f}" cy="{y + 12:.1f}" r="6" fill="#ffffff" '
            f'stroke="{RESTRICTED_COLOUR}" stroke-width="2" stroke-dasharray="3 2"/>'
            f'<text x="{x + 15:.1f}" y="{y + 16:.1f}" {text}>restricted result</text>'
        )
    height = 24.0
    references = _size_references(top)
    if references:
        biggest = _radius(references[0], top)
        base = y + height + 2 * biggest + 2
        parts.append(f'<text x="8" y="{base:.1f}" {text}>Deaths:</text>')
        x = 58.0
        for deaths in references:
            r = _radius(deaths, top)
            parts.append(
                f'<circle cx="{x + r:.1f}" cy="{base - r:.1f}" r="{r:.1f}" fill="none" '
                f'stroke="{INK}"/><text x="{x + 2 * r + 4:.1f}" y="{base:.1f}" {text}>'
                f"{deaths:,}</text>"
            )
            x += 2 * r + 16 + 7 * len(f"{deaths:,}")
        height += 2 * biggest + 8
    parts.append(
        f'<text x="{width - 6}" y="{y + height + 4:.1f}" font-size="9" fill="#555555" '
        'text-anchor="end">Outlines: Natural Earth</text></g>'
    )
    return parts, height + 10


def _description(ordered: Sequence[MapMark], top: int) -> str:
    """One sentence: how many marks, the deadliest, how many are restricted."""
    if not ordered:
        return "No places to mark; the map shows the whole world."
    count = f"{len(ordered)} place{'s' if len(ordered) != 1 else ''} marked"
    deadliest = f"; the deadliest: {ordered[0].label}" if top > 0 else ""
    restricted = sum(1 for m in ordered if m.restricted)
    flagged = (
        f"; {restricted} from restricted results (dashed purple outline)" if restricted else ""
    )
    return f"{count}{deadliest}{flagged}. Circle area grows with deaths; colour is the level."


def world_map(marks: Sequence[MapMark], *, title: str, width: int = 720) -> str:
    """The marks on country outlines as inline SVG, ``width`` pixels wide.

    The view fits the marks (:func:`fit_view`); the result does not depend on the order
    of ``marks``. Raises :class:`OSError` or :class:`ValueError` only if the shipped
    outline file is missing or damaged.
    """
    project = _Projection(fit_view(marks), width)
    top = max([m.fatalities or 0 for m in marks] + [0])
    ordered = sorted(marks, key=lambda m: _order(m, top))
    map_h = project.height
    legend, legend_h = _legend(ordered, top, map_h, width)
    height = math.ceil(map_h + legend_h)
    return "".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" class="chart world-map" role="img" '
            f'aria-label="Map: {escape(title)}" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}">',
            f"<title>{escape(title)}</title><desc>{escape(_description(ordered, top))}</desc>",
            f'<rect width="{width}" height="{map_h:.1f}" fill="{SEA}"/>',
            f'<g class="countries" fill="{LAND}" stroke="{BORDER}" stroke-width="0.6" '
            'stroke-linejoin="round" fill-rule="evenodd">',
            *_outlines(project),
            '</g><g class="map-marks">',
            *(_mark(m, top, project) for m in ordered),
            "</g>",
            *legend,
            "</svg>",
        ]
    )
