"""Restricted items on the situation: ``/v1/situation`` carries each finding's handling,
``/ui/situation`` marks every row drawn from a restricted result with a badge and the
restriction (tooltip and text), ``/ui/results/{jti}`` and ``/v1/local/packets`` show a
packet's handling and pseudonym epoch. One mission node served on loopback in this
process (no workers); the test fills it (see ``tests/node/_situation_support.py``).

Readable findings (issue 18): every finding shows a one-line headline over its folded
explanation and indicators, numbers formatted, and a legend of the levels shown. A
peer's finding about Idlib carries markup and large numbers, to see both escaped and
formatted."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import pytest
from markupsafe import escape

from clearinghouse.node.keyfiles import read_pseudonym_key
from clearinghouse.node.services.situation import fused_findings
from clearinghouse.node.ui.headlines import headline, kind_label
from clearinghouse.protocol.packet import HANDLING_MEANINGS
from tests.node._situation_support import (
    H2_AREA,
    H3_AREA,
    QUIET_AREA,
    RESTRICTION,
    SituationNode,
    served_situation,
)

ESCAPED = str(escape(RESTRICTION))  # as Jinja escapes it
MARKUP_AREA = "Idlib Governorate"
SCRIPT = '<script>alert("finding")</script>'
#: A peer's finding whose words carry markup and whose indicators carry large numbers.
MARKUP_FINDING = {
    "kind": "spoiler-typology",
    "subject": f"group {SCRIPT}",
    "country": "Syria",
    "admin1": MARKUP_AREA,
    "period": "2016-02",
    "level": "high",
    "explanation": f"predatory: {SCRIPT} & more",
    "indicators": {
        "call": "predatory",
        "confidence": "medium",
        "events": 1234567,
        "deaths_per_event": 3.14159,
        "note": SCRIPT,
    },
}


Node = SituationNode


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    with served_situation(
        tmp_path_factory.mktemp("ui-situation"),
        MARKUP_FINDING,
        input_jti="01937a2e-5c40-7b1d-9e3f-2a4b6c8d0e2a",
    ) as node:
        yield node


def table_rows(page: str, table_id: str) -> list[str]:
    """The body rows (``<tr ...>...</tr>``) of the table with ``id`` or ``data-analyzer``."""
    match = re.search(
        rf'<table (?:id|class="findings" data-analyzer)="{table_id}".*?</table>', page, re.S
    )
    assert match, f"no table {table_id}"
    return re.findall(r"<tr[^>]*>.*?</tr>", match.group(0), re.S)[1:]


def test_the_situation_json_carries_handling(node: Node) -> None:
    response = node.api("/v1/situation")
    assert response.status_code == 200
    findings = [(a, f) for a in response.json()["areas"] for f in a["findings"]]
    assert findings
    for area, finding in findings:
        handling = finding["handling"]
        if area["admin1"] == H3_AREA:
            assert handling == {"hc": "H3", "restricted": True, "restriction": RESTRICTION}
        elif area["admin1"] == QUIET_AREA:
            assert handling == {"hc": "H0", "restricted": False, "restriction": None}
    only_quiet = node.api("/v1/situation", admin1=QUIET_AREA).json()
    assert all(
        f["handling"]["hc"] == "H0" and f["handling"]["restriction"] is None
        for a in only_quiet["areas"]
        for f in a["findings"]
    )


def test_the_situation_page_marks_restricted_rows_with_badge_and_text(node: Node) -> None:
    page = node.page("/ui/situation")
    assert 'id="restricted-legend"' in page
    rows = table_rows(page, "hotspots")
    h3 = [r for r in rows if H3_AREA in r]
    h2 = [r for r in rows if H2_AREA in r]
    quiet = [r for r in rows if QUIET_AREA in r]
    assert h3 and h2 and quiet
    for row in h3:
        assert row.startswith(f'<tr class="restricted" data-hc="H3" title="H3: {ESCAPED}">')
        assert f'<span class="hc" title="H3: {ESCAPED}">H3</span>' in row  # badge + tooltip
        assert f'<span class="hc-text">{ESCAPED}</span>' in row  # and the text in the row
    for row in h2:
        assert 'data-hc="H2"' in row and HANDLING_MEANINGS["H2"] in row
    for row in quiet:
        assert row.startswith("<tr><td>") and 'class="hc' not in row and "restricted" not in row
    findings = table_rows(page, "mission.security-risk")
    assert any(f'title="H3: {ESCAPED}"' in r for r in findings if H3_AREA in r)
    assert all('class="hc' not in r for r in findings if QUIET_AREA in r)
    # Charts and the map: the H3 bars and the H3 area's mark carry the badge.
    assert '<g class="restricted" data-hc="H3">' in page
    assert re.search(r'<circle class="map-mark restricted" [^>]*data-hc="H3"', page)
    # Agreement: Homs mixes mission's H0 finding with dpa's H1 one.
    agreement = table_rows(page, "agreement")
    h1 = str(escape(HANDLING_MEANINGS["H1"]))
    assert any('data-hc="H1"' in r and f'<span class="hc-text">{h1}</span>' in r for r in agreement)
    # The restriction is text, never markup, and the page gains no script.
    assert RESTRICTION not in page and "<b>protected</b>" not in page
    assert (
        "<script" not in page
        and " style=" not in page.split("</head>", 1)[1].split("<footer", 1)[0]
    )


def test_a_page_of_unrestricted_items_shows_no_badge(node: Node) -> None:
    page = node.page("/ui/situation", admin1=QUIET_AREA)
    assert table_rows(page, "hotspots")
    body = page.split("<main>", 1)[1].split("</form>", 1)[1]  # after the filters' choices
    assert 'class="hc' not in body and "restricted" not in body and "H3" not in body


def test_the_result_page_shows_handling_and_the_inputs_epoch(node: Node) -> None:
    finding = next(iter(fused_findings(node.ctx, admin1=H3_AREA)))
    page = node.page(f"/ui/results/{finding.result_jti}")
    (result_row,) = re.findall(r'<tr id="result-handling".*?</tr>', page, re.S)
    assert f'title="H3: {ESCAPED}"' in result_row and ESCAPED in result_row
    epoch = read_pseudonym_key(node.fed.root / "keys" / "pseudonym.key").epoch
    (epoch_row,) = re.findall(r'<tr id="input-epoch".*?</tr>', page, re.S)
    assert f"<code>{epoch}</code>" in epoch_row
    (input_row,) = re.findall(r'<tr id="input-handling".*?</tr>', page, re.S)
    assert "H3" in input_row and ESCAPED in input_row
    quiet = next(iter(fused_findings(node.ctx, admin1=QUIET_AREA)))
    calm = node.page(f"/ui/results/{quiet.result_jti}")
    (calm_row,) = re.findall(r'<tr id="result-handling".*?</tr>', calm, re.S)
    assert "restricted" not in calm_row and "H0 (no restriction)" in calm_row


def test_the_packet_listing_shows_handling_and_epoch(node: Node) -> None:
    response = node.api("/v1/local/packets", schema="conflict-event/1", limit="100")
    items = response.json()["items"]
    epoch = read_pseudonym_key(node.fed.root / "keys" / "pseudonym.key").epoch
    assert items and all(i["pse"] == epoch for i in items)
    h3 = [i for i in items if i["claims"].get("admin1") == H3_AREA]
    assert h3 and all((i["hc"], i["hcr"]) == ("H3", RESTRICTION) for i in h3)
    results = node.api("/v1/local/packets", schema="analysis-result/1").json()["items"]
    assert results and all(i["pse"] is None for i in results)


def finding_tables(page: str) -> dict[str, list[str]]:
    """Per analyzer, the body rows of its findings table."""
    analyzers = re.findall(r'<table class="findings" data-analyzer="([^"]+)"', page)
    return {a: table_rows(page, a) for a in analyzers}


def summary_of(row: str) -> str:
    """The headline of a finding row, unescaped; the row must fold its details under it."""
    match = re.search(r"<details><summary>(.*?)</summary>(.*?)</details>", row, re.S)
    assert match, row
    assert 'class="explanation"' in match.group(2)
    return html.unescape(match.group(1))


def test_every_finding_has_a_headline_over_its_explanation(node: Node) -> None:
    page = node.page("/ui/situation")
    tables = finding_tables(page)
    assert set(tables) == {"mission.security-risk", "dpa.spoiler-risk"}
    shown = {summary_of(row) for rows in tables.values() for row in rows}
    assert len(shown) == sum(len(rows) for rows in tables.values())
    fused = [f for f in fused_findings(node.ctx) if f.finding["kind"] != "imprecise-events"]
    assert shown == {headline(f.finding) for f in fused}  # imprecise events: listed apart
    for f in fused:
        line = headline(f.finding)
        where = f.finding.get("admin1") or f.finding.get("country")
        assert line.startswith(kind_label(f.finding["kind"]))
        assert f" · {where}" in line and f" · {f.period} · " in line
        assert "level " in line or "no level" in line


def test_numbers_are_formatted_and_markup_escaped(node: Node) -> None:
    page = node.page("/ui/situation", admin1=MARKUP_AREA)
    (row,) = table_rows(page, "dpa.spoiler-risk")
    assert "<dt>events</dt><dd>1,234,567</dd>" in row
    assert "<dt>deaths_per_event</dt><dd>3.14</dd>" in row
    assert "1234567" not in page and "3.14159" not in page
    script = str(escape(SCRIPT))
    assert f"<summary>Spoiler typology: predatory — group {script} · {MARKUP_AREA}" in row
    assert f'<p class="explanation">predatory: {script} &amp; more</p>' in row
    assert f"<dt>note</dt><dd>{script}</dd>" in row
    assert "<script" not in page and " style=" not in page.split("<main>", 1)[1].split("</main>")[0]


def test_the_legend_explains_every_level_shown(node: Node) -> None:
    page = node.page("/ui/situation")
    legend = table_rows(page, "level-legend")
    assert legend
    body = page.split('id="level-legend"', 1)[0]  # the page above the legend
    levels_shown = set(re.findall(r'<td class="level-(\w+)">', body))
    assert levels_shown and levels_shown <= {"low", "medium", "high", "critical"}
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", row, re.S) for row in legend]
    assert {level for level, *_ in cells} == levels_shown
    for level, kind, analyzer, meaning, source in cells:
        assert level and kind and analyzer and meaning
        # A level the analyzer never defined (the scaffolding's "low" typology) says so.
        defined = source.startswith(("docs/analysis.md", "analyzers/"))
        assert defined or (not source and "not known to this page" in meaning), meaning
    escalation = [r for r in legend if "<td>Civilian harm</td>" in r]
    assert escalation and all("civilian deaths in the area-month" in r for r in escalation)


def test_restricted_findings_keep_their_mark_under_the_headline(node: Node) -> None:
    page = node.page("/ui/situation")
    rows = [r for rows in finding_tables(page).values() for r in rows]
    h3 = [r for r in rows if f"· {H3_AREA}, Syria ·" in r]
    assert h3
    for row in h3:
        assert row.startswith(f'<tr class="restricted" data-hc="H3" title="H3: {ESCAPED}">')
        assert f'<span class="hc-text">{ESCAPED}</span>' in row and "<details>" in row
    h1 = [r for r in rows if 'data-hc="H1"' in r]
    assert h1 and all(HANDLING_MEANINGS["H1"] in html.unescape(r) for r in h1)
    quiet = [r for r in rows if f"· {QUIET_AREA}, Syria ·" in r]
    assert quiet and all(r.startswith("<tr><td") and 'class="hc' not in r for r in quiet)
