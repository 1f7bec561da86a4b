"""The audit entries a batch of views leaves at the originator: one ``view.queued`` per
ingest batch and recipient, one ``view.sent`` per catch-up page served, each listing
its views in order, and each view found by searching its jti."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from clearinghouse.node.context import NodeContext
from clearinghouse.node.services import acts
from clearinghouse.node.services.feed import serve_feed
from clearinghouse.node.storage import auditlog
from clearinghouse.node.storage.db import transaction
from tests.databases import sqlite_template
from tests.node.services._trust_support import (
    ALEPPO,
    NOW,
    FixedClock,
    TrustFederation,
    audit_entries,
    audit_size,
    ingest,
    make_trust_federation,
    opened_trust_node,
    outbox_items,
    record,
)


@pytest.fixture(scope="module")
def fed() -> TrustFederation:
    return make_trust_federation()


@pytest.fixture
def mission(
    fed: TrustFederation, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[NodeContext]:
    template = sqlite_template(tmp_path_factory)
    clock = FixedClock(NOW)
    with opened_trust_node(tmp_path / "mission", fed, "mission", clock, template=template) as ctx:
        yield ctx


def searched(ctx: NodeContext, jti: str) -> list[int]:
    with transaction(ctx.engine) as session:
        return [e.seq for e in auditlog.search(session, jti=jti)]


def test_an_ingest_batch_is_queued_in_one_entry_per_recipient(mission: NodeContext) -> None:
    before = audit_size(mission)
    jtis = ingest(
        mission,
        record(),
        record(event_id="216790", **ALEPPO),
        record(event_id="216791", **ALEPPO),
    )
    entries = audit_entries(mission, after=before)
    assert [e["act"] for e in entries[:3]] == ["packet.issued"] * 3
    queued = [e for e in entries if e["act"] == "view.queued"]
    items = outbox_items(mission)
    recipients = sorted({i.recipient for i in items})
    assert sorted(e["peer"] for e in queued) == recipients  # one entry per recipient
    policy = acts.policy_digest(mission.manifest)
    for entry in queued:
        owed = [(i.jti, i.digest) for i in items if i.recipient == entry["peer"]]
        assert [(v["jti"], v["digest"]) for v in entry["views"]] == owed
        assert [v["jti"] for v in entry["views"]] == jtis  # in batch order
        assert entry["policy"] == policy and "jti" not in entry
        assert all(v["fields"] for v in entry["views"])  # field names, never values
    for jti in jtis:  # each view found by its jti: its packet.issued and every view.queued
        found = searched(mission, jti)
        assert {entries[seq - before]["act"] for seq in found} == {"packet.issued", "view.queued"}
        assert len(found) == 1 + len(queued)


def test_each_catch_up_page_is_one_view_sent_entry(mission: NodeContext) -> None:
    jtis = ingest(
        mission,
        record(),
        record(event_id="216790", **ALEPPO),
        record(event_id="216791", **ALEPPO),
    )
    owed = [(i.jti, i.digest) for i in outbox_items(mission, "undp")]
    assert [j for j, _ in owed] == jtis
    before = audit_size(mission)
    first = serve_feed(mission, peer="undp", since=0, limit=2)
    second = serve_feed(mission, peer="undp", since=first.next_cursor, limit=2)
    empty = serve_feed(mission, peer="undp", since=second.next_cursor, limit=2)
    assert (len(first.items), len(second.items), len(empty.items)) == (2, 1, 0)
    sent = [e for e in audit_entries(mission, after=before) if e["act"] == "view.sent"]
    assert [(e["peer"], e["via"], e.get("jti")) for e in sent] == [
        ("undp", "catch-up", None),  # two views
        ("undp", "catch-up", owed[2][0]),  # one view: named at the top level too
    ]  # and the empty page: no entry
    listed = [(v["jti"], v["digest"]) for e in sent for v in e["views"]]
    assert listed == owed
    assert all(set(v) == {"jti", "digest"} for e in sent for v in e["views"])  # no status
    first_page = sent[0]["seq"]
    assert first_page in searched(mission, owed[1][0])
