"""The analyst's workspace (issue 18) in a real browser (Debian's Chromium driven by
Playwright) on one node holding real data: 2,352 UCDP GED events of Syria, 2016-2017,
ingested by mission, what mission's analyzer found in them, and dpa's spoiler typology
of the groups they name, received from dpa (:mod:`tests.situation_data`).

Checked as an analyst meets it: the map draws one mark per area the hotspots table
places (and the page fits a 1280-pixel window), and a filter (level, admin1) narrows
the marks to the areas that still match; the period selector (two ``type=month``
inputs) bounds every timeline's axis and the findings shown; a hotspot's link opens
its area page (its records per month as held, its findings, each linked to its signed
result's provenance); an actor link opens the actor's page (dpa's typology call,
verified, and the events that name it, per month as held); each download link gives a
file that parses (CSV and XLSX with their HXL hashtag row, GeoJSON points, the JSON
picture), all four telling the same count; the as-of date shows the situation as held
then (nothing before the data came); and axe-core finds no serious or critical WCAG
2.1 AA violation on the three pages.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import openpyxl
import pytest
from playwright.sync_api import Page

from clearinghouse.node.services.exports import COLUMNS
from clearinghouse.node.storage.situation_index import month_range
from clearinghouse.node.ui.charts import months_between
from tests.axe import axe_violations, describe
from tests.browser import launched_chromium, ui_session
from tests.nodes import ServedNode
from tests.situation_data import ACTOR, RealSituation, held_month, served_real_situation

pytestmark = pytest.mark.slow  # as the other browser tests: a real node and a browser

ANALYZERS = {"mission.security-risk", "dpa.spoiler-risk"}
#: The months chosen in the period selector.
PERIOD = ("2017-03", "2017-06")
#: Syria's bounding box: where every exported point must lie.
SYRIA = {"lon": (35.5, 42.5), "lat": (32.3, 37.4)}
MARKS = "svg.world-map circle.map-mark"
HOTSPOTS = "table#hotspots tbody tr"
FINDINGS = "table.findings tbody tr"
NOT_PLACED = "not placed"
#: Whether the page fits the window's width (no sideways scrolling).
FITS = "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"


@dataclass(frozen=True)
class Workspace:
    """The node, what it was filled with, and a browser page signed in as its analyst."""

    node: ServedNode
    real: RealSituation
    page: Page

    def open(self, path: str) -> Page:
        self.page.goto(self.node.url + path)
        self.page.wait_for_selector("main")
        return self.page


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    with (
        served_real_situation(tmp_path_factory.mktemp("situation")) as (node, real),
        launched_chromium() as browser,
        ui_session(browser, node.url, node.handle.tokens["analyst"]) as page,
    ):
        yield Workspace(node, real, page)


# --- reading the pages ------------------------------------------------------------


def cells(page: Page, rows: str) -> list[list[str]]:
    """The text of each cell of the rows ``rows`` selects."""
    found: list[list[str]] = page.eval_on_selector_all(
        rows, "rows => rows.map(r => [...r.cells].map(c => c.textContent.trim()))"
    )
    return found


def marks(page: Page) -> dict[str, str]:
    """The map's marks: the area each names (its label up to the colon) -> its level."""
    found: list[list[str]] = page.eval_on_selector_all(
        MARKS, "cs => cs.map(c => [c.textContent.trim(), c.dataset.level || ''])"
    )
    named = {label.split(":", 1)[0]: level for label, level in found}
    assert len(named) == len(found), f"two marks name one area: {found}"
    return named


def hotspot_name(row: list[str]) -> str:
    """A hotspot row's area as the map names it: "admin1, country" or the country."""
    area, country = row[0], row[1]
    return country if area == "(whole country)" else f"{area}, {country}"


def periods(page: Page) -> list[str]:
    """The period of every finding shown (from each one's details line)."""
    lines: list[str] = page.eval_on_selector_all(
        "table.findings td.finding p.muted", "ps => ps.map(p => p.textContent)"
    )
    return [m.group(1) for line in lines if (m := re.search(r"· period (\S+)", line))]


def overlaps(period: str, first: str, last: str) -> bool:
    start, end = month_range(period)
    return start is not None and end is not None and start <= last and end >= first


def timeline_spans(page: Page) -> list[tuple[str, str]]:
    """The first and last month of each timeline, as its text alternative states them."""
    descs: list[str] = page.eval_on_selector_all(
        "svg.timeline > desc", "ds => ds.map(d => d.textContent)"
    )
    spans = [re.search(r"per month, (\d{4}-\d\d) to (\d{4}-\d\d)", d) for d in descs]
    assert all(spans), descs
    return [(s.group(1), s.group(2)) for s in spans if s]


def axis_months(page: Page) -> list[str]:
    found: list[str] = page.eval_on_selector_all(
        "svg.timeline g.x-axis text", "ts => ts.map(t => t.textContent)"
    )
    return found


def apply(page: Page, **fields: str) -> None:
    """Set the filter form's ``fields`` (``from_`` for ``from``) and apply them."""
    wanted = {name.rstrip("_"): value for name, value in fields.items()}
    form = page.locator("form.filters")
    for name, value in wanted.items():
        field = form.locator(f"[name={name}]")
        if field.evaluate("e => e.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)
    form.locator("button[type=submit]").click()
    page.wait_for_url(lambda url: wanted.items() <= dict(parse_qsl(urlsplit(url).query)).items())
    page.wait_for_selector("main")


def month_table(page: Page, table: str) -> dict[str, dict[str, int]]:
    """A chart's data table: column -> month -> value."""
    rows = cells(page, f"table#{table} tr")
    header, body = rows[0], rows[1:]
    return {
        column: {row[0]: int(row[i].replace(",", "")) for row in body}
        for i, column in enumerate(header)
        if i
    }


def verified_result(page: Page, by: str) -> str:
    """Follow the first finding's "by" link: its result's provenance, verified."""
    link = page.locator(f"{FINDINGS} td:nth-child(4) a", has_text=by).first
    link.click()
    page.wait_for_selector("table#input")
    return page.inner_text("table#result")


# --- the map and the filters ------------------------------------------------------


def test_the_map_marks_each_area_the_hotspots_table_places(workspace: Workspace) -> None:
    page = workspace.open("/ui/situation")
    rows = cells(page, HOTSPOTS)
    placed = {hotspot_name(r): r[4] for r in rows if r[6] != NOT_PLACED}
    drawn = marks(page)
    assert drawn == placed  # one mark per placed area, coloured by its highest level
    governorates = {name.split(", ")[0] for name in drawn} & workspace.real.governorates
    assert len(governorates) >= 5, drawn
    assert str(len(drawn)) in page.inner_text("div.map p.muted")  # "N area(s) placed"
    assert page.evaluate(FITS), "the page is wider than the window"


def test_a_filter_narrows_the_marks_to_the_areas_that_match(workspace: Workspace) -> None:
    page = workspace.open("/ui/situation")
    everything = marks(page)
    apply(page, level="high")
    high = marks(page)
    assert 0 < len(high) < len(everything)
    assert high.keys() == {a for a, level in everything.items() if level in ("high", "critical")}
    assert set(high.values()) <= {"high", "critical"}
    area = next(name for name in high if ", " in name)
    apply(page, admin1=area.split(", ")[0])
    assert marks(page) == {area: high[area]}
    assert [hotspot_name(r) for r in cells(page, HOTSPOTS)] == [area]


def test_the_period_selector_bounds_the_timelines_and_the_findings(
    workspace: Workspace,
) -> None:
    first, last = PERIOD
    page = workspace.open("/ui/situation")
    assert any(not overlaps(p, first, last) for p in periods(page))
    assert timeline_spans(page) and PERIOD not in timeline_spans(page)
    apply(page, from_=first, to=last)
    assert page.input_value("#f-from") == first and page.input_value("#f-to") == last
    spans = timeline_spans(page)
    assert len(spans) == 3 and set(spans) == {PERIOD}, spans  # flags, records, findings
    assert set(axis_months(page)) <= set(months_between(first, last))
    shown = periods(page)
    assert shown and all(overlaps(p, first, last) for p in shown), shown
    assert f"{first} to {last}" in (page.get_attribute("svg.world-map", "aria-label") or "")
    # following an area keeps the period asked
    page.locator(f"{HOTSPOTS} a.area-link").first.click()
    page.wait_for_selector("#area-heading")
    assert timeline_spans(page) == [PERIOD, PERIOD]  # counts, fatalities
    assert all(overlaps(p, first, last) for p in periods(page))


# --- the pages one link away ------------------------------------------------------


def test_a_hotspot_opens_its_area_page(workspace: Workspace) -> None:
    page = workspace.open("/ui/situation")
    row = next(r for r in cells(page, HOTSPOTS) if r[0] != "(whole country)")  # the deadliest
    admin1, findings = row[0], int(row[5])
    page.locator(f"{HOTSPOTS} a.area-link", has_text=admin1).click()
    page.wait_for_selector("#area-heading")
    name = f"{admin1}, {row[1]}"
    assert page.inner_text("#area-heading") == f"Area: {name}"
    assert list(marks(page)) == [name]  # the area's own mark, with its level and size
    # its records per month, as held: the events of the slice there
    held = Counter(
        held_month(e) for e in workspace.real.events if e.get("admin1") == admin1 and held_month(e)
    )
    months = month_table(page, "area-months")
    assert {m: n for m, n in months["records held"].items() if n} == dict(held)
    assert timeline_spans(page) == [(min(held), max(held))] * 2  # counts, fatalities
    # its findings (those of the hotspot row, and the imprecise events counted apart)
    about = cells(page, FINDINGS)
    assert {r[2] for r in about} == {admin1}
    assert len([r for r in about if r[1] != "—"]) == findings
    assert "verified now: Ed25519 signature by mission" in verified_result(page, "mission")


def test_an_actor_link_opens_its_typology_and_events(workspace: Workspace) -> None:
    page = workspace.open("/ui/situation")
    page.locator(f"a.actor-link[href$='name={ACTOR}']").first.click()
    page.wait_for_selector("#actor-heading")
    assert page.inner_text("#actor-heading") == f"Actor: {ACTOR}"
    typology = "table.findings:has(caption:text('Spoiler typology'))"
    calls = cells(page, f"{typology} tbody tr")
    assert calls, page.inner_text("main")[:500]
    assert {r[3] for r in calls} == {"dpa"}
    assert set(page.locator(f"{typology} a.actor-link").all_inner_texts()) == {ACTOR}
    assert set(periods(page)) <= {"2016", "2017"}
    # the events naming it, as held: those of the slice, month by month
    naming = [
        e
        for e in workspace.real.events
        if ACTOR in (e.get("side_a"), e.get("side_b")) and held_month(e)  # imprecise: apart
    ]
    months = month_table(page, "actor-months")
    assert {m: n for m, n in months["events held"].items() if n} == dict(
        Counter(held_month(e) for e in naming)
    )
    assert sum(months["fatalities (best)"].values()) == sum(e["deaths"]["best"] for e in naming)
    events = cells(page, "table#actor-events tbody tr")
    assert events and all(ACTOR in (r[4], r[5]) for r in events)
    linked = page.locator("table#actor-events a.area-link").all_inner_texts()
    assert linked == [r[2] or r[1] for r in events]  # each names the area it opens
    assert "verified now: Ed25519 signature by dpa" in verified_result(page, "dpa")


# --- downloads --------------------------------------------------------------------


def expected_rows(page: Page) -> int:
    """Findings held, as the contributors table counts them (their latest versions)."""
    return sum(int(r[3].replace(",", "")) for r in cells(page, "table#contributors tbody tr"))


def parse_csv(path: Path, rows: int) -> None:
    header, hashtags, *data = csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig")))
    assert header == [c.name for c in COLUMNS]
    assert all(tag.startswith("#") for tag in hashtags), hashtags
    assert {"#adm1+name", "#affected+killed", "#meta+result+id"} <= set(hashtags)
    assert len(data) == rows
    assert {r[header.index("analyzer")] for r in data} == ANALYZERS


def parse_xlsx(path: Path, rows: int) -> None:
    book = openpyxl.load_workbook(path, read_only=True)
    try:
        header, hashtags, *data = book["situation"].iter_rows(values_only=True)
    finally:
        book.close()
    assert list(header) == [c.name for c in COLUMNS]
    assert list(hashtags) == [c.hxl for c in COLUMNS]
    assert len(data) == rows


def parse_geojson(path: Path, rows: int) -> None:
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc["type"] == "FeatureCollection" and doc["features"]
    for feature in doc["features"]:
        assert feature["type"] == "Feature" and feature["geometry"]["type"] == "Point"
        lon, lat = feature["geometry"]["coordinates"]
        assert SYRIA["lon"][0] < lon < SYRIA["lon"][1] and SYRIA["lat"][0] < lat < SYRIA["lat"][1]
        properties = feature["properties"]
        for name in ("result_jti", "participant", "analyzer", "analyzer_version"):
            assert properties[name], (name, properties)
    summary = doc["clearinghouse"]
    assert summary["located"] == len(doc["features"])
    assert summary["located"] + summary["unlocated"] == rows


def parse_json(path: Path, rows: int) -> None:
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert {a["analyzer"] for a in doc["analyzers"]} == ANALYZERS
    findings = [f for area in doc["areas"] for f in area["findings"]]
    assert len(findings) == rows
    assert all(f["result"]["jti"] and f["input"]["jti"] for f in findings)


PARSERS = {"csv": parse_csv, "xlsx": parse_xlsx, "geojson": parse_geojson, "json": parse_json}


def download(page: Page, link: str, folder: Path) -> Path:
    """Click the download link ``link`` selects; the file the browser saved."""
    with page.expect_download() as started:
        page.click(link)
    got = started.value
    if (failure := got.failure()) is not None:
        answer = page.request.get(got.url)  # the same link, with the session's cookie
        pytest.fail(
            f"the page's download link {page.get_attribute(link, 'href')} gave no file "
            f"({failure}): fetched in the signed-in session it answers {answer.status} "
            f"{answer.text()[:300]}",
            pytrace=False,
        )
    path = folder / got.suggested_filename
    got.save_as(path)
    return path


@pytest.mark.parametrize("fmt", PARSERS)
def test_each_download_gives_a_file_that_parses(
    workspace: Workspace, tmp_path: Path, fmt: str
) -> None:
    page = workspace.open("/ui/situation")
    rows = expected_rows(page)
    assert rows > 0
    path = download(page, f"#downloads a[href*='format={fmt}']", tmp_path)
    PARSERS[fmt](path, rows)


# --- as of, and accessibility -----------------------------------------------------


def test_as_of_shows_the_situation_as_held_then(workspace: Workspace) -> None:
    page = workspace.open("/ui/situation")
    drawn, findings = marks(page), cells(page, FINDINGS)
    today = datetime.now(UTC).date()
    apply(page, as_of=(today - timedelta(days=1)).isoformat())  # before the data came
    assert page.is_visible("#as-of-note")
    assert marks(page) == {} and cells(page, FINDINGS) == []
    assert cells(page, "table#contributors tbody tr") == []
    apply(page, as_of=today.isoformat())
    assert marks(page) == drawn and cells(page, FINDINGS) == findings


def open_area(workspace: Workspace) -> Page:
    page = workspace.open("/ui/situation")
    page.locator(f"{HOTSPOTS} a.area-link").first.click()
    page.wait_for_selector("#area-heading")
    return page


SCREENS: dict[str, Callable[[Workspace], Page]] = {
    "situation": lambda w: w.open("/ui/situation"),
    "area": open_area,
    "actor": lambda w: w.open(f"/ui/actors?name={ACTOR}"),
}


@pytest.mark.parametrize("screen", SCREENS)
def test_axe_finds_no_serious_violation(workspace: Workspace, screen: str) -> None:
    page: Page = SCREENS[screen](workspace)
    violations = axe_violations(page)
    assert violations == [], f"{screen} ({page.url}):\n{describe(violations)}"
