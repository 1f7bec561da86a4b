"""The situation page in a real browser (Debian's Chromium driven by Playwright), on a
federation of five real node processes after real data went through it."""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from clearinghouse.node.localfed import LocalFederation, run_demo
from tests.nodes import running_federation
from tests.support import EXAMPLES

CHROMIUM = "/usr/bin/chromium"
FAST = """
[delivery]
base_delay_s = 0.2
max_delay_s = 2.0
poll_interval_s = 0.2
catchup_interval_s = 1.0
"""
RECORDS = 1500


def area_figures() -> dict[tuple[str, str], tuple[int, int]]:
    """(country, adm_1) -> (events, best deaths), straight from the UCDP file."""
    totals: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    with (EXAMPLES / "data" / "ucdp_ged_syria_2016_2019.csv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            cell = totals[(row["country"], row["adm_1"])]
            cell[0] += 1
            cell[1] += int(row["best"])
    return {k: (v[0], v[1]) for k, v in totals.items()}


@pytest.fixture(scope="module")
def federation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalFederation]:
    with running_federation(tmp_path_factory.mktemp("ui"), config_extra=FAST) as fed:
        summary = run_demo(fed, records=RECORDS, timeout=600)
        assert summary["nodes"]["mission"]["results_issued"] > 0
        yield fed


@pytest.mark.slow
def test_situation_page_shows_real_hotspots_and_charts(
    federation: LocalFederation, tmp_path: Path
) -> None:
    node = federation.nodes["dpa"]  # a peer: everything it shows came to it as signed results
    with node.client("analyst") as client:
        situation = client.get("/v1/situation").json()
    assert any(a["analyzer"] == "mission.security-risk" for a in situation["analyzers"])

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            page = browser.new_page()
            page.goto(node.url + "/ui/situation")
            assert page.url.endswith("/ui/login")  # not signed in yet
            page.fill("input[name=token]", node.tokens["analyst"])
            page.click("button[type=submit]")
            page.wait_for_url("**/ui/situation")
            # mission's analyzer alone: its hotspots are counted from the UCDP events
            page.goto(node.url + "/ui/situation?analyzer=mission.security-risk")
            page.wait_for_selector("table#hotspots tr:nth-child(2)")
            page.screenshot(path=str(tmp_path / "situation.png"), full_page=True)
            rows = page.eval_on_selector_all(
                "table#hotspots tr",
                "rows => rows.slice(1).map(r => [...r.cells].map(c => c.textContent.trim()))",
            )
            charts = page.eval_on_selector_all(
                "svg.chart",
                "svgs => svgs.map(s => [s.getAttribute('class'), "
                "s.querySelectorAll('polyline, circle.map-mark').length])",
            )
            by = page.eval_on_selector_all(
                "table.findings[data-analyzer='mission.security-risk'] tbody tr",
                "rows => rows.map(r => r.cells[3].textContent.trim())",
            )
            links = page.eval_on_selector_all(
                "table#hotspots a", "links => links.map(a => a.getAttribute('href'))"
            )
            # A hotspot links to its area's page; each finding there to its result.
            page.goto(node.url + links[0])
            area = page.inner_text("#area-heading")
            results = page.eval_on_selector_all(
                "table.findings tbody tr td:nth-child(4) a",
                "links => links.filter(a => a.textContent.trim() === 'mission')"
                ".map(a => a.getAttribute('href'))",
            )
            page.goto(node.url + results[0])
            provenance = page.inner_text("table#result")
            input_text = page.inner_text("table#input")
        finally:
            browser.close()

    # The hotspot table holds real UCDP figures: each row an area of the file, with no
    # more events or deaths than the file has there (results report each area-month as
    # it stood when the finding was made; the row adds up its months), sorted by deaths.
    truth = area_figures()
    assert rows, "the hotspot table is empty"
    deaths = []
    for admin1, country, events, best, _level, _findings, _placed, _handling in rows:
        if admin1 == "(whole country)":  # findings about a whole country count no events
            deaths.append(int(best.replace(",", "") or 0))
            continue
        key = (country, admin1)
        assert key in truth, f"{key} is not an area of the UCDP file"
        assert 0 < int(events.replace(",", "")) <= truth[key][0]
        assert 0 <= int(best.replace(",", "")) <= truth[key][1]
        deaths.append(int(best.replace(",", "")))
    assert deaths == sorted(deaths, reverse=True)
    assert by and set(by) == {"mission"}  # mission's analyzer's findings, signed by mission
    # Timelines and the map drawn with marks in them.
    assert any(marks > 0 for _, marks in charts), charts
    assert any("world-map" in cls for cls, marks in charts if marks > 0), charts
    # The hotspot's link opened its area's page, and the "by" of one of mission's
    # findings there its provenance: a verified signature and the input reference.
    assert links[0].startswith("/ui/areas?") and area.startswith("Area: "), (links[0], area)
    assert results[0].startswith("/ui/results/"), results
    assert "verified now: Ed25519 signature by mission" in provenance
    assert "conflict-event/1" in input_text


def test_situation_api_agrees_with_the_page_data(federation: LocalFederation) -> None:
    node = federation.nodes["undp"]
    with node.client("analyst") as client:
        everything = client.get("/v1/situation").json()
        admin1 = next(a["admin1"] for a in everything["areas"] if a["admin1"])
        one_area = client.get("/v1/situation", params={"admin1": admin1}).json()
        refused = client.get("/v1/situation", headers={"authorization": "Bearer nope"})
    assert refused.status_code == 401
    assert everything["areas"] and one_area["areas"]
    assert all(a["admin1"] == admin1 for a in one_area["areas"])
    producers = {a["participant"] for a in everything["analyzers"]}
    assert {"mission", "undp"} <= producers  # its own results and its peers'
    for area in everything["areas"]:
        assert area["agreement"]["verdict"] in ("agree", "disagree", "single", "none")
        for finding in area["findings"]:
            assert finding["result"]["jti"] and finding["input"]["jti"]
