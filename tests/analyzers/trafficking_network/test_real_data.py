"""``unodc.trafficking-network`` on the real data, as UNODC's views show it.

* UCDP GED Syria 2016-2019: all 16,566 events, issued by the mission and cut to
  UNODC's view (actors as pseudonyms only);
* UNODC drug seizures 2018-2022: all 10,941 country-year totals, issued by UNODC.

Each file is issued as packets once per module (about 1 ms a packet); the
analyzer then runs over the same views twice, for the reproducibility check.
Expected figures are recomputed from the CSV files independently of the analyzer.
"""

from __future__ import annotations

import csv
import json
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import pytest
import yaml

from analyzers.base import Finding, View
from analyzers.offline import OfflineRun
from analyzers.state import State
from analyzers.trafficking_network import TraffickingNetworkAnalyzer
from analyzers.trafficking_network.thresholds import (
    RECURRING_MIN_EVENTS,
    RECURRING_MIN_SPREAD,
    TREND_MIN_CHANGE,
    TREND_MIN_KG,
)
from node.importers.ucdp import read_events
from node.importers.unodc import read_seizures
from tests.support import EXAMPLES

GED = EXAMPLES / "data" / "ucdp_ged_syria_2016_2019.csv"
SEIZURES = EXAMPLES / "data" / "unodc_drug_seizures_2018_2022.csv"

pytestmark = pytest.mark.slow


@dataclass
class Run:
    findings: list[list[Finding]]
    summary: dict[str, Any]
    seconds: float

    def dump(self) -> str:
        batches = [[f.as_json() for f in batch] for batch in self.findings]
        return json.dumps({"findings": batches, "summary": self.summary}, sort_keys=True)

    @property
    def share(self) -> float:
        return sum(1 for batch in self.findings if batch) / len(self.findings)


def analyse(views: list[View]) -> Run:
    analyzer = TraffickingNetworkAnalyzer()
    state = State()
    findings = []
    started = time.perf_counter()
    for view in views:
        findings.append(analyzer.analyze(view, state))
        state.commit()
    seconds = time.perf_counter() - started
    return Run(findings, analyzer.summary(state), seconds)


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    return yaml.safe_load((EXAMPLES / "federation.yaml").read_text())


@pytest.fixture(scope="module")
def events(config: dict[str, Any]) -> tuple[list[dict[str, Any]], list[View]]:
    run = OfflineRun.start(
        TraffickingNetworkAnalyzer(), config, participant="unodc", issuer="mission"
    )
    records = list(read_events(GED))
    return records, [run.view("conflict-event/1", record) for record in records]


@pytest.fixture(scope="module")
def event_run(events: tuple[list[dict[str, Any]], list[View]]) -> Run:
    return analyse(events[1])


@pytest.fixture(scope="module")
def seizure_views(config: dict[str, Any]) -> list[View]:
    run = OfflineRun.start(
        TraffickingNetworkAnalyzer(), config, participant="unodc", issuer="unodc"
    )
    return [run.view("seizure/1", record) for record in read_seizures(SEIZURES)]


@pytest.fixture(scope="module")
def seizure_run(seizure_views: list[View]) -> Run:
    return analyse(seizure_views)


def test_unodc_sees_actors_as_pseudonyms_only(events: Any) -> None:
    _, views = events
    assert len(views) == 16_566
    assert "side_a" not in views[0].claims and "side_a_ref" in views[0].claims


def test_event_finding_share_is_small(event_run: Run) -> None:
    share = event_run.share
    print(f"trafficking-network, UCDP events: {share:.2%} of views with findings")
    assert 0 < share < 0.10


def test_recurring_actors_and_network_match_the_csv(events: Any, event_run: Run) -> None:
    records, _ = events
    packets: dict[str, int] = defaultdict(int)
    places: dict[str, set[str]] = defaultdict(set)
    for record in records:
        sides = [record["side_a"]]
        if record["type_of_violence"] != 3:
            sides.append(record["side_b"])
        place = record["country"] + (f" / {record['admin1']}" if record.get("admin1") else "")
        for side in set(sides):
            packets[side] += 1
            places[side].add(place)
    recurring = {
        side
        for side in packets
        if packets[side] >= RECURRING_MIN_EVENTS and len(places[side]) >= RECURRING_MIN_SPREAD
    }
    summary = event_run.summary
    assert summary["network"] == {
        "actors": len(packets),
        "places": len(set().union(*places.values())),
        "links": sum(len(p) for p in places.values()),
    }
    assert "Civilians" not in packets
    assert summary["recurring_actors"]["count"] == len(recurring)
    kinds = [f.kind for batch in event_run.findings for f in batch]
    assert kinds.count("recurring-actor") == len(recurring)
    assert set(kinds) == {"recurring-actor", "broker-change"}


def test_top_brokers(events: Any, event_run: Run) -> None:
    records, views = events
    names = {}
    for record, view in zip(records, views, strict=True):
        names[view.claims["side_a_ref"]] = record["side_a"]
        names[view.claims["side_b_ref"]] = record["side_b"]
    brokers = [(names[b["actor"]], b["betweenness"]) for b in event_run.summary["brokers"]]
    print("trafficking-network, top brokers:", brokers)
    # The three actors present in every one of the 15 places tie (structurally
    # equivalent: ties are ranked by pseudonym); then the bridges between fewer places.
    assert {name for name, _ in brokers[:3]} == {"Government of Syria", "IS", "Syrian insurgents"}
    assert brokers[0][1] == brokers[1][1] == brokers[2][1] > brokers[3][1] > brokers[4][1] > 0
    assert [name for name, _ in brokers[3:]] == ["Jabhat Fateh al-Sham", "Government of Israel"]
    changes = [f for batch in event_run.findings for f in batch if f.kind == "broker-change"]
    assert changes and changes[0].indicators["broker_1"] in names


def test_no_actor_name_in_findings_or_summary(events: Any, event_run: Run) -> None:
    records, _ = events
    actors = {r["side_a"] for r in records} | {r["side_b"] for r in records}
    dumped = event_run.dump()
    assert [name for name in sorted(actors) if len(name) >= 6 and name in dumped] == []


def test_findings_are_explained(event_run: Run, seizure_run: Run) -> None:
    for run in (event_run, seizure_run):
        for finding in (f for batch in run.findings for f in batch):
            assert finding.level in {"low", "medium", "high", "critical"}
            assert finding.explanation and finding.indicators and finding.period
            assert finding.score is not None and finding.score >= 0


def test_seizure_trends_match_the_csv(seizure_run: Run) -> None:
    totals: dict[tuple[str, str], dict[int, float]] = defaultdict(lambda: defaultdict(float))
    with SEIZURES.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            totals[(row["msCode"], row["Drug group"])][int(row["Year"])] += float(row["Kilograms"])
    expected = set()
    for (code, group), years in totals.items():
        for year, kg in years.items():
            if year - 1 in years:
                before = years[year - 1]
                delta = kg - before
                if abs(delta) >= TREND_MIN_KG and (
                    before == 0 or abs(delta) >= TREND_MIN_CHANGE * before
                ):
                    expected.add((code, group, year))
    trends = seizure_run.summary["seizure_trends"]
    assert {(t["country_code"], t["drug_group"], t["to"]) for t in trends["changes"]} == expected
    reported = [f for batch in seizure_run.findings for f in batch]
    settled = [t for t in trends["changes"] if t["settled"]]
    assert {f.kind for f in reported} == {"seizure-trend"}
    assert len(reported) == len(settled) < len(expected)
    syria = [f for f in reported if f.subject.startswith("seizure-trend:SYR|Amphetamines")]
    assert [(f.period, f.indicators["change_pct"]) for f in syria] == [("2022", 162.8)]
    share = seizure_run.share
    print(
        f"trafficking-network, UNODC seizures: {len(reported)} trend findings in "
        f"{sum(1 for b in seizure_run.findings if b)} results ({share:.2%} of views)"
    )
    assert share < 0.10
    assert seizure_run.summary["corridors"] == []  # annual totals carry no routes


def test_two_runs_are_byte_identical(
    events: Any, event_run: Run, seizure_views: list[View], seizure_run: Run
) -> None:
    assert analyse(events[1]).dump() == event_run.dump()
    assert analyse(seizure_views).dump() == seizure_run.dump()


def test_per_view_cost(event_run: Run, seizure_run: Run) -> None:
    for name, run in (("events", event_run), ("seizures", seizure_run)):
        per_view = run.seconds / len(run.findings)
        print(f"trafficking-network, {name}: {per_view * 1e6:.0f} us per view (analysis only)")
        assert per_view < 0.002
