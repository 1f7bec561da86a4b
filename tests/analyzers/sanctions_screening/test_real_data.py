"""``sanctions.screening`` on real UCDP GED Syria events, as the panel's views show them.

The sanctions panel's policy discloses ``event_id``, ``country``, ``side_a`` and
``side_b`` and generalises ``date_start`` to ``month``. A sample of real events (every
event naming a listed group in a few months, and others) is issued as packets once
per module; the analyzer then runs over permutations of the same views: the final
findings and summary must not depend on the order (the convergence contract).
The whole file is measured by ``python -m bench analysis`` (bench/analysis/sanctions_screening.py).
"""

from __future__ import annotations

import json
import random
from collections import Counter
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from clearinghouse.analyzers.base import View
from clearinghouse.analyzers.offline import OfflineRun, final_picture
from clearinghouse.analyzers.sanctions_screening import SanctionsScreeningAnalyzer
from clearinghouse.node.importers.ucdp import read_events
from tests.support import EXAMPLES

GED = EXAMPLES / "data" / "ucdp_ged_syria_2016_2019.csv"
#: The UCDP actor names that are listed groups (checked in test_real_list.py).
MATCHING = {"Jabhat Fateh al-Sham": "QDe.137", "HTS": "QDe.137", "al-Qaida": "QDe.004",
            "ETIM": "QDe.088", "Shohadaa al-Yarmouk": "QDe.155", "IS": "QDe.115"}  # fmt: skip
SAMPLE = 300


@pytest.fixture(scope="module")
def analyzer() -> SanctionsScreeningAnalyzer:
    return SanctionsScreeningAnalyzer()


def _groups(record: dict[str, Any]) -> list[str]:
    return [p.strip() for f in ("side_a", "side_b") for p in record[f].split(",") if p.strip()]


@pytest.fixture(scope="module")
def sample() -> list[dict[str, Any]]:
    records = list(read_events(GED))
    listed = [r for r in records if any(g in MATCHING for g in _groups(r))]
    others = [r for r in records if not any(g in MATCHING for g in _groups(r))]
    rng = random.Random(15)
    # Every listed group's events are included for some, with other events around them.
    chosen = rng.sample(listed, SAMPLE // 2) + rng.sample(others, SAMPLE // 2)
    chosen += [r for r in listed if {"al-Qaida", "ETIM", "Shohadaa al-Yarmouk"} & set(_groups(r))]
    return chosen


@pytest.fixture(scope="module")
def views(analyzer: SanctionsScreeningAnalyzer, sample: list[dict[str, Any]]) -> list[View]:
    config = yaml.safe_load((EXAMPLES / "federation.yaml").read_text())
    run = OfflineRun.start(analyzer, config, participant="sanctions", issuer="mission")
    return run.views("conflict-event/1", sample)


def test_the_panel_sees_names_and_little_else(views: list[View]) -> None:
    assert set(views[0].claims) == {"event_id", "country", "side_a", "side_b", "month"}


def test_findings_on_the_listed_groups(
    sample: list[dict[str, Any]], views: list[View], analyzer: SanctionsScreeningAnalyzer
) -> None:
    picture = final_picture(analyzer, views)
    expected: Counter[str] = Counter()
    for record in sample:
        for group in _groups(record):
            if group in MATCHING:
                expected[MATCHING[group]] += 1
    found = {f["subject"].removeprefix("sanctions:"): f for f in picture.findings}
    assert sorted(found) == sorted(expected)
    summary = picture.summary
    assert {r["reference"]: r["hits"] for r in summary["references"]} == dict(expected)
    assert found["QDe.137"]["level"] == "high"  # "Jabhat Fateh al-Sham": a listed a.k.a.
    assert found["QDe.115"]["indicators"]["matched_list_name"] == "IS"  # the alias table
    assert found["QDe.115"]["level"] == "medium"  # a two-letter acronym: to review
    # Groups are linked to the listed individuals the list's comments name.
    assert "QDi.299" in found["QDe.115"]["indicators"]["linked_individuals"]
    for finding in picture.findings:
        text = json.dumps(finding)
        # No screened name is repeated, except as the list's own spelling.
        for group in {g for r in sample for g in _groups(r)} - set(MATCHING):
            assert f"'{group}'" not in text
    assert picture.withdrawn == 0


@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_findings_and_summary_do_not_depend_on_the_order(
    views: list[View], analyzer: SanctionsScreeningAnalyzer, data: st.DataObject
) -> None:
    expected = final_picture(analyzer, views)
    order = data.draw(st.permutations(views))
    shuffled = final_picture(analyzer, order)
    assert shuffled.findings == expected.findings
    assert json.dumps(shuffled.summary, sort_keys=True) == json.dumps(
        expected.summary, sort_keys=True
    )
