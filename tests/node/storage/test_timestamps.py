"""Timestamps go in as any aware datetime and come back aware, in UTC, on both databases.

On PostgreSQL the rows are read through a session whose ``TimeZone`` is not UTC
(as with a server set to local time, or ``PGTZ``): they must still come back UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import StatementError
from sqlmodel import select

from clearinghouse.node.storage import outbox, packets, peers
from clearinghouse.node.storage.db import transaction
from clearinghouse.node.storage.models import (
    InboundRefusal,
    OutboxItem,
    PeerCursor,
    SeenNonce,
    StoredPacket,
)
from clearinghouse.protocol.packet import PacketRef
from tests.node.storage._support import Packets, TestDatabase

IST = timezone(timedelta(hours=5, minutes=30))
#: 12:00:00.123456 UTC, written as Indian Standard Time
AT = datetime(2026, 11, 25, 17, 30, 0, 123456, tzinfo=IST)


def assert_utc(value: datetime | None, expected: datetime) -> None:
    assert value is not None
    assert value.tzinfo is UTC, value
    assert value == expected


@pytest.mark.parametrize("read_timezone", [None, "Asia/Kolkata", "America/Santiago"])
def test_every_timestamp_column_comes_back_in_utc(
    database: TestDatabase, engine: Engine, packet_factory: Packets, read_timezone: str | None
) -> None:
    issued = packet_factory.issued()
    with transaction(engine) as session:
        packets.add_issued(session, [issued], issuer="mission", kid="k", now=AT)
        packets.add_refusal(
            session, peer="p", disposition="rejected", code="c", reason="r", raw="x", now=AT
        )
        outbox.enqueue(session, [(1, PacketRef("j", "d"), {"dpa": "v"})], now=AT)
        peers.remember_nonce(session, peer="p", nonce="n", now=AT)
        peers.set_cursor(session, "p", 1, AT)
    with transaction(engine) as session:
        outbox.claim_due(
            session, recipient="dpa", owner="w", now=AT, lease=timedelta(seconds=1), limit=1
        )
        outbox.mark_delivered(session, receipts={1: None}, now=AT)

    reader = database.engine(timezone=read_timezone)
    with transaction(reader) as session:
        packet = session.exec(select(StoredPacket)).one()
        item = session.exec(select(OutboxItem)).one()
        refusal = session.exec(select(InboundRefusal)).one()
        nonce = session.exec(select(SeenNonce)).one()
        cursor = session.exec(select(PeerCursor)).one()
    assert_utc(packet.issued_at, issued.issued_at)
    assert_utc(packet.stored_at, AT)
    for value in (item.created_at, item.next_attempt_at, item.delivered_at):
        assert_utc(value, AT)
    assert item.lease_until is None
    assert_utc(refusal.received_at, AT)
    assert_utc(nonce.seen_at, AT)
    assert_utc(cursor.updated_at, AT)
    assert item.state == "delivered"  # nothing pending any more


def test_comparisons_use_the_instant_not_the_written_zone(engine: Engine) -> None:
    """SQLite compares text: a non-UTC ``now`` must be converted before it is bound."""
    with transaction(engine) as session:
        outbox.enqueue(session, [(1, PacketRef("j", "d"), {"dpa": "v"})], now=AT)

    def claim(now: datetime) -> int:
        with transaction(engine) as session:
            return len(
                outbox.claim_due(
                    session, recipient="dpa", owner="w", now=now, lease=timedelta(hours=1), limit=5
                )
            )

    at_minus_1s_in_new_york = (AT - timedelta(seconds=1)).astimezone(timezone(timedelta(hours=-5)))
    assert claim(at_minus_1s_in_new_york) == 0
    assert claim(AT.astimezone(UTC)) == 1
    with transaction(engine) as session:
        lease_until = session.exec(select(OutboxItem)).one().lease_until
    assert_utc(lease_until, AT + timedelta(hours=1))


def test_a_naive_datetime_is_refused(engine: Engine) -> None:
    naive = datetime(2026, 11, 25, 12, 0, 0)
    with pytest.raises(StatementError, match="naive datetime"), transaction(engine) as session:
        peers.remember_nonce(session, peer="p", nonce="n", now=naive)
    with transaction(engine) as session:
        assert session.exec(select(SeenNonce)).all() == []
