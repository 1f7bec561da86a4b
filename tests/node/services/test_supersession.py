"""Findings that change are issued again naming the result they supersede; findings that no
longer hold are withdrawn; the situation shows the latest version and, on request, the chain.

A small converging analyzer stands in for the node's declared one so that each step's
expected results are obvious: per country, "one-sided violence is at least half of the
events", with the counts as indicators.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
from sqlmodel import select

from clearinghouse.analyzers.base import Finding, View
from clearinghouse.analyzers.converge import reconcile
from clearinghouse.analyzers.state import State
from clearinghouse.node.context import NodeContext
from clearinghouse.node.importers.ucdp import read_events
from clearinghouse.node.services.analysis_results import findings_to_report
from clearinghouse.node.services.analyze import analyse_batch
from clearinghouse.node.services.ingest import ingest_records
from clearinghouse.node.services.situation import situation
from clearinghouse.node.storage.analysis import Head
from clearinghouse.node.storage.db import transaction
from clearinghouse.node.storage.models import AnalysisRun, StoredPacket
from tests.nodes import built_federation, opened_node
from tests.support import EXAMPLES

TEMPLATE = next(iter(read_events(EXAMPLES / "data" / "ucdp_ged_syria_2016_2019.csv")))
_ids = itertools.count(1)


def event(country: str, type_of_violence: int) -> dict[str, Any]:
    return {
        **TEMPLATE,
        "event_id": f"test-{next(_ids)}",
        "country": country,
        "type_of_violence": type_of_violence,
    }


class OneSidedShare:
    """Per country: a finding while one-sided violence is >= half of the events."""

    id: ClassVar[str] = "mission.security-risk"  # the node's declared analyzer id
    version: ClassVar[str] = "test"
    schemas: ClassVar[frozenset[str]] = frozenset({"conflict-event/1"})

    def analyze(self, view: View, state: State) -> list[Finding]:
        country = str(view.get("country"))
        counts = state.get(f"count:{country}") or {"all": 0, "one_sided": 0}
        counts["all"] += 1
        counts["one_sided"] += view.get("type_of_violence") == 3
        state[f"count:{country}"] = counts
        holds = 2 * counts["one_sided"] >= counts["all"]
        findings = [
            Finding(
                kind="one-sided-majority",
                subject=country,
                country=country,
                level="high",
                explanation=f"{counts['one_sided']} of {counts['all']} events are one-sided.",
                indicators=counts,
            )
        ]
        return reconcile(state, country, findings if holds else [])

    def summary(self, state: State) -> dict[str, Any]:
        return dict(state.items("count:"))


@pytest.fixture
def mission(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeContext]:
    fed = built_federation(tmp_path_factory.mktemp("supersession"), ("mission", "unodc", "dpa"))
    with opened_node(fed.nodes["mission"]) as ctx:
        ctx.analyzer, ctx.analyzer_state = OneSidedShare(), State()
        yield ctx


def drain(ctx: NodeContext) -> None:
    while analyse_batch(ctx):
        pass


def results(ctx: NodeContext) -> list[StoredPacket]:
    with transaction(ctx.engine) as session:
        return list(
            session.exec(
                select(StoredPacket)
                .where(StoredPacket.schema_id == "analysis-result/1")
                .order_by(StoredPacket.id)  # type: ignore[arg-type]
            ).all()
        )


def only_finding(packet: StoredPacket) -> dict[str, Any]:
    [finding] = packet.claims["findings"]
    return dict(finding)


def test_a_changed_finding_supersedes_and_a_lapsed_one_is_withdrawn(mission: NodeContext) -> None:
    # Two one-sided events in one batch: the finding changes twice, only the last is issued.
    ingest_records(mission, "conflict-event/1", [event("Mali", 3), event("Mali", 3)])
    drain(mission)
    [first] = results(mission)
    assert only_finding(first)["indicators"] == {"all": 2, "one_sided": 2}
    assert "supersedes" not in only_finding(first)
    with transaction(mission.engine) as session:
        runs = session.exec(select(AnalysisRun).order_by(AnalysisRun.id)).all()  # type: ignore[arg-type]
        assert [(r.findings, r.result_packet_id is not None) for r in runs] == [
            (1, False),
            (1, True),
        ]

    # A later batch changes the totals: the new version names the first result.
    ingest_records(mission, "conflict-event/1", [event("Mali", 3)])
    drain(mission)
    second = results(mission)[-1]
    assert only_finding(second)["indicators"] == {"all": 3, "one_sided": 3}
    assert only_finding(second)["supersedes"] == {"jti": first.jti, "digest": first.digest}
    assert second.claims["input"]["schema"] == "conflict-event/1"

    # State-based events tip the share: the finding is withdrawn, naming the second result.
    ingest_records(mission, "conflict-event/1", [event("Mali", 1) for _ in range(4)])
    drain(mission)
    third = results(mission)[-1]
    withdrawn = only_finding(third)
    assert withdrawn["status"] == "withdrawn" and "level" not in withdrawn
    assert (withdrawn["kind"], withdrawn["subject"]) == ("one-sided-majority", "Mali")
    assert withdrawn["supersedes"] == {"jti": second.jti, "digest": second.digest}
    assert len(results(mission)) == 3

    # The situation shows what holds (nothing for Mali); the history shows the chain.
    shown = [f for area in situation(mission)["areas"] for f in area["findings"]]
    assert not [f for f in shown if f["subject"] == "Mali"]
    picture = situation(mission, history=True)
    [gone] = picture["withdrawn"]
    assert gone["result"]["jti"] == third.jti
    assert [v["result"]["jti"] for v in gone["history"]] == [first.jti, second.jti]

    # It holds again: a new version supersedes the withdrawal and shows again.
    ingest_records(mission, "conflict-event/1", [event("Mali", 3) for _ in range(4)])
    drain(mission)
    fourth = results(mission)[-1]
    assert only_finding(fourth)["supersedes"] == {"jti": third.jti, "digest": third.digest}
    shown = [f for area in situation(mission)["areas"] for f in area["findings"]]
    assert [f["result"]["jti"] for f in shown if f["subject"] == "Mali"] == [fourth.jti]


def test_a_finding_raised_and_withdrawn_within_one_batch_is_never_issued(
    mission: NodeContext,
) -> None:
    ingest_records(mission, "conflict-event/1", [event("Chad", 3), event("Chad", 1)])
    ingest_records(mission, "conflict-event/1", [event("Chad", 1)])
    drain(mission)
    assert results(mission) == []


def test_only_the_last_version_in_a_batch_is_issued() -> None:
    def f(subject: str, n: int, status: str | None = None) -> Finding:
        return Finding(kind="k", subject=subject, explanation=str(n), status=status)

    head = Head("0" * 8 + "-0000-4000-8000-" + "0" * 12, "ab" * 32, False)
    found = [[f("a", 1), f("b", 1)], [], [f("a", 2), f("c", 1, "withdrawn")], [f("b", 2)]]
    report = findings_to_report(found, {'["k", "a", null]': head})
    assert sorted(report) == [2, 3]
    [a] = report[2]  # c: a withdrawal of a finding never issued is dropped
    assert a["explanation"] == "2"
    assert a["supersedes"] == {"jti": head.result_jti, "digest": head.result_digest}
    assert report[3] == [{"kind": "k", "subject": "b", "explanation": "2"}]
    # A finding already withdrawn is not withdrawn again.
    gone = Head(head.result_jti, head.result_digest, True)
    assert findings_to_report([[f("a", 3, "withdrawn")]], {'["k", "a", null]': gone}) == {}
