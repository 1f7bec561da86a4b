"""The node's analysis: queue, state in the database, results issued and checked, atomicity."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import select

from clearinghouse.node.clock import SystemClock
from clearinghouse.node.context import NodeContext
from clearinghouse.node.errors import ServiceUnavailable
from clearinghouse.node.importers.ucdp import read_events
from clearinghouse.node.keyfiles import read_private_key
from clearinghouse.node.localfed import LocalFederation
from clearinghouse.node.services import analyze as analyze_service
from clearinghouse.node.services.analyze import analyse_batch
from clearinghouse.node.services.ingest import ingest_records
from clearinghouse.node.services.receive import receive_views
from clearinghouse.node.settings import load_settings
from clearinghouse.node.startup import open_node
from clearinghouse.node.storage import analysis, auditlog
from clearinghouse.node.storage.db import transaction
from clearinghouse.node.storage.models import AnalysisRun, OutboxItem, StoredPacket
from clearinghouse.protocol.keys import public_jwk
from clearinghouse.protocol.manifest import manifest_json, parse_manifest, sign_manifest
from clearinghouse.protocol.packet import issue_packet, recipient_view
from clearinghouse.protocol.results import result_record
from tests.nodes import built_federation, opened_node
from tests.support import EXAMPLES

EVENTS = list(
    itertools.islice(read_events(EXAMPLES / "data" / "ucdp_ged_syria_2016_2019.csv"), 400)
)


@pytest.fixture
def fed(tmp_path_factory: pytest.TempPathFactory) -> LocalFederation:
    return built_federation(tmp_path_factory.mktemp("analysis"))


@pytest.fixture
def mission(fed: LocalFederation) -> Iterator[NodeContext]:
    with opened_node(fed.nodes["mission"]) as ctx:
        yield ctx


def drain(ctx: NodeContext) -> int:
    total = 0
    while done := analyse_batch(ctx):
        total += done
    return total


def rows(ctx: NodeContext, model: Any) -> list[Any]:
    with transaction(ctx.engine) as session:
        return list(session.exec(select(model)).all())


def test_own_records_are_analysed_and_results_broadcast(mission: NodeContext) -> None:
    ingest_records(mission, "conflict-event/1", EVENTS)
    with transaction(mission.engine) as session:
        assert analysis.queue_depth(session) == len(EVENTS)
    assert drain(mission) == len(EVENTS)
    runs = rows(mission, AnalysisRun)
    assert len(runs) == len(EVENTS) and all(r.error is None for r in runs)
    assert {r.analyzer_id for r in runs} == {"mission.security-risk"}
    results = [p for p in rows(mission, StoredPacket) if p.schema_id == "analysis-result/1"]
    with_findings = [r for r in runs if r.findings]
    # A finding reported again later in the same batch is issued once, by the later run.
    issuing = [r for r in with_findings if r.result_packet_id is not None]
    assert 0 < len(results) == len(issuing) <= len(with_findings)
    assert {r.result_packet_id for r in issuing} == {p.id for p in results}
    assert all(r.result_packet_id is None for r in runs if not r.findings)
    declared = mission.analyzer_declaration
    for result in results:
        assert result.claims["analyzer"] == {
            "id": declared.id,
            "version": declared.version,
            "sha256": declared.sha256,
        }
        assert result.claims["input"]["schema"] == "conflict-event/1"
    # Every result is owed to every other participant (the results policy grants all).
    result_ids = {p.id for p in results}
    owed = [o for o in rows(mission, OutboxItem) if o.packet_id in result_ids]
    assert len(owed) == 4 * len(results)


def test_state_survives_a_restart_and_matches_an_uninterrupted_run(
    fed: LocalFederation, mission: NodeContext
) -> None:
    ingest_records(mission, "conflict-event/1", EVENTS[:200])
    drain(mission)
    before = mission.analyzer.summary(mission.analyzer_state)
    mission.engine.dispose()
    again = open_node(load_settings(fed.nodes["mission"].config, run_workers=False), SystemClock())
    try:
        assert again.analyzer.summary(again.analyzer_state) == before
        ingest_records(again, "conflict-event/1", EVENTS[200:])
        drain(again)
        split = again.analyzer.summary(again.analyzer_state)
    finally:
        again.engine.dispose()
    other = LocalFederation(fed.root.parent / "straight")
    other.build()
    straight = open_node(
        load_settings(other.nodes["mission"].config, run_workers=False), SystemClock()
    )
    try:
        ingest_records(straight, "conflict-event/1", EVENTS)
        drain(straight)
        whole = straight.analyzer.summary(straight.analyzer_state)
    finally:
        straight.engine.dispose()
    assert json.dumps(split, sort_keys=True) == json.dumps(whole, sort_keys=True)


def test_a_failed_commit_loses_nothing_and_doubles_nothing(
    mission: NodeContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest_records(mission, "conflict-event/1", EVENTS[:150])
    snapshot = json.dumps(mission.analyzer.summary(mission.analyzer_state), sort_keys=True)

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the database went away mid-batch")

    monkeypatch.setattr(analyze_service.analysis, "add_runs", broken)
    with pytest.raises(RuntimeError):
        analyse_batch(mission)
    assert json.dumps(mission.analyzer.summary(mission.analyzer_state), sort_keys=True) == snapshot
    with transaction(mission.engine) as session:
        assert analysis.queue_depth(session) == 150
    assert rows(mission, AnalysisRun) == []
    assert not [p for p in rows(mission, StoredPacket) if p.schema_id == "analysis-result/1"]
    monkeypatch.undo()
    assert drain(mission) == 150
    assert len(rows(mission, AnalysisRun)) == 150


def test_an_analyzer_that_raises_is_recorded_and_the_rest_go_on(
    mission: NodeContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest_records(mission, "conflict-event/1", EVENTS[:20])
    real = mission.analyzer.analyze
    calls = {"n": 0}

    def flaky(view: Any, state: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 5:
            state["poison"] = 1  # a partial change that must not survive
            raise ValueError("cannot read this one")
        return real(view, state)

    monkeypatch.setattr(mission.analyzer, "analyze", flaky)
    drain(mission)
    runs = rows(mission, AnalysisRun)
    assert len(runs) == 20
    assert [r.error for r in runs].count("ValueError: cannot read this one") == 1
    assert "poison" not in mission.analyzer_state


def test_a_node_refuses_to_start_with_other_analyzer_code(fed: LocalFederation) -> None:
    path = fed.manifest_path
    doc = json.loads(path.read_text())
    mission = next(p for p in doc["participants"] if p["id"] == "mission")
    mission["analyzer"]["sha256"] = "0" * 64
    doc["signatures"] = []
    manifest = parse_manifest(doc)
    for signer in ("mission", "unodc", "dpa"):
        manifest = sign_manifest(
            manifest, signer, read_private_key(fed.root / "keys" / f"{signer}.key.pem")
        )
    path.write_bytes(manifest_json(manifest))
    with pytest.raises(ServiceUnavailable, match="refusing to run other code than declared"):
        open_node(load_settings(fed.nodes["mission"].config, run_workers=False), SystemClock())


def test_a_result_from_an_undeclared_analyzer_is_refused(fed: LocalFederation) -> None:
    dpa = open_node(load_settings(fed.nodes["dpa"].config, run_workers=False), SystemClock())
    try:
        key = read_private_key(fed.root / "keys" / "mission.key.pem")
        declared = dpa.manifest.participant("mission").analyzer
        forged = declared.model_copy(update={"version": "9.9.9"})
        record = result_record(
            analyzer=forged,
            input_jti="01937a2e-5c40-7b1d-9e3f-2a4b6c8d0e1f",
            input_digest="a" * 64,
            input_schema="conflict-event/1",
            input_issuer="mission",
            findings=[],
            explanation="forged",
        )
        packet = issue_packet(
            record,
            schema="analysis-result/1",
            issuer="mission",
            key=key,
            kid=public_jwk(key)["kid"],
            now=datetime.now(UTC),
        )
        view = recipient_view(packet.sd_jwt, dpa.manifest, "dpa")
        (outcome,) = receive_views(dpa, peer="mission", views=[view], sign=False)
        assert (outcome.status, outcome.code) == ("rejected", "analyzer-mismatch")
        assert "9.9.9" in (outcome.detail or "")
    finally:
        dpa.engine.dispose()


def test_each_analysis_batch_is_one_audit_entry_naming_every_packet(
    mission: NodeContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest_records(mission, "conflict-event/1", EVENTS[:40])
    real, calls = mission.analyzer.analyze, {"n": 0}

    def failing_once(view: Any, state: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 4:
            raise ValueError("cannot read this one")
        return real(view, state)

    monkeypatch.setattr(mission.analyzer, "analyze", failing_once)
    assert [analyse_batch(mission, limit=15) for _ in range(4)] == [15, 15, 10, 0]
    with transaction(mission.engine) as session:
        found = auditlog.search(session, act="analysis.run", limit=100)
    bodies = [json.loads(e.body) for e in reversed(found)]
    assert [len(b["views"]) for b in bodies] == [15, 15, 10]  # one entry per batch
    views = [v for b in bodies for v in b["views"]]
    packets = {p.id: p for p in rows(mission, StoredPacket)}
    issued = {p.jti: p for p in packets.values() if p.schema_id == "conflict-event/1"}
    runs = sorted(rows(mission, AnalysisRun), key=lambda r: r.id)
    assert [v["jti"] for v in views] == [packets[r.packet_id].jti for r in runs]
    assert {v["jti"] for v in views} == set(issued)
    assert all(v["digest"] == issued[v["jti"]].digest and v["issuer"] == "mission" for v in views)
    assert [v.get("error") for v in views].count("ValueError: cannot read this one") == 1
    assert all(
        b["analyzer"].startswith("mission.security-risk ") and "jti" not in b for b in bodies
    )
    with transaction(mission.engine) as session:  # the search by jti finds a packet's batch
        [entry] = auditlog.search(session, act="analysis.run", jti=views[20]["jti"])
    assert json.loads(entry.body)["views"][5]["jti"] == views[20]["jti"]


def test_results_coming_fast_wait_to_go_as_one_batch_and_records_views_go_at_once(
    mission: NodeContext,
) -> None:
    assert mission.settings.delivery.result_batch_s == 0  # the default: each at once
    interval = 5.0
    delivery = mission.settings.delivery.model_copy(update={"result_batch_s": interval})
    mission.settings = mission.settings.model_copy(update={"delivery": delivery})
    ingest_records(mission, "conflict-event/1", EVENTS[:100])
    drain(mission)  # the first results: due at once
    ingest_records(mission, "conflict-event/1", EVENTS[100:200])
    drain(mission)  # more, within the interval: due an interval after the first
    results = {p.id for p in rows(mission, StoredPacket) if p.schema_id == "analysis-result/1"}
    owed = rows(mission, OutboxItem)
    due = {o.next_attempt_at.replace(tzinfo=UTC) for o in owed if o.packet_id in results}
    assert len(due) == 2, "each analysis batch's results fall due together"
    first, second = sorted(due)
    assert second - first == timedelta(seconds=interval)
    records = [o for o in owed if o.packet_id not in results]
    assert records and all(o.next_attempt_at == o.created_at for o in records)
