"""``mission.security-risk`` on real UCDP GED Syria events: the same picture in any order.

A sample of a few hundred events of the shipped file (read with the project's
importer), issued and verified once as the mission's views, then analysed in
permuted orders.
"""

from __future__ import annotations

from itertools import islice
from random import Random

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from clearinghouse.analyzers.base import View
from clearinghouse.analyzers.offline import OfflineRun, Picture, final_picture
from clearinghouse.analyzers.security_risk import SecurityRiskAnalyzer
from clearinghouse.analyzers.security_risk._analyzer import IMPRECISE_KIND
from clearinghouse.node.importers.ucdp import read_events
from tests.analyzers._order import assert_same_in_any_order
from tests.support import EXAMPLES

GED = EXAMPLES / "data" / "ucdp_ged_syria_2016_2019.csv"
SCHEMA = "conflict-event/1"


def _sample() -> list[dict[str, object]]:
    """Every event of three governorates in the first half of 2016, and every imprecise
    event of 2016 (national summaries included): ~400 events with flags and withdrawals."""
    areas = {"Aleppo Governorate", "Idlib Governorate", "Deir ez Zor Governorate"}
    out = []
    for record in islice(read_events(GED), 6000):
        start, number = str(record["date_start"]), int(str(record["event_id"]))
        precise = record.get("where_precision", 9) <= 4 and record.get("date_precision", 9) <= 3
        if not start.startswith("2016"):
            continue
        if precise and record.get("admin1") in areas and start < "2016-06" and number % 3 == 1:
            out.append(record)
        elif not precise and (record.get("admin1") is None or number % 2):
            out.append(record)
    return out


@pytest.fixture(scope="module")
def views() -> list[View]:
    config = yaml.safe_load((EXAMPLES / "federation.yaml").read_text())
    run = OfflineRun.start(SecurityRiskAnalyzer(), config, participant="mission", issuer="mission")
    return run.views(SCHEMA, _sample())


@pytest.fixture(scope="module")
def in_file_order(views: list[View]) -> Picture:
    return final_picture(SecurityRiskAnalyzer(), views)


def test_the_sample_is_rich_enough(views: list[View], in_file_order: Picture) -> None:
    assert 250 <= len(views) <= 600
    kinds = {f["kind"] for f in in_file_order.findings}
    assert "escalation" in kinds and len(kinds) >= 2
    assert in_file_order.withdrawn > 0  # flags raised on partial tallies were withdrawn
    assert in_file_order.summary["imprecise"]


@settings(max_examples=12, deadline=None)
@given(rng=st.randoms(use_true_random=False))
def test_any_order_gives_the_same_findings_and_summary(
    views: list[View], in_file_order: Picture, rng: Random
) -> None:
    assert_same_in_any_order(SecurityRiskAnalyzer, views, in_file_order, rng)


def test_findings_held_are_the_summary_flags_and_the_events_counted_apart(
    in_file_order: Picture,
) -> None:
    flagged = [f for f in in_file_order.findings if f["kind"] != IMPRECISE_KIND]
    held = sorted((f["country"], f["admin1"], f["period"], f["kind"]) for f in flagged)
    flags = sorted(
        (f["country"], f["admin1"], f["month"], f["kind"]) for f in in_file_order.summary["flags"]
    )
    assert held == flags
    for f in flagged:
        assert f["level"] in {"medium", "high", "critical"} and f["score"] >= 1
        assert "threshold" in f["explanation"] and f["admin1"] and f["period"]
    apart = [f for f in in_file_order.findings if f["kind"] == IMPRECISE_KIND]
    listed = in_file_order.summary["imprecise"]
    assert sorted((f["country"], f.get("admin1") or "", f["period"]) for f in apart) == sorted(
        (i["country"], i["admin1"] or "", i["period"]) for i in listed
    )
    by_place = {(i["country"], i["admin1"], i["period"]): i for i in listed}
    for f in apart:
        listed_as = by_place[(f["country"], f.get("admin1"), f["period"])]
        assert f["indicators"]["events"] == listed_as["events"] > 0
        assert f["indicators"]["fatalities_best"] == listed_as["fatalities_best"]
        assert "level" not in f and "counted apart" in f["explanation"]


def test_national_summaries_are_counted_apart(in_file_order: Picture) -> None:
    summary = in_file_order.summary
    assert all(h["admin1"] for h in summary["hotspots"])
    national = [i for i in summary["imprecise"] if i["admin1"] is None and i["period"] == "2016"]
    assert national and national[0]["fatalities_best"] >= 16_000  # the 2016 national summaries
    top = summary["hotspots"][0]
    assert top["fatalities_best"] < national[0]["fatalities_best"]
