"""Migration 0012 (the index of the views each audit entry covers), on both databases.

A log written by an older release (0011: an entry per view, the view's jti at the top
level) upgrades with every entry as it was signed: the same bytes, the same head, each
entry found by its jti as before. Batch entries appended afterwards are found by each
of their views; downgrading drops the index and upgrading again rebuilds it from the
entries' bodies.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, inspect, select

from clearinghouse.node.storage import auditlog
from clearinghouse.node.storage.db import transaction
from clearinghouse.node.storage.migrate import upgrade
from clearinghouse.node.storage.models import AuditEntryView
from clearinghouse.protocol.audit import Act
from clearinghouse.protocol.merkle import MemoryTree, leaf_hash
from tests.node.storage._support import NOW, TestDatabase, downgrade_to
from tests.node.storage.test_migration_history import empty, migrate_to

__all__ = ["empty"]  # the fixture, imported for this module's tests

#: Entries as the release before batches wrote them: one view each.
OLD = [
    Act("view.queued", "node:dpa", peer="mission", jti="j-1",
        fields={"digest": "d1", "fields": ["country"], "policy": "p"}),
    Act("view.sent", "node:dpa", peer="mission", jti="j-1",
        fields={"digest": "d1", "via": "push", "status": "accepted", "receipt": "ab"}),
    Act("packet.received", "peer:mission", peer="mission", jti="j-2",
        fields={"digest": "d2", "outcome": "accepted", "via": "push"}),
    Act("packet.received", "peer:mission", peer="mission",
        fields={"outcome": "rejected", "via": "push", "code": "bad", "reason": "no"}),
]  # fmt: skip

BATCH = Act(
    "view.sent",
    "node:dpa",
    peer="undp",
    fields={"via": "push", "views": [{"jti": "j-1", "digest": "d1"}, {"jti": "j-3"}]},
)


def seqs(engine: Engine, jti: str) -> list[int]:
    with transaction(engine) as session:
        return [e.seq for e in auditlog.search(session, jti=jti, limit=100)]


def indexed(engine: Engine) -> set[tuple[str, int]]:
    with engine.connect() as connection:
        rows = connection.execute(select(AuditEntryView.jti, AuditEntryView.seq))
        return {(str(jti), int(seq)) for jti, seq in rows}


def test_an_old_log_upgrades_intact_and_stays_searchable(empty: TestDatabase) -> None:
    engine = empty.engine()
    try:
        migrate_to(engine, "0011")
        assert "audit_entry_view" not in inspect(engine).get_table_names()
        with transaction(engine) as session:  # what the older release appended
            auditlog.append(session, OLD, now=NOW)
            before = [(e.seq, e.body, bytes(e.leaf_hash)) for e in auditlog.entries(session, 0, 9)]
            head = auditlog.head(session)
        upgrade(empty.url, engine=engine)
        assert indexed(engine) == set()  # no old entry covers a view beyond its own jti
        with transaction(engine) as session:
            after = [(e.seq, e.body, bytes(e.leaf_hash)) for e in auditlog.entries(session, 0, 9)]
            assert after == before and auditlog.head(session) == head
        assert seqs(engine, "j-1") == [1, 0]
        assert seqs(engine, "j-2") == [2]

        # a batch entry appended now is found by each of its views, beside the old ones
        with transaction(engine) as session:
            assert auditlog.append(session, [BATCH], now=NOW + timedelta(seconds=1)) == range(4, 5)
        assert seqs(engine, "j-1") == [4, 1, 0]
        assert seqs(engine, "j-3") == [4]

        # the log is one tree: the old entries and the batch entry hash to the head's root
        tree = MemoryTree()
        with transaction(engine) as session:
            for entry in auditlog.iter_entries(session):
                tree.append(leaf_hash(entry.body.encode()))
            assert auditlog.head(session) == auditlog.Head(5, tree.root())
    finally:
        engine.dispose()


def test_upgrading_again_after_a_downgrade_indexes_the_batch_entries_held(
    empty: TestDatabase,
) -> None:
    engine = empty.engine()
    try:
        upgrade(empty.url, engine=engine)
        with transaction(engine) as session:
            auditlog.append(session, [*OLD, BATCH], now=NOW)
        assert indexed(engine) == {("j-1", 4), ("j-3", 4)}
        downgrade_to(engine, "0011")
        assert "audit_entry_view" not in inspect(engine).get_table_names()
        upgrade(empty.url, engine=engine)
        assert indexed(engine) == {("j-1", 4), ("j-3", 4)}
        assert seqs(engine, "j-3") == [4]
        assert seqs(engine, "j-1") == [4, 1, 0]
    finally:
        engine.dispose()
