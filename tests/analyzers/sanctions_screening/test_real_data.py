"""``sanctions.screening`` over all 16,566 UCDP GED Syria events, as the panel's views show them.

The sanctions panel's policy discloses ``event_id``, ``country``, ``side_a`` and
``side_b`` and generalises ``date_start`` to ``month``. The events are issued as
packets once per module (about 1 ms a packet); the analyzer then runs over the
same views twice, for the reproducibility check.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest
import yaml

from analyzers.base import Finding, View
from analyzers.offline import OfflineRun
from analyzers.sanctions_screening import SanctionsScreeningAnalyzer
from analyzers.state import State
from node.importers.ucdp import read_events
from tests.support import EXAMPLES

GED = EXAMPLES / "data" / "ucdp_ged_syria_2016_2019.csv"
MATCHING = {"Jabhat Fateh al-Sham": "QDe.137", "HTS": "QDe.137", "al-Qaida": "QDe.004",
            "ETIM": "QDe.088", "Shohadaa al-Yarmouk": "QDe.155"}  # fmt: skip

pytestmark = pytest.mark.slow


@dataclass
class Run:
    findings: list[list[Finding]]
    summary: dict[str, Any]
    seconds: float

    def dump(self) -> str:
        batches = [[f.as_json() for f in batch] for batch in self.findings]
        return json.dumps({"findings": batches, "summary": self.summary}, sort_keys=True)


@pytest.fixture(scope="module")
def analyzer() -> SanctionsScreeningAnalyzer:
    return SanctionsScreeningAnalyzer()


@pytest.fixture(scope="module")
def events(analyzer: SanctionsScreeningAnalyzer) -> tuple[list[dict[str, Any]], list[View]]:
    config = yaml.safe_load((EXAMPLES / "federation.yaml").read_text())
    run = OfflineRun.start(analyzer, config, participant="sanctions", issuer="mission")
    records = list(read_events(GED))
    return records, [run.view("conflict-event/1", record) for record in records]


def analyse(views: list[View]) -> Run:
    analyzer = SanctionsScreeningAnalyzer()
    state = State()
    findings = []
    started = time.perf_counter()
    for view in views:
        findings.append(analyzer.analyze(view, state))
        state.commit()
    return Run(findings, analyzer.summary(state), time.perf_counter() - started)


@pytest.fixture(scope="module")
def real(events: tuple[list[dict[str, Any]], list[View]]) -> Run:
    return analyse(events[1])


def test_the_panel_sees_names_and_little_else(events: Any) -> None:
    _, views = events
    assert set(views[0].claims) == {"event_id", "country", "side_a", "side_b", "month"}


def test_first_hits_only(events: Any, real: Run) -> None:
    records, _ = events
    found: list[tuple[str, str, str]] = []
    for record, batch in zip(records, real.findings, strict=True):
        for finding in batch:
            written = record[finding.indicators["field"]]
            reference = finding.indicators["reference"]
            seen = {name for name, _, _ in found}
            parts = [p.strip() for p in written.split(",")]
            name = next(p for p in parts if MATCHING.get(p) == reference and p not in seen)
            found.append((name, reference, finding.level or ""))
            # The screened value is not repeated in a finding (the list's spelling is).
            assert written not in json.dumps(finding.as_json()) or written in MATCHING
    assert sorted(found) == sorted(
        [
            ("ETIM", "QDe.088", "medium"),  # an acronym match
            ("HTS", "QDe.137", "medium"),
            ("Jabhat Fateh al-Sham", "QDe.137", "high"),
            ("Shohadaa al-Yarmouk", "QDe.155", "medium"),  # 0.889, a possible match
            ("al-Qaida", "QDe.004", "high"),
        ]
    )


def test_hit_counts_match_the_csv(events: Any, real: Run) -> None:
    records, _ = events
    expected: Counter[str] = Counter()
    for record in records:
        for field in ("side_a", "side_b"):
            for part in record[field].split(","):
                if part.strip() in MATCHING:
                    expected[MATCHING[part.strip()]] += 1
    summary = real.summary
    assert {r["reference"]: r["hits"] for r in summary["references"]} == dict(expected)
    [nusrah] = [r for r in summary["references"] if r["reference"] == "QDe.137"]
    assert nusrah["distinct_names"] == 2 and nusrah["entry_kind"] == "entity"
    assert set(nusrah["matched"]) == {"Jabhat Fateh Al-Sham", "HTS"}
    assert summary["views"] == 16_566 and summary["names_with_hits"] == sum(expected.values())


def test_finding_share_is_small(real: Run) -> None:
    with_findings = sum(1 for batch in real.findings if batch)
    share = with_findings / len(real.findings)
    print(f"sanctions-screening, UCDP events: {with_findings} views with findings ({share:.3%})")
    assert 0 < share < 0.10


def test_two_runs_are_byte_identical(events: Any, real: Run) -> None:
    assert analyse(events[1]).dump() == real.dump()


def test_per_view_cost(real: Run) -> None:
    per_view = real.seconds / len(real.findings)
    print(f"sanctions-screening: {per_view * 1e6:.0f} us per view (analysis only)")
    assert per_view < 0.002
