"""Screening and findings on a small list of invented names, through hand-built views.

Every name here is made up: the real list names real people, and tests of
matching rules do not need them.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clearinghouse.analyzers.base import Analyzer, View
from clearinghouse.analyzers.offline import final_picture
from clearinghouse.analyzers.sanctions_screening import (
    ConsolidatedListError,
    SanctionsScreeningAnalyzer,
)
from clearinghouse.analyzers.sanctions_screening.thresholds import MATCH_THRESHOLD, STRONG_MATCH
from clearinghouse.analyzers.state import State

LIST = """<?xml version="1.0" encoding="UTF-8"?>
<CONSOLIDATED_LIST dateGenerated="2030-01-01T00:00:00Z">
  <INDIVIDUALS>
    <INDIVIDUAL>
      <FIRST_NAME>MOHAMMED</FIRST_NAME><SECOND_NAME>ABDULRAHMAN</SECOND_NAME>
      <THIRD_NAME>AL-FICTIONI</THIRD_NAME>
      <UN_LIST_TYPE>Testland</UN_LIST_TYPE><REFERENCE_NUMBER>TXi.001</REFERENCE_NUMBER>
      <LISTED_ON>2030-01-01</LISTED_ON>
      <INDIVIDUAL_ALIAS><QUALITY>Good</QUALITY><ALIAS_NAME>Abu Imaginary</ALIAS_NAME>
      </INDIVIDUAL_ALIAS>
      <INDIVIDUAL_ALIAS><QUALITY>Low</QUALITY><ALIAS_NAME>Abu Zeddo</ALIAS_NAME>
      </INDIVIDUAL_ALIAS>
      <INDIVIDUAL_ALIAS><QUALITY/><ALIAS_NAME/></INDIVIDUAL_ALIAS>
    </INDIVIDUAL>
    <INDIVIDUAL><FIRST_NAME>NO REFERENCE</FIRST_NAME></INDIVIDUAL>
  </INDIVIDUALS>
  <ENTITIES>
    <ENTITY>
      <FIRST_NAME>AL-EXAMPLE FRONT FOR THE PEOPLE OF TESTLAND</FIRST_NAME>
      <UN_LIST_TYPE>Testland</UN_LIST_TYPE><REFERENCE_NUMBER>TXe.001</REFERENCE_NUMBER>
      <LISTED_ON>2030-01-02</LISTED_ON>
      <ENTITY_ALIAS><QUALITY>a.k.a.</QUALITY>
        <ALIAS_NAME>Jabhat al-Mithal (JAM) (\u062c\u0628\u0647\u0629 (original script);
          Jabhet al-Mithaal; Mithal Front)</ALIAS_NAME>
      </ENTITY_ALIAS>
      <ENTITY_ALIAS><QUALITY>f.k.a.</QUALITY><ALIAS_NAME>Imaginary Brigades</ALIAS_NAME>
      </ENTITY_ALIAS>
    </ENTITY>
    <ENTITY>
      <FIRST_NAME>EXAMPLE RELIEF FOUNDATION (PAKISTAN)</FIRST_NAME>
      <UN_LIST_TYPE>Testland</UN_LIST_TYPE><REFERENCE_NUMBER>TXe.002</REFERENCE_NUMBER>
      <LISTED_ON>2030-01-03</LISTED_ON>
    </ENTITY>
  </ENTITIES>
</CONSOLIDATED_LIST>
"""


@pytest.fixture(scope="module")
def list_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("list") / "list.xml"
    path.write_text(LIST, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def analyzer(list_path: Path) -> SanctionsScreeningAnalyzer:
    return SanctionsScreeningAnalyzer(list_path)


def view(schema: str, **claims: Any) -> View:
    return View(schema, "unodc", "jti", "digest", datetime(2026, 1, 1, tzinfo=UTC), "hc", claims)


def refs(analyzer: SanctionsScreeningAnalyzer, name: str, kind: str | None = None) -> list[str]:
    return [hit.reference for hit in analyzer.screen(name, kind)]


def test_reads_the_list(analyzer: SanctionsScreeningAnalyzer) -> None:
    assert isinstance(analyzer, Analyzer) and analyzer.version == "2.0.0"
    listed = analyzer.consolidated_list
    assert sorted(listed.entries) == ["TXe.001", "TXe.002", "TXi.001"]
    assert listed.entries["TXi.001"].name == "MOHAMMED ABDULRAHMAN AL-FICTIONI"
    assert listed.generated == "2030-01-01T00:00:00Z"
    spellings = sorted((n.reference, n.name, n.quality, n.acronym) for n in listed.names)
    assert ("TXe.001", "JAM", "a.k.a.", True) in spellings
    assert ("TXe.002", "EXAMPLE RELIEF FOUNDATION", "name", False) in spellings
    assert ("TXe.001", "\u062c\u0628\u0647\u0629", "a.k.a.", False) in spellings
    assert not any(n.name == "PAKISTAN" for n in listed.names)
    # The real alias table names no reference of this list: none of it is used.
    assert not any(n.quality == "alias table" for n in listed.names)


@pytest.mark.parametrize(
    "name",
    [
        "Mohammed Abdulrahman al-Fictioni",
        "Muhammad Abd al-Rahman Fictioni",
        "FICTIONI, Mohamed Abdul Rahman",
        "Mohamad Abdelrahman El Fictiony",
        "Mohammed Abdulrahman al-Fictoni",  # a letter dropped
        "Muhamed Abdurrahman Fictioni",
        "Mohammed al-Fictioni",  # without the middle name
        "Muhammad Fictiony",
    ],
)
def test_transliterations_of_a_listed_name_hit(
    analyzer: SanctionsScreeningAnalyzer, name: str
) -> None:
    hits = analyzer.screen(name)
    assert [h.reference for h in hits] == ["TXi.001"]
    assert hits[0].score >= MATCH_THRESHOLD


@pytest.mark.parametrize(
    ("name", "reference", "quality"),
    [
        ("Jabhat al-Mithal", "TXe.001", "a.k.a."),
        ("Jabhet al Mithaal", "TXe.001", "a.k.a."),
        ("JAM", "TXe.001", "a.k.a."),
        ("Jabhat al-Mithal (JAM)", "TXe.001", "a.k.a."),  # an added acronym in brackets
        ("Example Relief Foundation", "TXe.002", "name"),
        ("Abu Imaginary", "TXi.001", "Good"),
        ("Imaginary Brigade", "TXe.001", "f.k.a."),
    ],
)
def test_aliases_hit(
    analyzer: SanctionsScreeningAnalyzer, name: str, reference: str, quality: str
) -> None:
    hits = analyzer.screen(name)
    assert [(h.reference, h.quality) for h in hits] == [(reference, quality)]


@pytest.mark.parametrize(
    "name",
    ["Pakistan", "Mohammed Ali", "Example Front", "Abdulrahman", "Testland", "JAMS", "", "  "],
)
def test_near_names_do_not_hit(analyzer: SanctionsScreeningAnalyzer, name: str) -> None:
    assert analyzer.screen(name) == []


def test_entity_type_is_checked(analyzer: SanctionsScreeningAnalyzer) -> None:
    person, group = "Mohammed Abdulrahman al-Fictioni", "Jabhat al-Mithal"
    assert refs(analyzer, person) == refs(analyzer, person, "individual") == ["TXi.001"]
    assert refs(analyzer, person, "entity") == []
    assert refs(analyzer, group) == refs(analyzer, group, "entity") == ["TXe.001"]
    assert refs(analyzer, group, "individual") == []
    # A conflict actor is a group: a listed person's name on a UCDP side is not a hit.
    state = State()
    event = view("conflict-event/1", side_a=person, side_b=group, month="2029-12")
    [finding] = analyzer.analyze(event, state)
    assert finding.subject == "sanctions:TXe.001"


def test_one_finding_per_listed_entry(analyzer: SanctionsScreeningAnalyzer) -> None:
    state = State()
    event = view(
        "conflict-event/1",
        country="Testland",
        month="2029-12",
        side_a="Government of Testland",
        side_b="Southern Group, Jabhat al-Mithal, Other Group",
    )
    first = analyzer.analyze(event, state)
    again = analyzer.analyze(view("conflict-event/1", side_b="JABHAT AL MITHAL"), state)
    variant = analyzer.analyze(
        view("conflict-event/1", side_b="Mithal Front", country="Testland", month="2029-12"),
        state,
    )
    repeat = analyzer.analyze(event, state)
    # The second hit moves the count from "1" to "2-9", another name changes the
    # distinct names; the same again changes nothing, so nothing is re-issued.
    assert len(first) == 1 and len(again) == 1 and len(variant) == 1 and repeat == []
    assert again[0].indicators["hits_band"] == "2-9"
    finding = variant[0]
    assert finding.kind == "sanctions-hit" and finding.subject == "sanctions:TXe.001"
    assert finding.period is None and finding.country == "Testland"
    assert finding.level == "high" and finding.score == 1.0
    indicators = finding.indicators
    assert indicators["reference"] == "TXe.001" and indicators["distinct_names"] == 2
    assert indicators["fields"] == "conflict-event/1 side_b"
    assert indicators["first_month"] == indicators["last_month"] == "2029-12"
    assert f">= {MATCH_THRESHOLD}" in finding.explanation and "TXe.001" in finding.explanation
    assert "Southern Group" not in json.dumps(finding.as_json())
    assert "JABHAT AL MITHAL" not in json.dumps(finding.as_json())
    summary = analyzer.summary(state)
    assert summary["views"] == 4 and summary["names_screened"] == 10
    [entry] = summary["references"]
    assert entry["reference"] == "TXe.001" and entry["hits"] == 4 and entry["distinct_names"] == 2
    assert entry["matched"] == {"Jabhat al-Mithal": 3, "Mithal Front": 1}


def test_a_later_input_supersedes_a_finding_and_nothing_is_withdrawn(
    analyzer: SanctionsScreeningAnalyzer,
) -> None:
    state = State()
    [medium] = analyzer.analyze(view("seizure/1", persons=["JAM"], date="2029-10-01"), state)
    assert medium.level == "medium" and medium.indicators["acronym_match"] == 1
    flow = view(
        "financial-flow/1",
        sender_name="Al-Example Front for the People of Testland",
        sender_country="TST",
        receiver_country="XYZ",
        date="2029-11-30",
    )
    [critical] = analyzer.analyze(flow, state)
    # Same identity (kind, subject, period): it supersedes the earlier finding.
    assert (critical.kind, critical.subject, critical.period) == (
        medium.kind,
        medium.subject,
        medium.period,
    )
    assert critical.level == "critical" and critical.status is None
    assert critical.indicators["last_month"] == "2029-11"
    # The same input again changes nothing: nothing is re-issued.
    assert analyzer.analyze(flow, state) == []


def test_levels(analyzer: SanctionsScreeningAnalyzer) -> None:
    state = State()
    flow = view(
        "financial-flow/1",
        sender_name="Mohamed Abdul Rahman Fictioni",
        receiver_name="Abu Zeddo",
        sender_country="TST",
        receiver_country="XYZ",
        date="2029-11-30",
    )
    [person] = analyzer.analyze(flow, state)
    assert person.level == "critical" and person.country is None  # TST and XYZ
    fields = person.indicators["fields"]
    assert fields == "financial-flow/1 receiver_name, financial-flow/1 sender_name"
    low_only = analyzer.analyze(
        view("financial-flow/1", receiver_name="Abu Zeddo", receiver_country="XYZ"), State()
    )
    # A hit on a low-quality alias is at most "medium", even when exact.
    assert [(f.level, f.indicators["match_quality"]) for f in low_only] == [("medium", "Low")]
    seizure = view(
        "seizure/1", country_code="TST", persons=["Mohammed Abdulrahman al-Fictoni", 7, "JAM"]
    )
    acronym, strong = analyzer.analyze(seizure, State())
    assert STRONG_MATCH <= strong.score < 1.0 and strong.level == "high"
    assert strong.indicators["fields"] == "seizure/1 persons" and strong.country == "TST"
    assert acronym.level == "medium" and acronym.indicators["acronym_match"] == 1


_VIEWS = [
    view("conflict-event/1", side_a="Jabhat al-Mithal, Other", side_b="Civilians", month="2029-01"),
    view("conflict-event/1", side_a="JAM", side_b="Government of Testland", month="2029-03"),
    view("conflict-event/1", side_a="Mithal Front", month="2028-12", country="Testland"),
    view("seizure/1", persons=["Abu Zeddo", "Example Relief Foundation"], date="2029-02-02"),
    view("financial-flow/1", sender_name="Mohammed al-Fictioni", date="2029-05-01"),
    view("financial-flow/1", receiver_name="Imaginary Brigades", date="2029-04-01"),
    view("conflict-event/1", side_b="Nobody at all", month="2029-06"),
]


@settings(max_examples=20, deadline=None)
@given(order=st.permutations(range(len(_VIEWS))))
def test_findings_and_summary_are_order_free(list_path: Path, order: list[int]) -> None:
    expected = final_picture(SanctionsScreeningAnalyzer(list_path), _VIEWS)
    shuffled = final_picture(SanctionsScreeningAnalyzer(list_path), [_VIEWS[i] for i in order])
    assert shuffled.findings == expected.findings
    assert json.dumps(shuffled.summary, sort_keys=True) == json.dumps(
        expected.summary, sort_keys=True
    )
    assert shuffled.withdrawn == expected.withdrawn == 0
    assert {f["subject"] for f in expected.findings} == {
        "sanctions:TXe.001",
        "sanctions:TXe.002",
        "sanctions:TXi.001",
    }


def test_missing_or_odd_fields_never_raise(analyzer: SanctionsScreeningAnalyzer) -> None:
    state = State()
    odd: list[dict[str, Any]] = [
        {},
        {"side_a": None, "side_b": 5, "persons": "JAM", "sender_name": ["JAM"]},
        {"side_a": ",,", "persons": [None, {}, ""], "receiver_name": "   "},
    ]
    for claims in odd:
        for schema in ("conflict-event/1", "seizure/1", "financial-flow/1", "market-price/1"):
            assert analyzer.analyze(view(schema, **claims), state) == []
    json.dumps(analyzer.summary(state), sort_keys=True)
    json.dumps(analyzer.summary(State()), sort_keys=True)


def test_bad_lists_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConsolidatedListError, match="cannot read"):
        SanctionsScreeningAnalyzer(tmp_path / "missing.xml")
    (tmp_path / "bad.xml").write_text("<CONSOLIDATED_LIST>", encoding="utf-8")
    with pytest.raises(ConsolidatedListError, match="cannot read"):
        SanctionsScreeningAnalyzer(tmp_path / "bad.xml")
    (tmp_path / "other.xml").write_text("<OTHER/>", encoding="utf-8")
    with pytest.raises(ConsolidatedListError, match="not CONSOLIDATED_LIST"):
        SanctionsScreeningAnalyzer(tmp_path / "other.xml")
    (tmp_path / "empty.xml").write_text("<CONSOLIDATED_LIST/>", encoding="utf-8")
    with pytest.raises(ConsolidatedListError, match="no INDIVIDUAL or ENTITY"):
        SanctionsScreeningAnalyzer(tmp_path / "empty.xml")
