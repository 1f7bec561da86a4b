"""``mission.security-risk``: counting by precision, flag rules, withdrawal, indicators.

Hand-built views for the rules; records of a non-Syria country through the full
packet path; real UCDP GED Syria events in ``test_convergence.py``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import yaml

from clearinghouse.analyzers.base import WITHDRAWN, Analyzer, Finding, View
from clearinghouse.analyzers.converge import current_findings
from clearinghouse.analyzers.offline import OfflineRun, final_picture
from clearinghouse.analyzers.registry import load
from clearinghouse.analyzers.security_risk import SecurityRiskAnalyzer
from clearinghouse.analyzers.security_risk._analyzer import IMPRECISE_KIND
from clearinghouse.analyzers.security_risk._flags import (
    CIVILIAN_MIN_DEATHS,
    ESCALATION_MIN_FATALITIES,
    HOTSPOT_MIN_FATALITIES,
    ONE_SIDED_MIN_EVENTS,
    TOP_N,
)
from clearinghouse.analyzers.security_risk._hotspots import incident_of, priogrid
from clearinghouse.analyzers.state import State
from tests.support import EXAMPLES

SCHEMA = "conflict-event/1"
HOTSPOT_KEYS = {
    "country",
    "admin1",
    "month",
    "events",
    "fatalities_best",
    "fatalities_low",
    "fatalities_high",
    "civilian_deaths",
}


def _flagged(findings: list[Finding]) -> list[Finding]:
    """The findings that flag an area-month (not the report of events counted apart)."""
    apart = [f for f in findings if f.kind == IMPRECISE_KIND]
    assert all(f.level is None and "counted apart" in f.explanation for f in apart)
    return [f for f in findings if f.kind != IMPRECISE_KIND]


def _view(n: int = 0, **claims: Any) -> View:
    return View(
        SCHEMA, "mission", f"jti-{n}", "digest", datetime(2026, 1, 1, tzinfo=UTC), "hc", claims
    )


def _event(
    admin1: str | None,
    day: str,
    best: int,
    *,
    civilians: int = 0,
    tov: int = 1,
    end: str | None = None,
    date_prec: int = 1,
    where_prec: int = 1,
    country: str = "Syria",
    sides: tuple[tuple[int, str], tuple[int, str]] = ((118, "Government of Syria"), (4456, "X")),
    lat: float = 35.1,
    lon: float = 36.7,
) -> View:
    claims: dict[str, Any] = {
        "country": country,
        "date_start": day,
        "date_end": end or day,
        "date_precision": date_prec,
        "where_precision": where_prec,
        "type_of_violence": tov,
        "side_a_id": sides[0][0],
        "side_a": sides[0][1],
        "side_b_id": sides[1][0],
        "side_b": sides[1][1],
        "latitude": lat,
        "longitude": lon,
        "deaths": {"best": best, "low": best, "high": best, "civilians": civilians},
    }
    if admin1 is not None:
        claims["admin1"] = admin1
    return _view(**claims)


def _feed(analyzer: SecurityRiskAnalyzer, state: State, views: list[View]) -> list[Finding]:
    out = []
    for view in views:
        out += analyzer.analyze(view, state)
        state.commit()
    return out


def _kinds(findings: list[Finding], kind: str) -> list[Finding]:
    return [f for f in findings if f.kind == kind]


# -- basics ------------------------------------------------------------------------------


def test_entry_point_loads_the_analyzer() -> None:
    analyzer = load("mission.security-risk")
    assert isinstance(analyzer, SecurityRiskAnalyzer) and isinstance(analyzer, Analyzer)
    assert analyzer.version == "2.0.0" and analyzer.schemas == frozenset({SCHEMA})


def test_a_quiet_event_yields_no_finding_and_a_hotspot_row() -> None:
    state = State()
    assert SecurityRiskAnalyzer().analyze(_event("Homs", "2016-01-05", 3), state) == []
    summary = SecurityRiskAnalyzer().summary(state)
    assert {"hotspots", "trends", "flags", "imprecise", "indicators"} <= set(summary)
    (hotspot,) = summary["hotspots"]
    assert set(hotspot) == HOTSPOT_KEYS
    assert (hotspot["admin1"], hotspot["month"], hotspot["fatalities_best"]) == (
        "Homs",
        "2016-01",
        3,
    )


# -- counting by precision -----------------------------------------------------------------


def test_a_national_summary_is_counted_apart_never_a_hotspot() -> None:
    """UCDP's year-long national summary: country-level place, year-level date, 1 January."""
    analyzer, state = SecurityRiskAnalyzer(), State()
    summary_row = _event(
        None, "2016-01-01", 8179, end="2016-12-31", date_prec=5, where_prec=6, lat=35.0, lon=38.0
    )
    with_admin1 = _event(
        "Homs", "2016-01-01", 5000, end="2016-12-31", date_prec=5, where_prec=6
    )  # an admin1 beside where_prec 6 is not a location either
    assert (
        _flagged(
            _feed(analyzer, state, [_event("Homs", "2016-01-03", 2), summary_row, with_admin1])
        )
        == []
    )
    summary = analyzer.summary(state)
    assert [(h["admin1"], h["fatalities_best"]) for h in summary["hotspots"]] == [("Homs", 2)]
    (apart,) = summary["imprecise"]
    assert (apart["admin1"], apart["period"], apart["events"]) == (None, "2016", 2)
    assert apart["fatalities_best"] == 13179
    assert apart["month_unknown_events"] == apart["unlocated_events"] == 2
    # ... but it counts in the country's year.
    country = next(i for i in summary["indicators"] if i["admin1"] is None)
    assert (country["period"], country["events"], country["fatalities_best"]) == ("2016", 3, 13181)


def test_date_precision_decides_the_month() -> None:
    one_month = incident_of(_event("Homs", "2016-03-01", 1, end="2016-03-31", date_prec=4))
    across = incident_of(_event("Homs", "2016-03-20", 1, end="2016-04-10", date_prec=4))
    week = incident_of(_event("Homs", "2016-03-30", 1, end="2016-04-02", date_prec=2))
    years = incident_of(_event("Homs", "2016-11-01", 1, end="2017-02-28", date_prec=5))
    assert one_month and (one_month.month, one_month.period) == ("2016-03", "2016-03")
    assert across and (across.month, across.period) == (None, "2016")
    assert week and (week.month, week.period) == ("2016-03", "2016-03")
    assert years and (years.month, years.period) == (None, "2016-11/2017-02")
    assert not across.precise and across.located and across.admin1 == "Homs"


def test_location_precision_decides_the_admin1() -> None:
    for where, located, regional in ((1, True, False), (4, True, False), (5, False, True)):
        incident = incident_of(_event("Homs", "2016-03-01", 1, where_prec=where))
        assert incident and (incident.located, incident.regional) == (located, regional)
    for where in (6, 7):
        incident = incident_of(_event("Homs", "2016-03-01", 1, where_prec=where))
        assert incident and not incident.located and incident.admin1 is None
    # Cells only from where_prec 1-3.
    cells = [incident_of(_event("H", "2016-03-01", 1, where_prec=w)) for w in (1, 3, 4, 6)]
    assert [c.cell is not None for c in cells if c] == [True, True, False, False]


def test_located_events_of_unknown_month_are_apart_with_their_admin1() -> None:
    analyzer, state = SecurityRiskAnalyzer(), State()
    view = _event("Idlib", "2016-02-01", 300, end="2016-06-01", date_prec=5)
    assert _flagged(_feed(analyzer, state, [view])) == []
    summary = analyzer.summary(state)
    assert summary["hotspots"] == []
    (apart,) = summary["imprecise"]
    assert (apart["admin1"], apart["period"], apart["month_unknown_events"]) == ("Idlib", "2016", 1)
    area_year = [i for i in summary["indicators"] if i["admin1"] == "Idlib"]
    assert [(i["period"], i["events"]) for i in area_year] == [("2016", 1)]


def test_priogrid_matches_ucdp() -> None:
    # The first event of the GED Syria file: 34.802462, 36.707602 -> priogrid_gid 179714.
    assert priogrid(34.802462, 36.707602) == 179714
    assert priogrid(-90, -180) == 1 and priogrid(90, 180) == 259200


# -- flags -------------------------------------------------------------------------------


def _baseline(analyzer: SecurityRiskAnalyzer, state: State, deaths: int = 20) -> None:
    _feed(analyzer, state, [_event("Homs", f"2016-0{m}-10", deaths) for m in (1, 2, 3)])


def test_escalation_needs_twice_the_baseline_and_the_minimum() -> None:
    analyzer, state = SecurityRiskAnalyzer(), State()
    _baseline(analyzer, state)  # mean 20 a month in Jan-Mar: escalation needs >= 40 in April
    assert _kinds(_feed(analyzer, state, [_event("Homs", "2016-04-01", 39)]), "escalation") == []
    (f,) = _kinds(_feed(analyzer, state, [_event("Homs", "2016-04-02", 1)]), "escalation")
    assert (f.country, f.admin1, f.period, f.level) == ("Syria", "Homs", "2016-04", "medium")
    assert f.indicators["fatalities_best"] == 40 and f.indicators["baseline_mean"] == 20.0
    assert "2.0x the mean" in f.explanation and ">= 2x" in f.explanation
    # Same level again: a changed finding (the totals grew); 100 deaths: level high.
    raised = _kinds(_feed(analyzer, state, [_event("Homs", "2016-04-04", 60)]), "escalation")
    assert [(f.level, f.status) for f in raised] == [("high", None)]


def test_small_areas_never_escalate() -> None:
    analyzer, state = SecurityRiskAnalyzer(), State()
    _baseline(analyzer, state, deaths=0)
    quiet = _feed(analyzer, state, [_event("Homs", "2016-04-10", ESCALATION_MIN_FATALITIES - 1)])
    assert _kinds(quiet, "escalation") == []


def test_no_escalation_without_three_months_of_data_held() -> None:
    analyzer, state = SecurityRiskAnalyzer(), State()
    _feed(analyzer, state, [_event("Homs", "2016-01-10", 1)])
    assert _kinds(_feed(analyzer, state, [_event("Homs", "2016-03-10", 300)]), "escalation") == []
    # Data for December 2015 moves the start back: March is now judged, and flagged.
    later = _feed(analyzer, state, [_event("Aleppo", "2015-12-10", 1)])
    assert [(f.kind, f.period) for f in _kinds(later, "escalation")] == [("escalation", "2016-03")]


def test_an_escalation_is_withdrawn_when_late_data_raise_its_baseline() -> None:
    analyzer, state = SecurityRiskAnalyzer(), State()
    _baseline(analyzer, state)
    (raised,) = _kinds(_feed(analyzer, state, [_event("Homs", "2016-04-02", 50)]), "escalation")
    assert raised.status is None
    # A late report for February: mean (20 + 120 + 20) / 3 = 53.3, so 50 is no escalation.
    late = _feed(analyzer, state, [_event("Homs", "2016-02-20", 100)])
    withdrawn = [f for f in late if f.status == WITHDRAWN]
    assert [(f.kind, f.subject, f.period) for f in withdrawn] == [
        ("escalation", "Syria / Homs / 2016-04", "2016-04")
    ]
    held = current_findings(state)
    assert not any(f["kind"] == "escalation" and f["period"] == "2016-04" for f in held)
    assert not any(f["kind"] == "escalation" for f in analyzer.summary(state)["flags"])


def test_civilian_harm_and_one_sided_violence() -> None:
    analyzer, state = SecurityRiskAnalyzer(), State()
    views = [
        _event("Idlib", "2016-01-01", 10, civilians=10, tov=3) for _ in range(ONE_SIDED_MIN_EVENTS)
    ]
    findings = _feed(analyzer, state, views)
    held = {(f["kind"], f["level"]) for f in current_findings(state)}
    assert held == {("civilian-harm", "medium"), ("one-sided-violence", "high")}
    civilian = [f for f in findings if f.kind == "civilian-harm"][-1]
    assert civilian.indicators["civilian_deaths"] == 30 >= CIVILIAN_MIN_DEATHS
    assert civilian.indicators["civilian_share"] == 1.0
    # Fighting that kills no civilians dilutes the share below half: withdrawn.
    more = _feed(analyzer, state, [_event("Idlib", "2016-01-02", 31) for _ in range(10)])
    assert {(f.kind, f.status) for f in more if f.status} == {
        ("civilian-harm", WITHDRAWN),
        ("one-sided-violence", WITHDRAWN),
    }


def test_new_hotspot_entering_the_top_areas_and_leaving_it() -> None:
    analyzer, state = SecurityRiskAnalyzer(), State()
    areas = [f"Area {i}" for i in range(TOP_N + 1)]
    _feed(analyzer, state, [_event(a, "2016-01-05", 100 - i) for i, a in enumerate(areas[:-1])])
    _feed(analyzer, state, [_event(areas[-1], "2016-01-06", 1)])
    findings = _feed(analyzer, state, [_event(areas[-1], "2016-02-01", HOTSPOT_MIN_FATALITIES)])
    (hot,) = _kinds(findings, "new-hotspot")
    assert hot.admin1 == areas[-1] and hot.indicators["rank"] == 1
    # Five other areas overtake it in February: it is no longer in the top, withdrawn.
    overtake = _feed(
        analyzer, state, [_event(a, "2016-02-02", 30 + i) for i, a in enumerate(areas[:-1])]
    )
    hot_calls = [(f.admin1, f.status) for f in overtake if f.kind == "new-hotspot"]
    assert hot_calls[-1] == (areas[-1], WITHDRAWN)  # (its rank fell on the way)
    assert {a for a, _ in hot_calls} == {areas[-1]}
    assert not [f for f in current_findings(state) if f["kind"] == "new-hotspot"]


def test_events_without_admin1_never_flag() -> None:
    analyzer, state = SecurityRiskAnalyzer(), State()
    _feed(analyzer, state, [_event(None, "2016-01-01", 1)])
    assert (
        _flagged(_feed(analyzer, state, [_event(None, "2016-02-01", 5000, civilians=5000)])) == []
    )
    summary = analyzer.summary(state)
    assert summary["hotspots"] == [] and summary["imprecise"][0]["fatalities_best"] == 5000


def test_withheld_claims_never_raise() -> None:
    analyzer, state = SecurityRiskAnalyzer(), State()
    views = [
        _view(),
        _view(event_id="1"),
        _view(country="Syria"),  # no date: cannot be placed
        _view(country="Syria", month="2016-03"),  # the generalised month instead of the date
        _view(country="Syria", date_start="2016-03-02", deaths={"best": 4}),  # no bounds
        _view(country="Syria", date_start="bad", month="2016-04", admin1=7, deaths="x"),
        _view(country="Syria", month="2016-03", admin1="Homs", fatality_band="5-24"),
        _view(country="Syria", month="2016-03", type_of_violence=True, deaths={"best": -1}),
        _view(country="Syria", month="2016-03", admin1="Homs", latitude_cell=34.75),
        _view(country="Syria", date_start="2016-03-02", date_precision="x", where_precision=[]),
    ]
    assert _flagged(_feed(analyzer, state, views)) == []
    summary = analyzer.summary(state)
    json.dumps(summary)
    apart = {(h["admin1"], h["period"]): h for h in summary["imprecise"]}
    assert apart[None, "2016-03"]["events"] == 4 and apart[None, "2016-03"]["fatalities_low"] == 4
    hot = {(h["admin1"], h["month"]): h for h in summary["hotspots"]}
    assert hot["Homs", "2016-03"]["events"] == 2


def test_state_stays_json_and_each_view_touches_a_few_keys() -> None:
    analyzer, state = SecurityRiskAnalyzer(), State()
    for i in range(200):
        view = _event(f"Area {i % 7}", f"2016-{1 + i % 12:02d}-01", i % 30, tov=1 + i % 3)
        analyzer.analyze(view, state)
        changed, _ = state.changes()
        assert len(changed) <= 2 + 4  # month doc, country, up to 4 reported scopes
        json.dumps(changed)
        state.commit()


# -- indicators and trends ---------------------------------------------------------------


def test_deadliness_diffusion_and_fragmentation() -> None:
    analyzer, state = SecurityRiskAnalyzer(), State()
    gov, rebels, other, civ = (1, "Gov"), (2, "Rebels"), (3, "Other"), (1, "Civilians")
    views = [
        # January: 3 events in 2 cells, actors Gov and Rebels; one-sided side B excluded.
        _event("A", "2016-01-01", 10, sides=(gov, rebels), lat=10.1, lon=20.1),
        _event("A", "2016-01-02", 20, sides=(gov, rebels), lat=10.2, lon=20.2),
        _event("A", "2016-01-03", 0, sides=(rebels, civ), tov=3, lat=10.7, lon=20.1),
        # February: one more cell, a third actor; an admin1-centroid event has no cell.
        _event("A", "2016-02-01", 5, sides=(other, rebels), lat=11.3, lon=20.1),
        _event("A", "2016-02-02", 5, sides=(other, rebels), where_prec=4, lat=15.0, lon=25.0),
    ]
    _feed(analyzer, state, views)
    by = {(i["admin1"], i["period"]): i for i in analyzer.summary(state)["indicators"]}
    jan, feb, year = by["A", "2016-01"], by["A", "2016-02"], by["A", "2016"]
    assert jan["deaths_per_event"] == 10.0 and feb["deaths_per_event"] == 5.0
    assert (jan["grid_cells"], feb["grid_cells"], year["grid_cells"]) == (2, 1, 3)
    assert jan["grid_cells_ever"] == 3 and jan["diffusion"] == round(2 / 3, 3)
    assert year["diffusion"] == 1.0
    assert (jan["armed_actors"], feb["armed_actors"], year["armed_actors"]) == (2, 2, 3)
    assert by[None, "2016"]["events"] == 5 and by[None, "2016"]["deaths_per_event"] == 8.0


def test_trends_name_their_period_and_need_enough_data() -> None:
    analyzer, state = SecurityRiskAnalyzer(), State()
    views = [_event("A", f"2016-0{m}-0{d}", 10) for m in (1, 2, 3) for d in (1, 2)]
    views += [_event("A", f"2016-0{m}-0{d}", 30) for m in (4, 5, 6) for d in (1, 2)]
    views += [_event("B", "2016-06-01", 2)]
    _feed(analyzer, state, views)
    trends = {t["admin1"]: t for t in analyzer.summary(state)["trends"]}
    a = trends["A"]
    assert (a["period"], a["baseline_period"], a["direction"]) == (
        "2016-04/2016-06",
        "2016-01/2016-03",
        "rising",
    )
    assert a["ratio"] == 3.0 and a["current"] and a["data_until"] == "2016-06"
    assert trends["B"]["direction"] == "insufficient data" and "ratio" not in trends["B"]
    # One stray event a year later: A's trend stays stated for its period, not current.
    _feed(analyzer, state, [_event("B", "2017-06-01", 1)])
    a = {t["admin1"]: t for t in analyzer.summary(state)["trends"]}["A"]
    assert a["data_until"] == "2017-06" and not a["current"]
    assert a["period"] != "2017-04/2017-06"


# -- any country, through the real packet path -------------------------------------------


def _record(n: int, **fields: Any) -> dict[str, Any]:
    """A ``conflict-event/1`` record of a GED row for Mali (Gleditsch-Ward 432)."""
    record: dict[str, Any] = {
        "event_id": str(n),
        "year": 2019,
        "type_of_violence": 2,
        "conflict_id": 13100,
        "conflict": "Dan Na Ambassagou - Fulani",
        "dyad_id": 14800,
        "dyad": "Dan Na Ambassagou - Fulani",
        "side_a_id": 6500,
        "side_a": "Dan Na Ambassagou",
        "side_b_id": 6501,
        "side_b": "Fulani",
        "date_start": "2019-03-23",
        "date_end": "2019-03-23",
        "date_precision": 1,
        "country": "Mali",
        "country_id": 432,
        "region": "Africa",
        "admin1": "Mopti region",
        "place": "Ogossagou",
        "latitude": 14.38,
        "longitude": -4.01,
        "where_precision": 1,
        "event_clarity": 1,
        "deaths": {"best": 5, "low": 5, "high": 5, "civilians": 0},
    }
    return record | fields


def test_records_of_another_country_through_the_packet_path() -> None:
    records = [
        _record(i, date_start=day, date_end=day)
        for i, day in enumerate(
            ("2018-12-02", "2018-12-20", "2019-01-05", "2019-01-06", "2019-02-11", "2019-03-01")
        )
    ]
    records += [
        _record(10, deaths={"best": 160, "low": 150, "high": 170, "civilians": 160}),
        _record(
            11,
            admin1=None,
            date_start="2019-01-01",
            date_end="2019-12-31",
            date_precision=5,
            where_precision=6,
            deaths={"best": 900},
        ),
        _record(12, admin1="Segou region", where_precision=5, latitude=13.4, longitude=-6.2),
    ]
    records = [{k: v for k, v in r.items() if v is not None} for r in records]
    config = yaml.safe_load((EXAMPLES / "federation.yaml").read_text())
    run = OfflineRun.start(SecurityRiskAnalyzer(), config, participant="mission", issuer="mission")
    views = run.views(SCHEMA, records)
    picture = final_picture(SecurityRiskAnalyzer(), views)
    backwards = final_picture(SecurityRiskAnalyzer(), views[::-1])
    assert (picture.findings, picture.summary) == (backwards.findings, backwards.summary)
    held = {(f["kind"], f.get("admin1"), f["period"]) for f in picture.findings}
    assert ("escalation", "Mopti region", "2019-03") in held
    assert ("civilian-harm", "Mopti region", "2019-03") in held
    summary = picture.summary
    assert summary["hotspots"][0]["admin1"] == "Mopti region"
    assert {h["admin1"] for h in summary["hotspots"]} == {"Mopti region"}
    apart = {(i["admin1"], i["period"]) for i in summary["imprecise"]}
    assert apart == {(None, "2019"), (None, "2019-03")}
    (country,) = summary["countries"]
    assert (country["country"], country["events"], country["imprecise_events"]) == ("Mali", 9, 2)
