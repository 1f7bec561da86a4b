"""``mission.security-risk``: flag rules on hand-built views, and the real UCDP GED Syria data.

The real-data tests issue every one of the 16,566 events as a packet and cut it
to the mission's view (its own packets, in full), once per module.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from typing import Any

import pytest
import yaml

from analyzers.base import Analyzer, Finding, View
from analyzers.offline import OfflineRun
from analyzers.registry import load
from analyzers.security_risk import SecurityRiskAnalyzer
from analyzers.security_risk._flags import (
    CIVILIAN_MIN_DEATHS,
    ESCALATION_MIN_FATALITIES,
    HOTSPOT_MIN_FATALITIES,
    ONE_SIDED_MIN_EVENTS,
    TOP_N,
)
from analyzers.state import State
from node.importers.ucdp import read_events
from tests.support import EXAMPLES

GED = EXAMPLES / "data" / "ucdp_ged_syria_2016_2019.csv"
SCHEMA = "conflict-event/1"
LEVELS = {"low", "medium", "high", "critical"}


def _view(n: int = 0, **claims: Any) -> View:
    return View(
        SCHEMA, "mission", f"jti-{n}", "digest", datetime(2026, 1, 1, tzinfo=UTC), "hc", claims
    )


def _event(admin1: str | None, day: str, best: int, *, civilians: int = 0, tov: int = 1) -> View:
    claims: dict[str, Any] = {
        "country": "Syria",
        "date_start": day,
        "type_of_violence": tov,
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


# -- unit cases ---------------------------------------------------------------------------


def test_entry_point_loads_the_analyzer() -> None:
    analyzer = load("mission.security-risk")
    assert isinstance(analyzer, SecurityRiskAnalyzer) and isinstance(analyzer, Analyzer)
    assert analyzer.version == "1.0.0" and analyzer.schemas == frozenset({SCHEMA})


def test_a_quiet_event_yields_no_finding() -> None:
    state = State()
    assert SecurityRiskAnalyzer().analyze(_event("Homs", "2016-01-05", 3), state) == []
    assert SecurityRiskAnalyzer().summary(state)["hotspots"] == [
        {
            "country": "Syria",
            "admin1": "Homs",
            "month": "2016-01",
            "events": 1,
            "fatalities_best": 3,
            "fatalities_low": 3,
            "fatalities_high": 3,
            "civilian_deaths": 0,
        }
    ]


def test_escalation_needs_twice_the_baseline_and_the_minimum() -> None:
    analyzer, state = SecurityRiskAnalyzer(), State()
    # Baseline: 20 deaths a month in Jan-Mar (mean 20), so escalation needs >= 40 in April.
    _feed(analyzer, state, [_event("Homs", f"2016-0{m}-10", 20) for m in (1, 2, 3)])
    assert _feed(analyzer, state, [_event("Homs", "2016-04-01", 39)]) == []
    findings = _feed(analyzer, state, [_event("Homs", "2016-04-02", 1)])  # 40 = 2 x 20
    escalation = [f for f in findings if f.kind == "escalation"]
    assert len(escalation) == 1
    f = escalation[0]
    assert (f.country, f.admin1, f.period, f.level) == ("Syria", "Homs", "2016-04", "medium")
    assert f.indicators["fatalities_best"] == 40 and f.indicators["baseline_mean"] == 20.0
    assert "2.0x the mean" in f.explanation and ">= 2x" in f.explanation
    # Same level again: nothing new. Crossing 100 deaths raises it to high: a new finding.
    assert [f.kind for f in _feed(analyzer, state, [_event("Homs", "2016-04-03", 10)])] == []
    raised = _feed(analyzer, state, [_event("Homs", "2016-04-04", 50)])
    assert [(f.kind, f.level) for f in raised if f.kind == "escalation"] == [("escalation", "high")]
    assert "Raised from medium" in raised[0].explanation


def test_small_areas_never_escalate() -> None:
    analyzer, state = SecurityRiskAnalyzer(), State()
    _feed(analyzer, state, [_event("Tartus", "2016-01-10", 1)])
    quiet = _feed(analyzer, state, [_event("Tartus", "2016-02-10", ESCALATION_MIN_FATALITIES - 1)])
    assert [f for f in quiet if f.kind == "escalation"] == []


def test_no_baseline_before_the_data_begins() -> None:
    """The first month of a country has no earlier month to compare with."""
    analyzer, state = SecurityRiskAnalyzer(), State()
    assert _feed(analyzer, state, [_event("Homs", "2016-05-10", 300)]) == []


def test_civilian_harm_and_one_sided_violence() -> None:
    analyzer, state = SecurityRiskAnalyzer(), State()
    findings = _feed(
        analyzer,
        state,
        [
            _event("Idlib", "2016-01-01", 10, civilians=10, tov=3)
            for _ in range(ONE_SIDED_MIN_EVENTS)
        ],
    )
    assert [(f.kind, f.level) for f in findings] == [
        ("civilian-harm", "medium"),
        ("one-sided-violence", "high"),
    ]
    civilian = findings[0]
    assert civilian.indicators["civilian_deaths"] == 30 >= CIVILIAN_MIN_DEATHS
    assert civilian.indicators["civilian_share"] == 1.0


def test_new_hotspot_entering_the_top_areas() -> None:
    analyzer, state = SecurityRiskAnalyzer(), State()
    areas = [f"Area {i}" for i in range(TOP_N + 1)]
    # January: areas 0..TOP_N-1 are the top; the last one is quiet.
    _feed(analyzer, state, [_event(a, "2016-01-05", 100 - i) for i, a in enumerate(areas[:-1])])
    _feed(analyzer, state, [_event(areas[-1], "2016-01-06", 1)])
    # February: the quiet area flares up into the top.
    findings = _feed(analyzer, state, [_event(areas[-1], "2016-02-01", HOTSPOT_MIN_FATALITIES)])
    hot = [f for f in findings if f.kind == "new-hotspot"]
    assert len(hot) == 1 and hot[0].admin1 == areas[-1] and hot[0].indicators["rank"] == 1
    # An area that was already in January's top does not count as new.
    again = _feed(analyzer, state, [_event(areas[0], "2016-02-02", 30)])
    assert [f for f in again if f.kind == "new-hotspot"] == []


def test_events_without_admin1_are_tallied_but_never_flagged() -> None:
    analyzer, state = SecurityRiskAnalyzer(), State()
    _feed(analyzer, state, [_event(None, "2016-01-01", 1)])
    assert _feed(analyzer, state, [_event(None, "2016-02-01", 5000, civilians=5000)]) == []
    hotspots = analyzer.summary(state)["hotspots"]
    assert hotspots[0]["admin1"] is None and hotspots[0]["fatalities_best"] == 5000


def test_withheld_claims_never_raise() -> None:
    analyzer, state = SecurityRiskAnalyzer(), State()
    views = [
        _view(),
        _view(event_id="1"),
        _view(country="Syria"),  # no month: cannot be placed
        _view(country="Syria", month="2016-03"),  # the generalised month instead of the date
        _view(country="Syria", date_start="2016-03-02", deaths={"best": 4}),  # no bounds
        _view(country="Syria", date_start="bad", month="2016-04", admin1=7, deaths="x"),
        _view(country="Syria", month="2016-03", admin1="Homs", fatality_band="5-24"),
        _view(country="Syria", month="2016-03", type_of_violence=True, deaths={"best": -1}),
    ]
    assert _feed(analyzer, state, views) == []
    summary = analyzer.summary(state)
    json.dumps(summary)
    cells = {(h["admin1"], h["month"]): h for h in summary["hotspots"]}
    assert cells[None, "2016-03"]["events"] == 3 and cells[None, "2016-03"]["fatalities_low"] == 4
    assert cells[None, "2016-04"]["events"] == 1
    assert cells["Homs", "2016-03"]["fatalities_best"] == 0


def test_state_stays_json_and_each_view_touches_a_few_keys() -> None:
    analyzer, state = SecurityRiskAnalyzer(), State()
    for i in range(200):
        analyzer.analyze(_event(f"Area {i % 7}", f"2016-{1 + i % 12:02d}-01", i % 30), state)
        changed, deleted = state.changes()
        assert len(changed) <= 3 and not deleted
        json.dumps(changed)
        state.commit()


def test_summary_sorts_hotspots_with_none_as_empty_admin1() -> None:
    analyzer, state = SecurityRiskAnalyzer(), State()
    _feed(
        analyzer,
        state,
        [
            _event("B", "2016-01-01", 5),
            _event(None, "2016-01-01", 5),
            _event("A", "2016-02-01", 5),
            _event("A", "2016-01-01", 9),
        ],
    )
    order = [(h["admin1"], h["month"]) for h in analyzer.summary(state)["hotspots"]]
    assert order == [("A", "2016-01"), (None, "2016-01"), ("A", "2016-02"), ("B", "2016-01")]


# -- the real data ------------------------------------------------------------------------


@dataclass
class RealRun:
    findings: list[list[Finding]]
    summary: dict[str, Any]
    seconds_in_analyze: float


def _run(limit: int | None = None) -> RealRun:
    config = yaml.safe_load((EXAMPLES / "federation.yaml").read_text())
    run = OfflineRun.start(SecurityRiskAnalyzer(), config, participant="mission", issuer="mission")
    per_event, spent = run.run_timed(SCHEMA, islice(read_events(GED), limit))
    return RealRun(per_event, run.summary(), spent)


@pytest.fixture(scope="module")
def real() -> RealRun:
    return _run()


def _hotspots_from_csv() -> Iterator[dict[str, Any]]:
    """The hotspot table straight from the CSV rows, with no project code."""
    table: dict[tuple[str, str | None, str], list[int]] = {}
    with GED.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            key = (row["country"], row["adm_1"] or None, row["date_start"][:7])
            sums = table.setdefault(key, [0, 0, 0, 0, 0])
            sums[0] += 1
            sums[1] += int(row["best"])
            sums[2] += int(row["low"])
            sums[3] += int(row["high"])
            sums[4] += int(row["deaths_civilians"])
    for key in sorted(table, key=lambda k: (-table[k][1], k[0], k[1] or "", k[2])):
        events, best, low, high, civilians = table[key]
        yield {
            "country": key[0],
            "admin1": key[1],
            "month": key[2],
            "events": events,
            "fatalities_best": best,
            "fatalities_low": low,
            "fatalities_high": high,
            "civilian_deaths": civilians,
        }


@pytest.mark.slow
def test_hotspots_match_the_csv_exactly(real: RealRun) -> None:
    hotspots = real.summary["hotspots"]
    assert hotspots == list(_hotspots_from_csv())
    assert len(real.findings) == 16_566 == sum(h["events"] for h in hotspots)
    assert sum(h["fatalities_best"] for h in hotspots) == 112_337


@pytest.mark.slow
def test_finding_share_on_the_real_data_is_small(real: RealRun) -> None:
    with_findings = sum(1 for f in real.findings if f)
    share = with_findings / len(real.findings)
    print(
        f"security-risk: {with_findings} of {len(real.findings)} events ({share:.2%}) had findings"
    )
    assert share < 0.10


@pytest.mark.slow
def test_real_findings_are_explained(real: RealRun) -> None:
    findings = [f for batch in real.findings for f in batch]
    kinds = {f.kind for f in findings}
    assert {"escalation", "civilian-harm", "new-hotspot"} <= kinds
    for f in findings:
        assert f.level in LEVELS and f.country == "Syria" and f.admin1 and f.period
        assert f.score is not None and f.score >= 1
        assert f.indicators["fatalities_best"] >= 0 and "threshold" in f.explanation
        assert f"{f.indicators['events']} events" in f.explanation
    flags = real.summary["flags"]
    assert len(flags) == len({(f["country"], f["admin1"], f["month"], f["kind"]) for f in flags})
    assert all(
        t["direction"] in {"rising", "falling", "stable", "no baseline"}
        for t in real.summary["trends"]
    )


@pytest.mark.slow
def test_per_view_analysis_cost(real: RealRun) -> None:
    per_view = real.seconds_in_analyze / len(real.findings)
    print(f"security-risk: {per_view * 1e6:.0f} us per view (analysis only)")
    assert per_view < 0.002


def test_two_runs_give_byte_identical_findings_and_summary() -> None:
    def dump(run: RealRun) -> tuple[str, str]:
        findings = [[f.as_json() for f in batch] for batch in run.findings]
        return json.dumps(findings, sort_keys=True), json.dumps(run.summary, sort_keys=True)

    first, second = _run(2000), _run(2000)
    assert dump(first) == dump(second)
    assert sum(1 for batch in first.findings if batch) > 0
