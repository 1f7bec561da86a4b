"""The situation page's map (issue 18, "A map"): outlines decoded from the shipped
TopoJSON, a view fitted to the marks, and marks an analyst can read, follow and trust.
"""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET

import pytest

from clearinghouse.node.ui.charts import LEVEL_COLOURS, RESTRICTED_COLOUR, contrast_ratio
from clearinghouse.node.ui.worldmap import (
    BORDER,
    INK,
    LAND,
    MIN_SPAN,
    OUTLINES,
    SEA,
    WORLD,
    MapMark,
    countries,
    fit_view,
    world_map,
)

SVG = "{http://www.w3.org/2000/svg}"
ALEPPO = MapMark(
    36.2,
    37.15,
    "Aleppo Governorate, Syria, 2016-08: critical, 1,234 deaths",
    "critical",
    1234,
    "/ui/area?country=Syria&admin1=Aleppo Governorate",
)
DAMASCUS = MapMark(
    33.5,
    36.3,
    "Damascus, Syria, 2016-08: high, 300 deaths",
    "high",
    300,
    None,
    ("H3", "H3: not for use in sanctions designations"),
    "cell",
)
HAMA = MapMark(35.1, 36.75, "Hama <Governorate> & co", "low", 0, precision="country")
DEIR = MapMark(35.3, 40.1, "Deir ez-Zor Governorate", "medium", None, '/ui/area?x="1"')
IDLIB = MapMark(35.9, 36.6, "Idlib Governorate", None, 40)
SYRIA_MARKS = [ALEPPO, DAMASCUS, HAMA, DEIR, IDLIB]


def _svg(markup: str) -> ET.Element:
    return ET.fromstring(markup)


def _marks(root: ET.Element) -> list[ET.Element]:
    return [c for c in root.iter(f"{SVG}circle") if "map-mark" in c.get("class", "")]


def _country(name: str) -> tuple[float, float, float, float]:
    (found,) = [c for c in countries() if c.name == name]
    return found.bbox


# --- decoding ----------------------------------------------------------------------


def test_the_shipped_outlines_decode_to_known_countries() -> None:
    west, south, east, north = _country("Syria")
    assert (west, south, east, north) == pytest.approx((35.7, 32.3, 42.4, 37.3), abs=0.1)
    west, south, east, north = _country("France")  # with overseas parts (French Guiana)
    assert west < -50 and east > 9 and north > 51
    assert len(countries()) > 200
    assert countries() is countries()  # decoded once
    assert all(ring[0] == ring[-1] for c in countries() for ring in c.rings)


def test_the_outlines_ship_with_the_package_and_their_sources() -> None:
    folder = OUTLINES.parent
    assert OUTLINES.is_file()
    readme = (folder / "README.md").read_text()
    assert "world-atlas" in readme and "2.0.2" in readme and "Made with Natural Earth" in readme
    assert "ISC" in readme and "public domain" in readme
    licence = (folder / "LICENSE-world-atlas").read_text()
    assert licence.startswith("Copyright 2013-2019 Michael Bostock")


def test_rings_across_the_antimeridian_are_made_continuous() -> None:
    for country in countries():
        for ring in country.rings:
            for a, b in itertools.pairwise(ring):  # a long step only along a pole
                assert abs(a[0] - b[0]) <= 180 or abs(a[1]) == abs(b[1]) == 90, country.name
    # Antarctica's rings around the pole are closed along it.
    (antarctica,) = [c for c in countries() if c.name == "Antarctica"]
    assert any(lat == -90.0 for ring in antarctica.rings for _, lat in ring)
    # Fiji straddles 180°: a map at Fiji draws it, and no band crosses the world map.
    fiji = world_map([MapMark(-17.8, 178.0, "Fiji", "low", 1)], title="Fiji")
    assert "<title>Fiji</title></path>" in fiji


# --- the view ------------------------------------------------------------------------


def test_the_view_fits_every_mark_with_room_around_it() -> None:
    view = fit_view(SYRIA_MARKS)
    for mark in SYRIA_MARKS:
        assert view.west + 1 < mark.lon < view.east - 1
        assert view.south + 1 < mark.lat < view.north - 1
    assert view.north - view.south >= MIN_SPAN and view.east - view.west >= MIN_SPAN
    assert view.east - view.west < 30  # a country, not a continent

    root = _svg(world_map(SYRIA_MARKS, title="Syria"))
    _, _, width, _ = (float(v) for v in root.get("viewBox", "").split())
    (sea,) = [r for r in root.iter(f"{SVG}rect") if r.get("fill") == SEA]
    for circle in _marks(root):
        assert 0 < float(circle.get("cx", "-1")) < width
        assert 0 < float(circle.get("cy", "-1")) < float(sea.get("height", "0"))


def test_one_mark_still_shows_its_region() -> None:
    view = fit_view([ALEPPO])
    assert view.north - view.south >= MIN_SPAN
    assert view.west < ALEPPO.lon < view.east and view.south < ALEPPO.lat < view.north


def test_with_no_marks_the_map_shows_the_world() -> None:
    assert fit_view([]) == WORLD
    markup = world_map([], title="Nothing yet")
    root = _svg(markup)
    drawn = {t.text for p in root.iter(f"{SVG}path") for t in p.iter(f"{SVG}title")}
    assert {"Brazil", "Australia", "Canada", "Russia", "South Africa", "Japan"} <= drawn
    assert _marks(root) == []
    assert "No places to mark" in (root.findtext(f"{SVG}desc") or "")
    assert len(markup) < 200_000


# --- the marks -------------------------------------------------------------------------


def test_marks_carry_level_precision_and_escaped_links() -> None:
    markup = world_map(SYRIA_MARKS, title="Syria, 2016-08")
    assert 'href="/ui/area?country=Syria&amp;admin1=Aleppo Governorate"' in markup
    assert 'href="/ui/area?x=&quot;1&quot;"' in markup
    assert "Hama &lt;Governorate&gt; &amp; co" in markup and "<Governorate>" not in markup
    root = _svg(markup)
    circles = _marks(root)
    assert len(circles) == len(SYRIA_MARKS)
    by_tip = {c.findtext(f"{SVG}title", "").split(",")[0].split(" (")[0]: c for c in circles}
    aleppo = by_tip["Aleppo Governorate"]
    assert aleppo.get("data-level") == "critical"
    assert aleppo.get("data-precision") == "coordinates"
    assert aleppo.get("fill") == LEVEL_COLOURS["critical"]
    assert by_tip["Idlib Governorate"].get("data-level") == ""
    assert by_tip["Hama <Governorate> & co"].get("data-precision") == "country"
    assert "centre of the country" in by_tip["Hama <Governorate> & co"].findtext(f"{SVG}title", "")
    links = {a.get("href") for a in root.iter(f"{SVG}a")}
    assert links == {ALEPPO.href, DEIR.href}


def test_circles_grow_with_deaths_and_the_largest_is_drawn_first() -> None:
    root = _svg(world_map(SYRIA_MARKS, title="Syria"))
    radii = [float(c.get("r", "0")) for c in _marks(root)]
    assert radii == sorted(radii, reverse=True)
    tips = [c.findtext(f"{SVG}title", "") for c in _marks(root)]
    assert tips[0].startswith("Aleppo") and tips[1].startswith("Damascus")
    assert min(radii) >= 3 and max(radii) <= 25
    # Area follows deaths: 300 is about half the radius of 1,234 above the minimum.
    aleppo, damascus = radii[0], radii[1]
    assert 0.4 < (damascus - min(radii)) / (aleppo - min(radii)) < 0.6


def test_the_order_of_the_marks_does_not_change_the_map() -> None:
    first = world_map(SYRIA_MARKS, title="Syria")
    for order in itertools.islice(itertools.permutations(SYRIA_MARKS), 1, 30, 7):
        assert world_map(list(order), title="Syria") == first
    twins = [
        MapMark(35.0, 38.0, "B", "low", 5),
        MapMark(35.0, 38.0, "A", "low", 5),
    ]
    assert world_map(twins, title="t") == world_map(twins[::-1], title="t")


def test_a_restricted_mark_is_outlined_and_names_its_restriction() -> None:
    root = _svg(world_map(SYRIA_MARKS, title="Syria"))
    (flagged,) = [c for c in _marks(root) if "restricted" in c.get("class", "")]
    assert flagged.get("stroke") == RESTRICTED_COLOUR
    assert flagged.get("stroke-dasharray")
    assert flagged.get("data-hc") == "H3"
    assert "[H3: H3: not for use in sanctions designations]" in flagged.findtext(f"{SVG}title", "")
    others = [c for c in _marks(root) if c is not flagged]
    assert all(c.get("stroke") == INK and not c.get("stroke-dasharray") for c in others)


def test_marks_and_outlines_stand_out_from_land_and_sea() -> None:  # WCAG 1.4.11
    for ground in (LAND, SEA):
        assert contrast_ratio(INK, ground) >= 3
        assert contrast_ratio(RESTRICTED_COLOUR, ground) >= 3
        assert contrast_ratio(BORDER, ground) >= 3


def test_the_map_is_accessible_self_contained_and_attributed() -> None:
    markup = world_map(SYRIA_MARKS, title="Syria & neighbours")
    root = _svg(markup)
    assert root.get("role") == "img"
    assert root.get("aria-label") == "Map: Syria & neighbours"
    assert "world-map" in root.get("class", "")
    assert root.findtext(f"{SVG}title") == "Syria & neighbours"
    desc = root.findtext(f"{SVG}desc") or ""
    assert desc.startswith("5 places marked; the deadliest: Aleppo Governorate, Syria, 2016-08")
    assert "1 from restricted results" in desc
    assert "style=" not in markup and "<script" not in markup.lower()
    assert "http" not in markup.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert any(t.text == "Outlines: Natural Earth" for t in root.iter(f"{SVG}text"))
    legend = " ".join(t.text or "" for t in root.iter(f"{SVG}text"))
    assert "critical" in legend and "1,000" in legend and "restricted" in legend


def test_a_region_s_map_stays_small() -> None:
    assert len(world_map(SYRIA_MARKS, title="Syria")) < 60_000
    wide = [ALEPPO, MapMark(4.6, -74.1, "Bogotá", "high", 12), MapMark(-4.3, 15.3, "Kinshasa")]
    assert len(world_map(wide, title="Three continents")) < 200_000


@pytest.mark.parametrize(
    "bad",
    [
        {"lat": 91.0, "lon": 0.0},
        {"lat": 0.0, "lon": 181.0},
        {"lat": 0.0, "lon": 0.0, "level": "severe"},
        {"lat": 0.0, "lon": 0.0, "precision": "guess"},
    ],
)
def test_a_mark_that_cannot_be_drawn_is_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        MapMark(label="x", **bad)  # type: ignore[arg-type]
