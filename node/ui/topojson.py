"""TopoJSON decoding (https://github.com/topojson/topojson-specification), enough for
country outlines: quantized, delta-encoded arcs and Polygon / MultiPolygon geometries.

* A quantized topology's arcs hold integer positions, each but the first a difference
  from the one before (§2.2.1); the ``transform``'s ``scale`` and ``translate`` map them
  back to longitude and latitude (§2.1.2). Without a transform positions are absolute.
* A polygon is a list of rings and a ring a list of arc indexes; a negative index
  ``~i`` (that is ``-i - 1``) means arc ``i`` reversed, and each arc starts where the one
  before it ended, so that shared position is kept once (§2.1.4, §2.2).
* Beyond the specification: world-atlas stitches Natural Earth's cuts at the
  antimeridian, so a ring may jump from 180° to -180°; :func:`unwrap_ring` makes such a
  ring continuous so that a flat map can draw it.

Pure: JSON in, outlines out; :mod:`clearinghouse.node.ui.worldmap` reads the shipped file.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Country",
    "Point",
    "Ring",
    "decode_arcs",
    "read_countries",
    "stitch_ring",
    "unwrap_ring",
]

Point = tuple[float, float]
Ring = tuple[Point, ...]


@dataclass(frozen=True)
class Country:
    """One country's outline in degrees: ``rings`` are closed (lon, lat) rings, outer
    rings and holes together (drawn with the even-odd rule)."""

    name: str
    code: str  # ISO 3166-1 numeric, as world-atlas gives it; "" where it has none
    rings: tuple[Ring, ...]
    bbox: tuple[float, float, float, float]  # west, south, east, north


def decode_arcs(topology: Mapping[str, Any]) -> list[list[Point]]:
    """The topology's arcs as positions in degrees (§2.2.1: delta-decode, then transform)."""
    transform = topology.get("transform")
    if transform is None:  # not quantized: positions are absolute already
        return [[(float(x), float(y)) for x, y, *_ in arc] for arc in topology["arcs"]]
    (sx, sy), (tx, ty) = transform["scale"], transform["translate"]
    arcs = []
    for arc in topology["arcs"]:
        x = y = 0
        points = []
        for dx, dy, *_ in arc:
            x, y = x + dx, y + dy
            points.append((x * sx + tx, y * sy + ty))
        arcs.append(points)
    return arcs


def stitch_ring(arcs: Sequence[Sequence[Point]], indexes: Iterable[int]) -> Ring:
    """One ring from its arc indexes (§2.1.4: ``~i`` is arc ``i`` reversed; each arc
    after the first starts where the previous one ended, so that position is skipped)."""
    ring: list[Point] = []
    for index in indexes:
        arc = arcs[index] if index >= 0 else arcs[~index][::-1]
        ring.extend(arc[1:] if ring else arc)
    return tuple(ring)


def unwrap_ring(ring: Ring) -> Ring:
    """The ring with longitudes made continuous where it crosses the antimeridian
    (world-atlas stitches Natural Earth's cuts there: Russia's east, Fiji), so that it
    may run past 180°; a ring around a pole (Antarctica) is closed along the pole."""
    if not ring:
        return ring
    out, offset = [ring[0]], 0.0
    for (lon_a, _), (lon_b, lat_b) in itertools.pairwise(ring):
        if lon_b - lon_a > 180:
            offset -= 360
        elif lon_b - lon_a < -180:
            offset += 360
        out.append((lon_b + offset, lat_b))
    if offset:
        pole = -90.0 if sum(lat for _, lat in ring) < 0 else 90.0
        (lon_0, lat_0), (lon_n, _) = out[0], out[-1]
        out += [(lon_n, pole), (lon_0, pole), (lon_0, lat_0)]
    return tuple(out)


def _polygons(geometry: Mapping[str, Any]) -> list[list[list[int]]]:
    kind = geometry.get("type")
    if kind == "Polygon":
        return [geometry["arcs"]]
    if kind == "MultiPolygon":
        return list(geometry["arcs"])
    return []  # a null geometry has no outline to draw


def read_countries(topology: Mapping[str, Any], name: str = "countries") -> tuple[Country, ...]:
    """Every geometry of the collection ``name`` with an outline, sorted by name.

    Raises :class:`KeyError` or :class:`TypeError` for a topology without that collection
    or with malformed arcs; the shipped file has neither.
    """
    arcs = decode_arcs(topology)
    out = []
    for geometry in topology["objects"][name]["geometries"]:
        rings = tuple(
            unwrap_ring(stitch_ring(arcs, ring))
            for polygon in _polygons(geometry)
            for ring in polygon
        )
        if not rings:
            continue
        lons = [lon for ring in rings for lon, _ in ring]
        lats = [lat for ring in rings for _, lat in ring]
        label = str(geometry.get("properties", {}).get("name", ""))
        bbox = (min(lons), min(lats), max(lons), max(lats))
        out.append(Country(label, str(geometry.get("id", "")), rings, bbox))
    return tuple(sorted(out, key=lambda c: (c.name, c.code)))
