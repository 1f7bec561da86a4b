"""Corridors from hand-built single seizures; seizure trends from annual totals."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from analyzers.base import Finding, View
from analyzers.state import State
from analyzers.trafficking_network import TraffickingNetworkAnalyzer
from analyzers.trafficking_network._routes import kilograms_of, legs_of
from analyzers.trafficking_network.thresholds import (
    CORRIDOR_MIN_SEIZURES,
    NETWORK_EVERY_VIEWS,
    TREND_MIN_KG,
    TREND_SETTLE_VIEWS,
)


def seizure(**claims: Any) -> View:
    return View(
        "seizure/1", "unodc", "jti", "digest", datetime(2026, 1, 1, tzinfo=UTC), "hc", claims
    )


def single(quantity: float = 40.0, unit: str = "kg", **more: Any) -> View:
    claims = {
        "kind": "single-seizure",
        "country": "Jordan",
        "country_code": "JOR",
        "admin1": "Mafraq",
        "date": "2021-03-02",
        "quantity": quantity,
        "unit": unit,
        "route_origin": "SYR",
        "route_transit": ["JOR"],
        "route_destination": "SAU",
    }
    return seizure(**{**claims, **more})


def total(code: str, group: str, year: int, kilograms: float, drug: str = "d") -> View:
    return seizure(
        kind="annual-total", country=f"Country {code}", country_code=code, drug_group=group,
        drug=drug, year=year, kilograms=kilograms,
    )  # fmt: skip


def feed(views: list[View], state: State | None = None) -> tuple[list[list[Finding]], State]:
    analyzer = TraffickingNetworkAnalyzer()
    state = state if state is not None else State()
    out = []
    for view in views:
        out.append(analyzer.analyze(view, state))
        state.commit()
    return out, state


def test_route_legs() -> None:
    assert legs_of(single()) == [("SYR", "JOR"), ("JOR", "SAU")]
    assert legs_of(single(route_transit=["jor", "JOR", "IRQ"], route_destination="syr")) == [
        ("SYR", "JOR"),
        ("JOR", "IRQ"),
        ("IRQ", "SYR"),
    ]
    assert legs_of(single(route_transit=None, route_destination=None)) == []
    assert legs_of(seizure(kind="annual-total", route_origin="SYR", route_destination="JOR")) == []
    assert legs_of(seizure(route_origin="LBN", route_destination="  ")) == []


def test_weights() -> None:
    assert kilograms_of(single(2500, "g")) == 2.5
    assert kilograms_of(single(2, "tonnes")) == 2000.0
    assert kilograms_of(single(12000, "tablets")) is None
    assert kilograms_of(seizure(kilograms=7.0)) == 7.0
    assert kilograms_of(seizure()) is None


def test_corridor_reported_at_the_seizure_threshold_then_at_weight_milestones() -> None:
    out, state = feed([single()] * CORRIDOR_MIN_SEIZURES)
    assert [len(f) for f in out] == [0] * (CORRIDOR_MIN_SEIZURES - 1) + [2]
    first = {f.subject: f for f in out[-1]}
    leg = first["corridor:SYR>JOR"]
    assert leg.kind == "corridor" and leg.area == "SYR>JOR" and leg.country == "SYR"
    assert leg.indicators == {
        "from": "SYR", "to": "JOR", "seizures": 3, "kilograms": 120.0, "unweighed": 0,
    }  # fmt: skip
    assert leg.level == "low" and leg.period == "2021-03"
    assert f">= {CORRIDOR_MIN_SEIZURES} seizures" in leg.explanation
    assert "120.0 kg" in leg.explanation
    # No repeat for more of the same ...
    out, state = feed([single()] * 5, state)
    assert not any(out)
    # ... until the weight passes 1,000 kg, then 10,000 kg.
    out, state = feed([single(700.0), single(9000.0, unit="kg", date="2021-05-01")], state)
    assert [sorted(f.subject for f in batch) for batch in out] == [
        ["corridor:JOR>SAU", "corridor:SYR>JOR"],
        ["corridor:JOR>SAU", "corridor:SYR>JOR"],
    ]
    assert "passed 1,000 kg" in out[0][0].explanation and out[0][0].level == "medium"
    assert "passed 10,000 kg" in out[1][0].explanation and out[1][0].level == "high"
    summary = TraffickingNetworkAnalyzer().summary(state)
    assert summary["corridors"][0] == {
        "from": "JOR", "to": "SAU", "seizures": 10, "kilograms": 10020.0, "unweighed": 0,
        "first": "2021-03", "last": "2021-05",
    }  # fmt: skip


def test_one_big_seizure_opens_a_corridor_and_tablets_count_unweighed() -> None:
    out, state = feed([single(1500.0, route_transit=None)])
    assert [f.subject for f in out[0]] == ["corridor:SYR>SAU"]
    out, state = feed([single(50000.0, "tablets", route_transit=None)], state)
    assert not out[0]
    assert state.get("corridor/SYR>SAU")["unweighed"] == 1


def test_persons_link_by_pseudonym_only() -> None:
    names = ["Abu Example", "Example Person"]
    linked = single(persons=names, persons_refs=["ref-p1", "ref-p2"])
    unlinked = single(persons=names)
    out, state = feed([linked, unlinked])
    assert state.keys("actor/") == ["actor/ref-p1", "actor/ref-p2"]
    assert state.get("actor/ref-p1")["places"] == ["JOR / Mafraq"]
    summary = TraffickingNetworkAnalyzer().summary(state)
    assert summary["unlinked_persons"] == 2
    dumped = json.dumps([dict(state.items()), summary, [f.as_json() for b in out for f in b]])
    assert all(name not in dumped for name in names)


def _pad(n: int) -> list[View]:
    return [seizure(kind="single-seizure")] * n


def test_seizure_trend_is_judged_once_the_series_settles() -> None:
    group = "Amphetamines and Stimulants"
    views = [
        total("SYR", group, 2022, 5000.0, "captagon"),
        total("SYR", group, 2022, 1950.0, "amphetamine"),
        total("SYR", group, 2021, 2600.0, "captagon"),
        total("SYR", group, 2020, 2590.0, "captagon"),
        total("LBN", group, 2022, 150.0),
        total("LBN", group, 2021, 100.0),  # +50 kg: under TREND_MIN_KG
        total("JOR", group, 2022, 0.0),
        total("JOR", group, 2021, 400.0),  # -100%: a fall
    ]
    out, state = feed(views)
    assert not any(out)
    # The first pass comes before the series have settled: nothing yet.
    out, state = feed(_pad(NETWORK_EVERY_VIEWS - len(views)), state)
    assert not any(out)
    assert len(state.get("trend-pending")) == 3
    # The next pass judges them (settled TREND_SETTLE_VIEWS views after their last row).
    assert TREND_SETTLE_VIEWS <= NETWORK_EVERY_VIEWS
    out, state = feed(_pad(NETWORK_EVERY_VIEWS), state)
    found = [f for batch in out for f in batch]
    assert [f.subject for f in found] == [
        "seizure-trend:JOR|Amphetamines and Stimulants|2021-2022",
        "seizure-trend:SYR|Amphetamines and Stimulants|2021-2022",
    ]
    jor, syr = found
    assert syr.indicators["kg_from"] == 2600.0 and syr.indicators["kg_to"] == 6950.0
    assert syr.indicators["change_pct"] == 167.31 and syr.level == "medium"
    assert syr.country == "Country SYR" and syr.period == "2022"
    assert "rose from 2,600.0 kg in 2021 to 6,950.0 kg in 2022 (+167.3%" in syr.explanation
    assert f">= {TREND_MIN_KG:,.0f} kg" in syr.explanation
    assert jor.indicators["change_pct"] == -100.0 and "fell" in jor.explanation
    assert not state.get("trend-pending")
    # A late row makes 2020-2021 a rise and reverses 2021-2022 into a fall: both are
    # reported; JOR, untouched, is not reported again.
    out, state = feed([total("SYR", group, 2021, 20000.0, "amphetamine")], state)
    out, state = feed(_pad(2 * NETWORK_EVERY_VIEWS), state)
    again = [f for batch in out for f in batch]
    assert [f.subject for f in again] == [
        "seizure-trend:SYR|Amphetamines and Stimulants|2020-2021",
        "seizure-trend:SYR|Amphetamines and Stimulants|2021-2022",
    ]
    assert "rose" in again[0].explanation and again[0].level == "high"
    assert "fell" in again[1].explanation and again[1].level == "high"
    trends = TraffickingNetworkAnalyzer().summary(state)["seizure_trends"]
    assert trends["flagged"] == 3 and trends["pending_series"] == 0


def test_annual_totals_without_the_needed_fields_are_skipped() -> None:
    base = {"kind": "annual-total", "country_code": "SYR", "drug_group": "g", "year": 2022}
    views = [
        seizure(**base),
        seizure(**base, kilograms_band="1e2-1e3"),
        seizure(**{**base, "country_code": None}, kilograms=5.0),
        seizure(**{**base, "drug_group": None}, kilograms=5.0),
        seizure(**{**base, "year": "2022"}, kilograms=5.0),
    ]
    _, state = feed(views)
    assert state.keys("trend") == []
