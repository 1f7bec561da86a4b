"""``witnessed_log`` only moves forward, also when replicas of one node record it at once.

Replicas on one PostgreSQL database each witness every peer: two of them can
record the same peer's first cosigned checkpoint in overlapping transactions (a
read-then-insert collided on the primary key there), or an older checkpoint after
a newer one (which moved the row back).
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import Engine

from clearinghouse.node.storage import auditlog
from clearinghouse.node.storage.db import transaction
from clearinghouse.protocol.merkle import leaf_hash
from tests.node.storage._support import NOW, TestDatabase


def record(engine: Engine, size: int) -> None:
    with transaction(engine) as session:
        auditlog.set_witnessed(
            session,
            peer="mission",
            size=size,
            root=leaf_hash(str(size).encode()),
            note=f"note {size}\n",
            now=NOW + timedelta(seconds=size),
        )


def latest(engine: Engine) -> tuple[int, bytes, str]:
    with transaction(engine) as session:
        row = auditlog.witnessed(session, "mission")
        assert row is not None
        return row.size, bytes(row.root), row.note


def test_an_older_checkpoint_never_replaces_a_newer_one(engine: Engine) -> None:
    record(engine, 8)
    record(engine, 3)
    assert latest(engine) == (8, leaf_hash(b"8"), "note 8\n")
    record(engine, 8)
    assert latest(engine) == (8, leaf_hash(b"8"), "note 8\n")
    record(engine, 12)
    assert latest(engine) == (12, leaf_hash(b"12"), "note 12\n")


@pytest.mark.postgres
@pytest.mark.parametrize(("first", "second"), [(5, 9), (9, 5)])
def test_two_replicas_recording_the_first_checkpoint_at_once(
    database: TestDatabase, first: int, second: int
) -> None:
    """Both transactions commit (no duplicate-key error) and the larger checkpoint is
    kept, whichever commits first."""
    one, other = database.engine(), database.engine()
    failures: list[BaseException] = []

    def second_replica() -> None:
        try:
            record(other, second)
        except BaseException as exc:
            failures.append(exc)

    with transaction(one) as session:
        auditlog.set_witnessed(
            session, peer="mission", size=first, root=leaf_hash(str(first).encode()),
            note=f"note {first}\n", now=NOW,
        )  # fmt: skip
        thread = threading.Thread(target=second_replica)
        thread.start()
        thread.join(timeout=1.0)  # it commits, or waits for this transaction's row
    thread.join(timeout=30)
    assert not thread.is_alive() and failures == []
    top = max(first, second)
    assert latest(one) == (top, leaf_hash(str(top).encode()), f"note {top}\n")
