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

from analyzers.base import Analyzer, View
from analyzers.sanctions_screening import ConsolidatedListError, SanctionsScreeningAnalyzer
from analyzers.sanctions_screening.thresholds import MATCH_THRESHOLD, STRONG_MATCH
from analyzers.state import State

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
def analyzer(tmp_path_factory: pytest.TempPathFactory) -> SanctionsScreeningAnalyzer:
    path = tmp_path_factory.mktemp("list") / "list.xml"
    path.write_text(LIST, encoding="utf-8")
    return SanctionsScreeningAnalyzer(path)


def view(schema: str, **claims: Any) -> View:
    return View(schema, "unodc", "jti", "digest", datetime(2026, 1, 1, tzinfo=UTC), "hc", claims)


def refs(analyzer: SanctionsScreeningAnalyzer, name: str) -> list[str]:
    return [hit.reference for hit in analyzer.screen(name)]


def test_reads_the_list(analyzer: SanctionsScreeningAnalyzer) -> None:
    assert isinstance(analyzer, Analyzer)
    listed = analyzer.consolidated_list
    assert sorted(listed.entries) == ["TXe.001", "TXe.002", "TXi.001"]
    assert listed.entries["TXi.001"].name == "MOHAMMED ABDULRAHMAN AL-FICTIONI"
    assert listed.generated == "2030-01-01T00:00:00Z"
    spellings = sorted((n.reference, n.name, n.quality, n.acronym) for n in listed.names)
    assert ("TXe.001", "JAM", "a.k.a.", True) in spellings
    assert ("TXe.002", "EXAMPLE RELIEF FOUNDATION", "name", False) in spellings
    assert not any(n.name == "PAKISTAN" for n in listed.names)


@pytest.mark.parametrize(
    "name",
    [
        "Mohammed Abdulrahman al-Fictioni",
        "Muhammad Abd al-Rahman Fictioni",
        "FICTIONI, Mohamed Abdul Rahman",
        "Mohamad Abdelrahman El Fictiony",
        "Mohammed Abdulrahman al-Fictoni",  # a letter dropped
        "Muhamed Abdurrahman Fictioni",
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


def test_findings_once_per_name_and_reference(analyzer: SanctionsScreeningAnalyzer) -> None:
    state = State()
    event = view(
        "conflict-event/1",
        country="Testland",
        month="2029-12",
        side_a="Government of Testland",
        side_b="Southern Group, Jabhat al-Mithal, Other Group",
    )
    first = analyzer.analyze(event, state)
    again = analyzer.analyze(view("conflict-event/1", side_a="JABHAT AL MITHAL"), state)
    variant = analyzer.analyze(view("conflict-event/1", side_b="Mithal Front"), state)
    assert len(first) == 1 and again == [] and len(variant) == 1
    finding = first[0]
    assert finding.kind == "sanctions-hit" and finding.subject == "sanctions:TXe.001"
    assert finding.country == "Testland" and finding.period == "2029-12"
    assert finding.level == "high" and finding.score == 1.0
    assert finding.indicators["reference"] == "TXe.001"
    assert finding.indicators["matched_list_name"] == "Jabhat al-Mithal"
    assert (
        finding.indicators["match_quality"] == "a.k.a." and finding.indicators["field"] == "side_b"
    )
    assert f">= {MATCH_THRESHOLD}" in finding.explanation and "TXe.001" in finding.explanation
    assert "Southern Group" not in json.dumps(finding.as_json())
    summary = analyzer.summary(state)
    assert summary["views"] == 3 and summary["names_screened"] == 6
    [entry] = summary["references"]
    assert entry["reference"] == "TXe.001" and entry["hits"] == 3 and entry["distinct_names"] == 2
    assert entry["matched"] == {"Jabhat al-Mithal": 2, "Mithal Front": 1}


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
    sender, receiver = analyzer.analyze(flow, state)
    assert (sender.level, sender.country, sender.indicators["field"]) == (
        "critical",
        "TST",
        "sender_name",
    )
    assert sender.period == "2029-11"
    # A hit on a low-quality alias is at most "medium", even when exact.
    assert receiver.level == "medium" and receiver.indicators["match_quality"] == "Low"
    seizure = view(
        "seizure/1", country_code="TST", persons=["Mohammed Abdulrahman al-Fictoni", 7, "JAM"]
    )
    strong, acronym = analyzer.analyze(seizure, State())
    assert STRONG_MATCH <= strong.score < 1.0 and strong.level == "high"
    assert strong.indicators["field"] == "persons[0]" and strong.country == "TST"
    assert acronym.level == "medium" and acronym.indicators["acronym_match"] == 1
    assert acronym.indicators["field"] == "persons[2]"


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
