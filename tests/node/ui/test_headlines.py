"""Headlines of findings (issue 18, "Readable findings"): what, where, when and how sure
in one line, from the finding's own fields, for every kind the five analyzers issue.

The findings below have the shapes the analyzers build (the fields and indicator
names of ``analyzers/*``; values taken from runs on the example data), and each is
checked against the wire model of ``analysis-result/1`` first.
"""

from __future__ import annotations

from typing import Any

import pytest

from clearinghouse.node.ui.headlines import (
    KIND_LABELS,
    LEVEL_MEANINGS,
    format_number,
    format_value,
    headline,
)
from clearinghouse.protocol.schemas.analysis_result import Finding

ESCALATION = {  # analyzers/security_risk/_flags.py, judge_month
    "kind": "escalation",
    "subject": "Syria / Aleppo Governorate / 2016-04",
    "country": "Syria",
    "admin1": "Aleppo Governorate",
    "period": "2016-04",
    "score": 1.312,
    "level": "critical",
    "explanation": "Aleppo Governorate, Syria, 2016-04. Deaths (best) 1312 ...",
    "indicators": {
        "events": 412,
        "fatalities_best": 1312,
        "fatalities_low": 1201,
        "fatalities_high": 1498,
        "civilian_deaths": 611,
        "one_sided_events": 9,
        "deaths_per_event": 3.1844660194174756,
        "grid_cells": 11,
        "armed_actors": 7,
        "baseline_mean": 402.3333,
    },
}
CIVILIAN_HARM = {
    **ESCALATION,
    "kind": "civilian-harm",
    "level": "high",
    "score": 2.444,
    "indicators": {**ESCALATION["indicators"], "civilian_deaths": 611},
}
ONE_SIDED = {
    **ESCALATION,
    "kind": "one-sided-violence",
    "level": "medium",
    "score": 1.176,
    "indicators": {**ESCALATION["indicators"], "one_sided_events": 9, "one_sided_share": 0.294},
}
NEW_HOTSPOT = {**ESCALATION, "kind": "new-hotspot", "score": 52.48}
IMPRECISE = {  # analyzers/security_risk/_analyzer.py, imprecise_finding
    "kind": "imprecise-events",
    "subject": "Syria / 2016 / imprecise",
    "country": "Syria",
    "period": "2016",
    "explanation": "Syria, 2016: 1 event(s) with 16522 deaths (best estimate) counted apart",
    "indicators": {
        "events": 1,
        "fatalities_best": 16522,
        "month_unknown_events": 1,
        "regional_events": 0,
        "unlocated_events": 1,
    },
}
SPOILER = {  # analyzers/spoiler_risk/_analyzer.py, _derive
    "kind": "spoiler-typology",
    "subject": "IS",
    "country": "Syria",
    "period": "2017",
    "level": "high",
    "explanation": "IS in 2017 (calendar year): predatory, ...",
    "indicators": {
        "call": "predatory",
        "confidence": "medium",
        "support": "3-9",
        "organisation": "formal",
        "hostility": "100+",
        "predation": "3-9",
    },
}
SANCTIONS = {  # analyzers/sanctions_screening/_analyzer.py, _finding
    "kind": "sanctions-hit",
    "subject": "sanctions:QDe.137",
    "country": "Syria",
    "score": 1.0,
    "level": "high",
    "explanation": "Entry QDe.137 (entity) of the UN Security Council Consolidated List ...",
    "indicators": {
        "reference": "QDe.137",
        "matched_list_name": "Jabhat Fateh al-Sham",
        "match_quality": "good",
        "acronym_match": 0,
        "fields": "side_a, side_b",
        "distinct_names": 2,
        "hits_band": "100-999",
        "threshold": 0.9,
        "linked_individuals": "QDi.299",
        "linked_entities": "",
        "first_month": "2016-01",
        "last_month": "2019-12",
    },
}
RECURRING = {  # analyzers/trafficking_network/_network.py, recurring_findings
    "kind": "recurring-actor",
    "subject": "actor:p_4f1c",
    "country": "Syria",
    "score": 1.5,
    "level": "medium",
    "explanation": "Actor p_4f1c recurs: seen in at least 10 packets across 3 place(s) ...",
    "indicators": {
        "actor": "p_4f1c",
        "events_at_least": 10,
        "places": 3,
        "countries": 1,
        "sources": 1,
        "state": "no",
        "min_events": 5,
        "min_spread": 2,
    },
}
BROKER = {  # analyzers/trafficking_network/_network.py, broker_findings
    "kind": "broker",
    "subject": "actor:p_4f1c",
    "score": 0.0123,
    "level": "medium",
    "explanation": "Actor p_4f1c is broker no. 2 of the actor-place network ...",
    "indicators": {
        "actor": "p_4f1c",
        "rank": 2,
        "betweenness": 0.0123,
        "actors": 40,
        "places": 25,
        "links": 96,
        "states_excluded": 4,
    },
}
CORRIDOR = {  # analyzers/trafficking_network/_routes.py
    "kind": "corridor",
    "subject": "corridor:LBN>SYR",
    "country": "LBN",
    "area": "LBN>SYR",
    "score": 12.5,
    "level": "high",
    "explanation": "Cross-border corridor LBN -> SYR: 4 seizure(s) ...",
    "indicators": {
        "from": "LBN",
        "to": "SYR",
        "seizures": 4,
        "kilograms": 12500.25,
        "unweighed": 0,
    },
}
TREND = {  # analyzers/trafficking_network/_trends.py
    "kind": "seizure-trend",
    "subject": "seizure-trend:SAU|Amphetamine-type stimulants",
    "country": "SAU",
    "period": "2021",
    "score": 2.05,
    "level": "high",
    "explanation": "Seizures of Amphetamine-type stimulants in SAU rose ...",
    "indicators": {
        "country_code": "SAU",
        "drug_group": "Amphetamine-type stimulants",
        "year_from": 2020,
        "year_to": 2021,
        "kg_from": 18520.4,
        "kg_to": 41234.75,
        "change_kg": 22714.35,
        "change_pct": 122.64,
        "log_change": 0.8,
        "typical_log_change": 0.13,
        "threshold_log_change": 0.4055,
    },
}
ANOMALY = {  # analyzers/illicit_economy/_derive.py, _anomaly_finding
    "kind": "price-anomaly",
    "subject": "Damascus (Damascus, Syrian Arab Republic): Bread, KG, Retail",
    "country": "Syrian Arab Republic",
    "admin1": "Damascus Governorate",
    "area": "Damascus",
    "period": "2020-06",
    "score": 7.41,
    "level": "high",
    "explanation": "The price of Bread (KG) at Damascus (Damascus) rose 85.2% ...",
    "indicators": {
        "price": 1250.0,
        "previous_price": 675.0,
        "previous_month": "2020-05",
        "currency": "SYP",
        "change_pct": 85.19,
        "log_change": 0.6162,
        "robust_z": 9.8,
        "cross_z": 7.41,
        "country_median_change": 0.0511,
        "country_series": 214,
        "history": 36,
        "z_threshold": 3.5,
    },
}
MISMATCH = {  # analyzers/illicit_economy/_derive.py, _mismatch_finding
    **ANOMALY,
    "kind": "unit-mismatch",
    "level": "low",
    "score": 3.0,
    "indicators": {
        "price": 1250000.0,
        "currency": "SYP",
        "unit": "KG",
        "reference": 1250.0,
        "reference_kind": "series neighbours",
        "factor": 1000.0,
    },
}
BASKET = {  # analyzers/illicit_economy/_derive.py, _basket_findings
    "kind": "basket-cost-level",
    "subject": "Aleppo (Syrian Arab Republic): staple food basket in SYP",
    "country": "Syrian Arab Republic",
    "admin1": "Aleppo Governorate",
    "area": "Aleppo",
    "period": "2020-07",
    "score": 5.12,
    "level": "high",
    "explanation": "In Aleppo, the monthly staple basket of a household of 5 ...",
    "indicators": {
        "basket_cost": 187654.32,
        "currency": "SYP",
        "baseline_cost": 36652.1,
        "baseline_period": "2013-01/2013-06",
        "ratio": 5.12,
        "level_crossed": 5,
        "markets": 3,
        "items_carried_forward": 0,
    },
}

#: kind -> (finding, the headline it gets)
EXPECTED: dict[str, tuple[dict[str, Any], str]] = {
    "escalation": (
        ESCALATION,
        "Escalation (1,312 deaths, 412 events) · Aleppo Governorate, Syria · 2016-04 · "
        "level critical, score 1.31",
    ),
    "civilian-harm": (
        CIVILIAN_HARM,
        "Civilian harm (611 civilian deaths, 1,312 deaths, 412 events) · "
        "Aleppo Governorate, Syria · 2016-04 · level high, score 2.44",
    ),
    "one-sided-violence": (
        ONE_SIDED,
        "One-sided violence (9 one-sided events, 1,312 deaths, 412 events) · "
        "Aleppo Governorate, Syria · 2016-04 · level medium, score 1.18",
    ),
    "new-hotspot": (
        NEW_HOTSPOT,
        "New hotspot (1,312 deaths, 412 events) · Aleppo Governorate, Syria · 2016-04 · "
        "level critical, score 52.48",
    ),
    "imprecise-events": (
        IMPRECISE,
        "Events counted apart (1 event, 16,522 deaths) · Syria · 2016 · no level",
    ),
    "spoiler-typology": (
        SPOILER,
        "Spoiler typology: predatory — IS · Syria · 2017 · level high, confidence medium",
    ),
    "sanctions-hit": (
        SANCTIONS,
        "Sanctions hit on QDe.137 (2 screened names) · Syria · 2016-01 to 2019-12 · "
        "level high, score 1",
    ),
    "recurring-actor": (
        RECURRING,
        "Recurring actor p_4f1c (3 places) · Syria · no period stated · level medium, score 1.5",
    ),
    "broker": (
        BROKER,
        "Broker no. 2: p_4f1c · no place stated · no period stated · level medium, score 0.0123",
    ),
    "corridor": (
        CORRIDOR,
        "Trafficking corridor LBN → SYR (4 seizures, 12,500 kg) · LBN>SYR, LBN · "
        "no period stated · level high, score 12.5",
    ),
    "seizure-trend": (
        TREND,
        "Seizure trend, Amphetamine-type stimulants (18,520 kg → 41,235 kg) · SAU · "
        "2020 to 2021 · level high, score 2.05",
    ),
    "price-anomaly": (
        ANOMALY,
        "Price anomaly: Damascus (Damascus, Syrian Arab Republic): Bread, KG, Retail (+85.19 %)"
        " · Damascus Governorate, Syrian Arab Republic · 2020-06 · level high, score 7.41",
    ),
    "unit-mismatch": (
        MISMATCH,
        "Unit mix-up: Damascus (Damascus, Syrian Arab Republic): Bread, KG, Retail "
        "(1,000 x the reference) · Damascus Governorate, Syrian Arab Republic · 2020-06 · "
        "level low, score 3",
    ),
    "basket-cost-level": (
        BASKET,
        "Food basket cost (5.12 x baseline) · Aleppo Governorate, Syrian Arab Republic · "
        "2020-07 · level high, score 5.12",
    ),
}


def test_every_kind_the_analyzers_issue_has_a_case() -> None:
    assert set(EXPECTED) == set(KIND_LABELS)


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_the_headline_says_what_where_when_and_how_sure(kind: str) -> None:
    finding, expected = EXPECTED[kind]
    Finding.model_validate(finding)  # the wire shape of analysis-result/1
    assert headline(finding) == expected


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_every_level_an_analyzer_gives_a_kind_is_explained(kind: str) -> None:
    finding, _ = EXPECTED[kind]
    if finding.get("level"):
        meaning = LEVEL_MEANINGS[kind][finding["level"]]
        assert meaning.meaning and meaning.source.startswith(("docs/analysis.md", "analyzers/"))


def test_a_withdrawn_finding_says_so_and_an_unknown_kind_reads_as_itself() -> None:
    assert headline({**ESCALATION, "status": "withdrawn"}).startswith("Withdrawn: Escalation")
    plugin = {"kind": "water-stress", "subject": "well 12", "explanation": "dry"}
    assert (
        headline(plugin) == "Water stress: well 12 · no place stated · no period stated · no level"
    )


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (16522, "16,522"),
        (1234567, "1,234,567"),
        (0, "0"),
        (-22714.35, "-22,714"),
        (12500.25, "12,500"),
        (185.0, "185"),
        (3.1844660194174756, "3.18"),
        (12.5, "12.5"),
        (2.0, "2"),
        (0.0123, "0.0123"),
        (0.000012, "1.20e-05"),
    ],
)
def test_numbers_get_thousands_separators_and_sensible_decimals(value: float, shown: str) -> None:
    assert format_number(value) == shown


def test_indicator_values_that_are_not_numbers_stay_text() -> None:
    assert format_value("2013-01/2013-06") == "2013-01/2013-06"
    assert format_value(True) == "True" and format_value(None) == ""
