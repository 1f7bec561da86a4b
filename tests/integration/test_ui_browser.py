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


def csv_figures() -> dict[tuple[str, str, str], tuple[int, int]]:
    """(country, adm_1, month) -> (events, best deaths), straight from the UCDP file."""
    totals: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0])
    with (EXAMPLES / "data" / "ucdp_ged_syria_2016_2019.csv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            cell = totals[(row["country"], row["adm_1"], row["date_start"][:7])]
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
            page.wait_for_selector("table#hotspots tr:nth-child(2)")
            page.screenshot(path=str(tmp_path / "situation.png"), full_page=True)
            rows = page.eval_on_selector_all(
                "table#hotspots tr",
                "rows => rows.slice(1).map(r => [...r.cells].map(c => c.textContent.trim()))",
            )
            charts = page.eval_on_selector_all(
                "svg.chart",
                "svgs => svgs.map(s => [s.getAttribute('class'), "
                "s.querySelectorAll('rect, polyline').length])",
            )
            links = page.eval_on_selector_all(
                "table#hotspots a", "links => links.map(a => a.getAttribute('href'))"
            )
            page.goto(node.url + links[0])
            provenance = page.inner_text("table#result")
            input_text = page.inner_text("table#input")
        finally:
            browser.close()

    # The hotspot table holds real UCDP figures: each row is an area-month of the file,
    # with no more events or deaths than the file has for it (results report a cell as
    # it stood when the finding was made), sorted by deaths.
    truth = csv_figures()
    assert rows, "the hotspot table is empty"
    deaths = []
    for country, admin1, month, events, best, _civilians, _level, by, _handling in rows:
        key = (country, admin1, month)
        assert key in truth, f"{key} is not an area-month of the UCDP file"
        assert 0 < int(events.replace(",", "")) <= truth[key][0]
        assert 0 <= int(best.replace(",", "")) <= truth[key][1]
        assert by == "mission"
        deaths.append(int(best.replace(",", "")))
    assert deaths == sorted(deaths, reverse=True)
    # At least one chart rendered with marks in it; the heat grid among them.
    assert any(marks > 0 for _, marks in charts), charts
    assert any("heat-grid" in cls for cls, marks in charts if marks > 0)
    # The provenance page shows a verified signature and the input reference.
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
