"""Corridors from hand-built single seizures; seizure trends from annual totals."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from clearinghouse.analyzers.base import Finding, View
from clearinghouse.analyzers.converge import current_findings
from clearinghouse.analyzers.state import State
from clearinghouse.analyzers.trafficking_network import TraffickingNetworkAnalyzer
from clearinghouse.analyzers.trafficking_network._routes import kilograms_of, legs_of
from clearinghouse.analyzers.trafficking_network.thresholds import CORRIDOR_MIN_SEIZURES


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


def series(code: str, values: dict[int, float], group: str = "G") -> list[View]:
    return [total(code, group, year, kg) for year, kg in values.items()]


def trends(state: State) -> dict[str, dict[str, Any]]:
    return {
        f"{f['subject']}@{f['period']}": f
        for f in current_findings(state)
        if f["kind"] == "seizure-trend"
    }


def test_route_legs_in_one_place_scheme() -> None:
    assert legs_of(single()) == [("SYR", "JOR"), ("JOR", "SAU")]
    assert legs_of(single(route_origin="Syria", route_transit=["Jordan", "jor"])) == [
        ("SYR", "JOR"),
        ("JOR", "SAU"),
    ]
    assert legs_of(single(route_transit=None, route_destination=None)) == []
    assert legs_of(total("SYR", "G", 2020, 1.0)) == []


def test_weights() -> None:
    assert kilograms_of(single(2.5, "t")) == 2500.0
    assert kilograms_of(single(300, "g")) == 0.3
    assert kilograms_of(single(1000, "tablets")) is None


def test_corridor_holds_from_the_seizure_threshold() -> None:
    out, state = feed([single()] * (CORRIDOR_MIN_SEIZURES - 1))
    assert not any(out)
    out, state = feed([single()], state)
    assert sorted(f.subject for f in out[0]) == ["corridor:JOR>SAU", "corridor:SYR>JOR"]
    assert out[0][0].indicators["seizures"] == CORRIDOR_MIN_SEIZURES


def test_one_big_seizure_opens_a_corridor_and_tablets_count_unweighed() -> None:
    out, state = feed([single(1500.0, route_transit=None)])
    assert [f.subject for f in out[0]] == ["corridor:SYR>SAU"]
    out, state = feed([single(50000.0, "tablets", route_transit=None)], state)
    assert state.get("corridor/SYR>SAU")["unweighed"] == 1


def test_no_percentage_and_no_flag_off_a_zero_or_small_base() -> None:
    # Zero, then 5 t; 50 kg, then 5 t: huge relative changes off nothing.
    _, state = feed(series("AAA", {2018: 0.0, 2019: 0.0, 2020: 0.0, 2021: 5000.0}))
    _, state = feed(series("BBB", {2018: 50.0, 2019: 60.0, 2020: 55.0, 2021: 5000.0}), state)
    assert trends(state) == {}
    summary = TraffickingNetworkAnalyzer().summary(state)
    assert summary["seizure_trends"]["flagged"] == 0


def test_a_change_must_stand_out_of_the_series_own_volatility() -> None:
    stable = {2018: 1000.0, 2019: 1100.0, 2020: 1050.0, 2021: 3000.0}
    volatile = {2018: 1000.0, 2019: 3500.0, 2020: 1000.0, 2021: 3000.0}
    _, state = feed(series("STB", stable) + series("VOL", volatile))
    flagged = trends(state)
    assert list(flagged) == ["seizure-trend:STB|G@2021"]
    finding = flagged["seizure-trend:STB|G@2021"]
    assert finding["indicators"]["change_pct"] == 185.71
    assert "typical year-on-year" in finding["explanation"]
    # Too short a history to know the series' volatility: no flag.
    _, state = feed(series("SHT", {2020: 1000.0, 2021: 3000.0}))
    assert trends(state) == {}


def test_reported_total_rows_are_not_counted_twice() -> None:
    years = {2018: 1000.0, 2019: 1100.0, 2020: 1050.0}
    views = series("TOT", years)
    reported = "Total ATS (including the above)"
    views += [total("TOT", "G", y, kg * 1.01, drug=reported) for y, kg in years.items()]
    _, state = feed(views)
    summary = TraffickingNetworkAnalyzer().summary(state)
    assert summary["seizure_trends"]["flagged"] == 0


def test_a_trend_is_withdrawn_when_late_rows_change_the_series() -> None:
    _, state = feed(series("LTE", {2018: 1000.0, 2019: 1100.0, 2020: 1050.0, 2021: 3000.0}))
    assert list(trends(state)) == ["seizure-trend:LTE|G@2021"]
    # A late 2020 row for another drug of the group: 2020 was 2,950 kg, not 1,050.
    out, state = feed([total("LTE", "G", 2020, 1900.0, drug="other")], state)
    withdrawn = [f for f in out[0] if f.status == "withdrawn"]
    assert [(f.subject, f.period) for f in withdrawn] == [("seizure-trend:LTE|G", "2021")]
    assert "2021" not in {f["period"] for f in trends(state).values()}
