"""``/v1/situation`` exports and the workspace's filters and drill-down pages.

One mission node served on loopback in this process (no workers), filled with the mixed
situation of ``tests/node/_situation_support.py`` (events in four governorates, H0 to
H3) and a dpa typology finding about the events' side A. Exports are parsed with the
csv module, openpyxl and json; pages are read as HTML."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import openpyxl
import pytest

from tests.node._situation_support import (
    H3_AREA,
    QUIET_AREA,
    RESTRICTION,
    SituationNode,
    served_situation,
)

ACTOR = "Syrian insurgents"  # side A of every event loaded
TYPOLOGY = {
    "kind": "spoiler-typology",
    "subject": ACTOR,
    "country": "Syria",
    "period": "2016",
    "level": "high",
    "explanation": "predatory: hostile to a government, rent narratives",
    "indicators": {"call": "predatory", "confidence": "medium"},
}


Node = SituationNode


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    with served_situation(
        tmp_path_factory.mktemp("exports"),
        TYPOLOGY,
        input_jti="01937a2e-5c40-7b1d-9e3f-2a4b6c8d0e3b",
    ) as node:
        yield node


def json_findings(node: Node, **params: str) -> list[dict[str, object]]:
    response = node.get("/v1/situation", **params)
    assert response.status_code == 200, response.text
    return [f for a in response.json()["areas"] for f in a["findings"]]


def test_csv_has_an_hxl_row_and_one_line_per_finding(node: Node) -> None:
    response = node.get("/v1/situation", format="csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    header, tags, *data = rows
    assert all(tag.startswith("#") for tag in tags)
    named = dict(zip(header, tags, strict=True))
    assert "#adm1+name" in tags and "#affected+killed" in tags and "#date" in tags
    assert len(data) == len(json_findings(node))
    by = [dict(zip(header, r, strict=True)) for r in data]
    jti = next(h for h, t in named.items() if t == "#meta+result+id")
    assert {r[jti] for r in by} == {f["result"]["jti"] for f in json_findings(node)}  # type: ignore[index]
    restricted = [r for r in by if H3_AREA in r.values()]
    assert restricted and all(RESTRICTION in r.values() for r in restricted)


def test_the_filters_apply_to_every_format(node: Node) -> None:
    quiet = json_findings(node, admin1=QUIET_AREA)
    assert quiet and all(f["admin1"] == QUIET_AREA for f in quiet)
    lines = node.get("/v1/situation", format="csv", admin1=QUIET_AREA).content.decode()
    assert len(list(csv.reader(io.StringIO(lines)))) == 2 + len(quiet)
    geo = node.get("/v1/situation", format="geojson", admin1=QUIET_AREA).json()
    assert {f["properties"]["admin1"] for f in geo["features"]} == {QUIET_AREA}
    critical = json_findings(node, level="critical")
    assert all(f["level"] == "critical" for f in critical)
    h3 = json_findings(node, hc="H3")
    assert h3 and all(f["handling"]["hc"] == "H3" for f in h3)  # type: ignore[index]
    assert json_findings(node, **{"from": "2016-02", "to": "2016-02"})
    assert all(
        f["period"] in ("2016-02", "2016")
        for f in json_findings(node, **{"from": "2016-02", "to": "2016-02"})
    )


def test_geojson_holds_the_located_findings_with_provenance(node: Node) -> None:
    response = node.get("/v1/situation", format="geojson")
    assert response.headers["content-type"] == "application/geo+json"
    collection = json.loads(response.content)
    assert collection["type"] == "FeatureCollection" and collection["features"]
    for feature in collection["features"]:
        assert feature["geometry"]["type"] == "Point"
        lon, lat = feature["geometry"]["coordinates"]
        assert 35 < lon < 43 and 32 < lat < 38  # Syria, [lon, lat] order
        props = feature["properties"]
        assert props["participant"] and props["analyzer"] and props["analyzer_version"]
        assert re.fullmatch(r"[0-9a-f-]{36}", props["result_jti"])
    about = collection["clearinghouse"]
    assert about["provenance"]["node"] == "mission"
    assert about["located"] == len(collection["features"])


def test_the_xlsx_opens_with_two_header_rows(node: Node) -> None:
    response = node.get("/v1/situation", format="xlsx", role="auditor")
    assert response.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(response.content), read_only=True)
    sheet = book["situation"]
    header, tags, *data = list(sheet.iter_rows(values_only=True))
    assert "admin1" in header and "#adm1+name" in tags
    assert len(data) == len(json_findings(node))
    assert "about" in book.sheetnames


def test_exports_are_for_analysts_and_auditors_only(node: Node) -> None:
    assert node.get("/v1/situation", format="csv", role="submitter").status_code == 403
    bad = node.get("/v1/situation", format="pdf")
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"
    backwards = node.get("/v1/situation", **{"from": "2017-01", "to": "2016-01"})
    assert backwards.status_code == 422 and "after" in backwards.json()["detail"]


def test_json_is_paged_by_area_and_period(node: Node) -> None:
    everything = node.get("/v1/situation").json()
    groups = len(everything["areas"])
    assert groups > 2 and everything["page"]["next"] is None
    seen, offset = [], 0
    while offset is not None:
        page = node.get("/v1/situation", limit="2", offset=str(offset)).json()
        seen += page["areas"]
        offset = page["page"]["next"]
    assert seen == everything["areas"]


def test_as_of_shows_the_situation_as_held_then(node: Node) -> None:
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    assert json_findings(node, as_of=yesterday) == []
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    assert json_findings(node, as_of=tomorrow) == json_findings(node)
    page = node.page("/ui/situation", as_of=yesterday)
    assert 'id="as-of-note"' in page and "No analysis results match" in page


def links(page: str, kind: str) -> list[str]:
    return [
        m.replace("&amp;", "&") for m in re.findall(rf'class="{kind}-link" href="([^"]+)"', page)
    ]


def test_every_area_mentioned_links_to_its_page(node: Node) -> None:
    page = node.page("/ui/situation", level="medium")
    areas = links(page, "area")
    assert areas
    for link in set(areas):
        query = parse_qs(urlsplit(link).query)
        assert urlsplit(link).path == "/ui/areas" and query["level"] == ["medium"]
        area = node.page(link)
        assert "Every finding about" in area
    aleppo = node.page("/ui/areas", country="Syria", admin1=H3_AREA)
    assert 'class="chart timeline"' in aleppo or "<svg" in aleppo
    assert RESTRICTION not in aleppo and 'data-hc="H3"' in aleppo


def test_an_actor_page_shows_its_typology_and_the_events_naming_it(node: Node) -> None:
    page = node.page("/ui/situation")
    assert f"/ui/actors?name={ACTOR.replace(' ', '+')}" in links(page, "actor")
    actor = node.page("/ui/actors", name=ACTOR)
    assert "Typology call per period" in actor and "predatory" in actor
    events = re.findall(r"<tr[^>]*>.*?</tr>", actor.split('id="actor-events"', 1)[1], re.S)
    assert len(events) > 1  # a header and the events
    assert "No sanctions hit names" in actor


def test_bad_filters_are_refused_with_a_problem(node: Node) -> None:
    for params, word in (
        ({"from": "2016-13"}, "month"),
        ({"as_of": "yesterday"}, "date"),
        ({"level": "severe"}, "level"),
    ):
        response = node.get("/ui/situation", **params)
        assert response.status_code == 422, params
        assert response.headers["content-type"] == "application/problem+json"
        assert word in response.text
    assert node.get("/ui/areas").status_code == 422  # which area?
