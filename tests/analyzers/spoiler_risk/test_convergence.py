"""``dpa.spoiler-risk`` on real UCDP GED Syria events: the same picture in any order.

A sample of a few hundred events of the shipped file (read with the project's
importer), issued once as DPA's views under the example federation's policy, then
analysed in permuted orders. The sample (2017-2018): every event whose narrative has a
rent or plunder term, a third of the one-sided violence, and a thinner slice of the
clashes, so that several groups get calls, some of which change on the way.
"""

from __future__ import annotations

from random import Random
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.analysis import spoiler_risk as evaluation
from clearinghouse.analyzers.base import View
from clearinghouse.analyzers.offline import OfflineRun, Picture, final_picture
from clearinghouse.analyzers.spoiler_risk import SpoilerRiskAnalyzer
from clearinghouse.analyzers.spoiler_risk._lexicon import lexicon, normalise
from clearinghouse.node.importers.ucdp import read_events
from tests.analyzers._order import assert_same_in_any_order
from tests.support import EXAMPLES

GED = EXAMPLES / "data" / "ucdp_ged_syria_2016_2019.csv"
SCHEMA = "conflict-event/1"


def _picked(record: dict[str, Any]) -> bool:
    if str(record["date_start"])[:4] not in ("2017", "2018"):
        return False
    number = int(str(record["event_id"]))
    found = lexicon().match(normalise(str(record.get("narrative") or "")))
    if "rent" in found or "plunder" in found:
        return True
    if record["type_of_violence"] == 3:
        return number % 3 == 0
    return number % (12 if record["type_of_violence"] == 2 else 60) == 0


@pytest.fixture(scope="module")
def views() -> list[View]:
    config = yaml.safe_load((EXAMPLES / "federation.yaml").read_text())
    run = OfflineRun.start(SpoilerRiskAnalyzer(), config, participant="dpa", issuer="mission")
    return run.views(SCHEMA, [r for r in read_events(GED) if _picked(r)])


@pytest.fixture(scope="module")
def in_file_order(views: list[View]) -> Picture:
    return final_picture(SpoilerRiskAnalyzer(), views)


def test_dpa_sees_names_and_narratives_but_no_coordinates(views: list[View]) -> None:
    claims = views[0].claims
    assert {"side_a", "side_a_id", "conflict_id", "dyad_id", "narrative"} <= set(claims)
    assert "latitude" not in claims


def test_the_sample_is_rich_enough(views: list[View], in_file_order: Picture) -> None:
    assert 250 <= len(views) <= 600
    calls = {(f["subject"], f["period"]): f["indicators"]["call"] for f in in_file_order.findings}
    assert calls[("IS", "2017")] == "predatory" and calls[("Syrian insurgents", "2018")]
    assert {"predatory", "parasitic"} <= set(calls.values())
    assert in_file_order.reported > len(in_file_order.findings)  # findings changed on the way


@settings(max_examples=12, deadline=None)
@given(rng=st.randoms(use_true_random=False))
def test_any_order_gives_the_same_findings_and_summary(
    views: list[View], in_file_order: Picture, rng: Random
) -> None:
    assert_same_in_any_order(SpoilerRiskAnalyzer, views, in_file_order, rng)


def test_findings_held_are_the_summary_calls(in_file_order: Picture) -> None:
    held = {(f["subject"], f["period"]): f["indicators"]["call"] for f in in_file_order.findings}
    typed = {
        (g["name"], p["period"]): p["call"]
        for g in in_file_order.summary["groups"]
        for p in g["periods"]
        if p["call"] in ("predatory", "parasitic", "symbiotic")
    }
    assert held == typed
    for f in in_file_order.findings:
        assert f["kind"] == "spoiler-typology" and f["country"] == "Syria"
        assert f["indicators"]["confidence"] in {"low", "medium", "high"}


def test_no_group_is_typed_without_evidence(in_file_order: Picture) -> None:
    for group in in_file_order.summary["groups"]:
        for p in group["periods"]:
            e = p["evidence"]
            if p["call"] == "predatory":
                assert e["hostility_events"] and (e["one_sided_events"] or e["plunder_narratives"])
            elif p["call"] == "parasitic":
                assert e["rent_narratives"] >= 2
            elif p["call"] == "symbiotic":
                assert e["alongside_government_events"] or e["state_backing_narratives"] >= 2


def test_evaluation_scores_the_labels() -> None:
    """The scoring of :mod:`bench.analysis.spoiler_risk` on the constructed records alone
    (the full evaluation runs in ``python -m bench analysis``)."""
    config = yaml.safe_load((EXAMPLES / "federation.yaml").read_text())
    run = OfflineRun.start(SpoilerRiskAnalyzer(), config, participant="dpa", issuer="mission")
    picture = final_picture(
        SpoilerRiskAnalyzer(), run.views(SCHEMA, evaluation.constructed_records())
    )
    labelled, details = evaluation.score(picture.summary)
    constructed = {x.name: x for x in labelled if x.name.endswith("(constructed)")}
    assert constructed and all(x.false_positive == 0 for x in constructed.values())
    assert all(x.recall == 1.0 for x in constructed.values() if x.recall is not None)
    # The Syria labels, without the Syria file: every positive is missed, none invented.
    syria = [x for x in labelled if x.name.endswith("(syria-ged)")]
    assert syria and all(x.true_positive == 0 and x.false_positive == 0 for x in syria)
    assert details["per_group"]["Dogon"]["not_typed"] == "yes (label yes)"


@pytest.mark.slow
def test_quick_evaluation_runs_and_drops_nothing() -> None:
    """``evaluate(quick=True)``: every 8th Syria event and the constructed records, in file
    order and 2 shuffles (about 15 s, most of it issuing and verifying the views)."""
    result = evaluation.evaluate(quick=True)
    assert result.rows_dropped == 0 and result.stable and result.permutations == 2
    assert result.rows_read == 16566 + len(evaluation.constructed_records())
    by_name = {x.name: x for x in result.labelled}
    assert by_name["predation (syria-ged)"].recall == 1.0  # IS
    assert all(x.false_positive == 0 for x in result.labelled)
    syria = result.details["syria"]
    assert syria["group_years_by_call"]["predatory"] > 0 and syria["groups_never_typed"] > 0
