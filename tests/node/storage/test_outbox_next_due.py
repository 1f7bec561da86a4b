"""``node.storage.outbox.next_due``: when a delivery worker next has something to claim."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine

from clearinghouse.node.storage import outbox
from clearinghouse.node.storage.db import transaction
from clearinghouse.protocol.packet import PacketRef
from tests.node.storage._support import NOW

LEASE = timedelta(minutes=2)


def _enqueue(engine: Engine, *numbers: int) -> None:
    with transaction(engine) as session:
        for n in numbers:
            ref = PacketRef(f"jti-{n:04d}", f"{n:064x}")
            outbox.enqueue(session, [(n, ref, {"dpa": f"view {n}", "undp": f"view {n}"})], now=NOW)


def _next_due(engine: Engine, recipient: str = "dpa") -> datetime | None:
    with transaction(engine) as session:
        return outbox.next_due(session, recipient=recipient)


def _claim(engine: Engine, *, at: datetime = NOW, limit: int = 10) -> list[int]:
    with transaction(engine) as session:
        items = outbox.claim_due(
            session, recipient="dpa", owner="w1", now=at, lease=LEASE, limit=limit
        )
    return [int(item.id or 0) for item in items]


def test_nothing_pending_is_never_due(engine: Engine) -> None:
    assert _next_due(engine) is None
    _enqueue(engine, 1)
    ids = _claim(engine)
    with transaction(engine) as session:
        outbox.retry_later(session, item_ids=[], error="", at=NOW)
        outbox.mark_refused(session, item_id=ids[0], receipt=None, reason="policy", now=NOW)
    assert _next_due(engine) is None
    assert _next_due(engine, "undp") == NOW  # the other recipient's view still waits


def test_a_pending_view_is_due_at_its_next_attempt_or_when_its_lease_ends(engine: Engine) -> None:
    _enqueue(engine, 1, 2)
    assert _next_due(engine) == NOW
    first, second = _claim(engine)
    assert _next_due(engine) == NOW + LEASE  # both leased: due again when the lease ends
    later = NOW + timedelta(seconds=30)
    with transaction(engine) as session:
        outbox.retry_later(session, item_ids=[second], error="503", at=later)
    assert _next_due(engine) == later  # the one put back comes first
    assert _claim(engine, at=later) == [second]
    assert _next_due(engine) == NOW + LEASE  # the first one's lease ends sooner
    assert first < second
