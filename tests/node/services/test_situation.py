"""The situation carries each finding's handling; the page data marks restricted items."""

from __future__ import annotations

import html
from collections.abc import Iterator
from itertools import islice

import pytest
from sqlmodel import select

from clearinghouse.node.api.routes.ui import templates
from clearinghouse.node.clock import SystemClock
from clearinghouse.node.context import NodeContext
from clearinghouse.node.importers.ucdp import read_events
from clearinghouse.node.localfed import LocalFederation
from clearinghouse.node.services.analyze import analyse_batch
from clearinghouse.node.services.ingest import ingest_records
from clearinghouse.node.services.situation import fused_findings, situation
from clearinghouse.node.settings import load_settings
from clearinghouse.node.startup import open_node
from clearinghouse.node.storage.db import transaction
from clearinghouse.node.storage.models import StoredPacket
from clearinghouse.node.ui.pages import handling, provenance_page
from clearinghouse.node.ui.situation_page import situation_page
from clearinghouse.node.ui.situation_query import SituationQuery
from clearinghouse.protocol.packet import HANDLING_MEANINGS
from tests.node._situation_support import (
    H0_AREAS,
    H2_AREA,
    H3_AREA,
    QUIET_AREA,
    RESTRICTION,
    load_mixed_situation,
)
from tests.nodes import built_federation, opened_node
from tests.support import EXAMPLES

NONE = {"hc": "H0", "restricted": False, "restriction": None}
GED = "ucdp_ged_syria_2016_2019.csv"


@pytest.fixture(scope="module")
def mission(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeContext]:
    fed = built_federation(tmp_path_factory.mktemp("situation"), ("mission", "unodc", "dpa"))
    with opened_node(fed.nodes["mission"]) as ctx:
        load_mixed_situation(fed, ctx)
        yield ctx


def result_handling(ctx: NodeContext) -> dict[str, tuple[str, str | None]]:
    with transaction(ctx.engine) as session:
        rows = session.exec(
            select(StoredPacket).where(StoredPacket.schema_id == "analysis-result/1")
        ).all()
        return {r.jti: (r.hc, r.hcr) for r in rows}


def test_every_finding_carries_its_results_handling(mission: NodeContext) -> None:
    by_result = result_handling(mission)
    assert {hc for hc, _ in by_result.values()} == {"H0", "H1", "H2", "H3"}
    picture = situation(mission)
    seen = set()
    for area in picture["areas"]:
        for finding in area["findings"]:
            hc, hcr = by_result[finding["result"]["jti"]]
            assert finding["handling"] == {"hc": hc, "restricted": hc != "H0", "restriction": hcr}
            seen.add(hc)
            if area["admin1"] == H3_AREA:
                assert finding["handling"] == {
                    "hc": "H3",
                    "restricted": True,
                    "restriction": RESTRICTION,
                }
            elif area["admin1"] == H2_AREA:
                assert finding["handling"] == {"hc": "H2", "restricted": True, "restriction": None}
            elif finding["participant"] == "mission":
                assert finding["handling"] == NONE
            else:
                assert finding["handling"] == {"hc": "H1", "restricted": True, "restriction": None}
    assert seen == {"H0", "H1", "H2", "H3"}


def test_unrestricted_areas_carry_no_restriction(mission: NodeContext) -> None:
    picture = situation(mission, admin1=QUIET_AREA)
    findings = [f for a in picture["areas"] for f in a["findings"]]
    assert findings and all(f["handling"] == NONE for f in findings)


def test_page_data_marks_restricted_items_only(mission: NodeContext) -> None:
    page = situation_page(mission, SituationQuery())
    assert page["any_restricted"]
    h3 = [h for h in page["hotspots"] if h["admin1"] == H3_AREA]
    # Homs mixes mission's H0 finding with dpa's H1 one: its row is marked H1 (below).
    h0 = [h for h in page["hotspots"] if h["admin1"] in (*H0_AREAS[1:], QUIET_AREA)]
    assert h3 and h0
    for row in h3:
        assert row["handling"]["restricted"] and row["handling"]["text"] == RESTRICTION
        assert row["handling"]["note"] == f"H3: {RESTRICTION}"
    for row in h0:
        assert row["handling"] == handling("H0", None)
        assert not row["handling"]["restricted"] and row["handling"]["note"] == ""
    h2 = next(h for h in page["hotspots"] if h["admin1"] == H2_AREA)
    assert h2["handling"]["text"] == HANDLING_MEANINGS["H2"]
    (homs_row,) = [h for h in page["hotspots"] if h["admin1"] == H0_AREAS[0]]
    assert homs_row["handling"]["hc"] == "H1"
    rows = [r for s in page["sections"] for r in s["findings"]]
    assert {r["handling"]["hc"] for r in rows} == {"H0", "H1", "H2", "H3"}
    assert 'data-hc="H3"' in page["map"]
    assert html.escape(f"H3: {RESTRICTION}") in page["map"]
    assert any('data-hc="H3"' in s["chart"] for s in page["sections"])
    # Homs: mission's H0 finding beside dpa's H1 one; the row names dpa's restriction.
    (homs,) = [a for a in page["agreement"] if a["admin1"] == H0_AREAS[0]]
    assert homs["handling"]["hc"] == "H1"
    assert homs["handling"]["text"] == HANDLING_MEANINGS["H1"]


def test_a_page_of_unrestricted_results_marks_nothing(mission: NodeContext) -> None:
    page = situation_page(mission, SituationQuery(admin1=QUIET_AREA))
    assert page["hotspots"] and not page["any_restricted"]
    assert all(not h["handling"]["restricted"] for h in page["hotspots"])
    assert page["map"] and "restricted" not in page["map"]
    assert all("restricted" not in s["chart"] for s in page["sections"])


def test_provenance_shows_handling_and_the_inputs_pseudonym_epoch(mission: NodeContext) -> None:
    restricted = next(f for f in fused_findings(mission, admin1=H3_AREA))
    page = provenance_page(mission, restricted.result_jti)
    assert page is not None
    assert page["result"]["handling"]["note"] == f"H3: {RESTRICTION}"
    assert page["result"]["pse"] is None  # a result carries no pseudonym
    assert page["input"]["hc"] == "H3" and page["input"]["hcr"] == RESTRICTION
    assert page["input"]["pse"] == mission.pseudonym_key.epoch  # type: ignore[union-attr]


def test_imprecise_events_are_listed_apart_from_the_hotspots(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    fed = LocalFederation(tmp_path_factory.mktemp("imprecise"), ("mission", "dpa"))
    fed.build()
    ctx = open_node(load_settings(fed.nodes["mission"].config, run_workers=False), SystemClock())
    try:
        [located] = list(islice(read_events(EXAMPLES / "data" / GED), 1))
        national = {  # a year-long national summary, as UCDP codes them
            **located,
            "event_id": "national-summary",
            "date_start": "2016-01-01",
            "date_end": "2016-12-31",
            "date_precision": 5,
            "where_precision": 6,
            "admin1": None,
            "deaths": {"best": 16522},
        }
        national = {k: v for k, v in national.items() if v is not None}
        ingest_records(ctx, "conflict-event/1", [located, national])
        while analyse_batch(ctx):
            pass
        page = situation_page(ctx, SituationQuery())
        [apart] = page["imprecise"]
        assert (apart["country"], apart["admin1"], apart["period"]) == ("Syria", None, "2016")
        assert (apart["events"], apart["fatalities_best"], apart["unlocated_events"]) == (
            1,
            16522,
            1,
        )
        assert all(h["shown"]["fatalities"] != "16,522" for h in page["hotspots"])
        html_page = templates.env.get_template("situation.html").render(
            participant=ctx.participant, **page
        )
        assert 'id="imprecise"' in html_page, html_page[html_page.find("map-and-list") :][:3000]
        assert "16,522" in html_page
    finally:
        ctx.engine.dispose()
