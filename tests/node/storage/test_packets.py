"""``node.storage.packets``: packets held once per (jti, digest), listed, counted; refusals."""

from __future__ import annotations

import hashlib
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import Engine, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from clearinghouse.node.storage import packets
from clearinghouse.node.storage.db import transaction
from clearinghouse.node.storage.models import InboundRefusal, StoredPacket
from clearinghouse.protocol.packet import PacketRef
from tests.node.storage._support import NOW, Packets, count_statements, ref


def count(engine: Engine) -> int:
    with transaction(engine) as session:
        return int(session.exec(select(func.count()).select_from(StoredPacket)).one())


def test_add_issued_stores_the_full_packet(engine: Engine, packet_factory: Packets) -> None:
    issued = packet_factory.issued()
    with transaction(engine) as session:
        (row_id,) = packets.add_issued(session, [issued], issuer="mission", kid="kid-1", now=NOW)
    with transaction(engine) as session:
        row = session.get(StoredPacket, row_id)
    assert row is not None
    assert (row.jti, row.digest) == ref(issued)
    assert row.origin == "local" and row.issuer == "mission" and row.kid == "kid-1"
    assert row.raw == issued.sd_jwt  # the exact bytes, not a re-serialisation
    assert row.claims == dict(issued.claims)
    assert row.schema_id == "conflict-event/1" and row.hc == "H0" and row.hcr is None
    assert row.issued_at == issued.issued_at and row.stored_at == NOW


def test_add_issued_twice_is_refused_by_the_unique_ref(
    engine: Engine, packet_factory: Packets
) -> None:
    issued = packet_factory.issued()
    with transaction(engine) as session:
        packets.add_issued(session, [issued], issuer="mission", kid="k", now=NOW)
    with pytest.raises(IntegrityError), transaction(engine) as session:
        packets.add_issued(session, [issued], issuer="mission", kid="k", now=NOW)
    assert count(engine) == 1


def test_add_issued_answers_each_packets_id_in_batch_order(
    engine: Engine, packet_factory: Packets
) -> None:
    """The ids are read back by (jti, digest): another packet held under the same jti
    (another digest) is never taken for one of the batch."""
    first, second, third = (packet_factory.issued() for _ in range(3))
    same_jti = replace(second, ref=PacketRef(first.ref.jti, "f" * 64))
    with transaction(engine) as session:
        (held,) = packets.add_issued(session, [first], issuer="mission", kid="k", now=NOW)
    batch = [third, same_jti, second]
    with transaction(engine) as session:
        ids = packets.add_issued(session, batch, issuer="mission", kid="k", now=NOW)
    assert len(set(ids)) == 3 and held not in ids
    with transaction(engine) as session:
        stored = [session.get(StoredPacket, row_id) for row_id in ids]
    assert [(row.jti, row.digest) for row in stored if row] == [ref(p) for p in batch]


def test_add_issued_writes_a_batch_in_as_many_statements_as_one_packet(
    engine: Engine, packet_factory: Packets
) -> None:
    """No statement per packet (as an ordered ``RETURNING`` made SQLite do)."""

    def statements(n: int) -> int:
        batch = [packet_factory.issued() for _ in range(n)]
        with count_statements(engine) as counted, transaction(engine) as session:
            packets.add_issued(session, batch, issuer="mission", kid="k", now=NOW)
        return counted[0]

    one = statements(1)  # after the engine's first connection (which may ask the server)
    assert statements(12) == one == statements(1)


def test_add_received_dedupes_within_a_batch_and_across_calls(
    engine: Engine, packet_factory: Packets
) -> None:
    one, two, three = (packet_factory.issued() for _ in range(3))
    v1, v2, v3 = (packet_factory.received(p) for p in (one, two, three))
    with transaction(engine) as session:
        new = packets.add_received(session, [v1, v1, v2, v1], origin="mission", now=NOW)
    assert set(new) == {ref(one), ref(two)}
    assert all(isinstance(i, int) for i in new.values())
    assert count(engine) == 2

    with transaction(engine) as session:
        new = packets.add_received(session, [v2, v3], origin="mission", now=NOW)
    assert set(new) == {ref(three)}

    # Another peer relaying another view of a packet already held: a duplicate too.
    other_view = packet_factory.received(one, recipient="unodc")
    assert other_view.raw != v1.raw
    with transaction(engine) as session:
        assert packets.add_received(session, [other_view], origin="unodc", now=NOW) == {}
        assert packets.add_received(session, [], origin="unodc", now=NOW) == {}
    assert count(engine) == 3

    with transaction(engine) as session:
        row = session.exec(select(StoredPacket).where(StoredPacket.jti == one.ref.jti)).one()
    assert row.origin == "mission" and row.raw == v1.raw  # the first copy is kept as received
    assert row.claims == dict(v1.claims) and row.issuer == "mission"


def test_a_received_copy_of_a_packet_issued_here_is_a_duplicate(
    engine: Engine, packet_factory: Packets
) -> None:
    issued = packet_factory.issued()
    with transaction(engine) as session:
        packets.add_issued(session, [issued], issuer="mission", kid="k", now=NOW)
    with transaction(engine) as session:
        new = packets.add_received(
            session, [packet_factory.received(issued)], origin="dpa", now=NOW
        )
    assert new == {}
    with transaction(engine) as session:
        assert packets.count_by_origin(session) == {"local": 1}


def test_concurrent_duplicate_insert_is_not_an_error(
    engine: Engine, packet_factory: Packets
) -> None:
    """B inserts the packet while A's insert of it is uncommitted: B waits, then skips it."""
    view = packet_factory.received(packet_factory.issued())
    b_started = threading.Event()

    def insert_in_b() -> dict[tuple[str, str], int]:
        with transaction(engine) as session:
            b_started.set()
            return packets.add_received(session, [view], origin="unodc", now=NOW)

    with ThreadPoolExecutor(1) as pool:
        with transaction(engine) as session:
            new = packets.add_received(session, [view], origin="mission", now=NOW)
            assert set(new) == {ref(view)}
            b = pool.submit(insert_in_b)
            assert b_started.wait(10)
            time.sleep(0.3)
            assert not b.done(), "B should wait for A's uncommitted row"
        assert b.result(timeout=30) == {}
    with transaction(engine) as session:
        assert packets.count_by_origin(session) == {"mission": 1}


def test_list_packets_filters_and_pages(engine: Engine, packet_factory: Packets) -> None:
    conflict = [packet_factory.issued("conflict-event/1") for _ in range(3)]
    seizure = [packet_factory.issued("seizure/1") for _ in range(2)]
    market = packet_factory.issued("market-price/1")
    with transaction(engine) as session:
        for p in conflict[:2]:
            packets.add_issued(session, [p], issuer="mission", kid="k", now=NOW)
        packets.add_received(
            session, [packet_factory.received(p) for p in seizure], origin="unodc", now=NOW
        )
        packets.add_received(
            session,
            [packet_factory.received(conflict[2]), packet_factory.received(market)],
            origin="mission",
            now=NOW,
        )

    def listed(**kw: object) -> list[tuple[str, str]]:
        with transaction(engine) as session:
            rows = packets.list_packets(session, **kw)  # type: ignore[arg-type]
        assert [r.id for r in rows] == sorted(r.id for r in rows)  # by id, ascending
        return [(r.jti, r.digest) for r in rows]

    everything = listed()
    assert len(everything) == 6
    assert set(listed(schema="conflict-event/1")) == {ref(p) for p in conflict}
    assert set(listed(schema="seizure/1")) == {ref(p) for p in seizure}
    assert set(listed(issuer="undp")) == {ref(market)}
    assert set(listed(origin="local")) == {ref(p) for p in conflict[:2]}
    assert set(listed(origin="mission")) == {ref(conflict[2]), ref(market)}
    assert listed(origin="mission", schema="market-price/1") == [ref(market)]
    assert listed(schema="no-such/1") == []
    assert listed(limit=2) == everything[:2]
    with transaction(engine) as session:
        second = packets.list_packets(session, limit=2)[1].id
    assert listed(after_id=second or 0) == everything[2:]
    assert listed(after_id=second or 0, limit=3) == everything[2:5]


def test_count_by_origin(engine: Engine, packet_factory: Packets) -> None:
    with transaction(engine) as session:
        assert packets.count_by_origin(session) == {}
        for _ in range(2):
            packets.add_issued(
                session, [packet_factory.issued()], issuer="mission", kid="k", now=NOW
            )
        packets.add_received(
            session,
            [packet_factory.received(packet_factory.issued("seizure/1")) for _ in range(3)],
            origin="unodc",
            now=NOW,
        )
        packets.add_received(
            session,
            [packet_factory.received(packet_factory.issued("market-price/1"))],
            origin="undp",
            now=NOW,
        )
    with transaction(engine) as session:
        assert packets.count_by_origin(session) == {"local": 2, "unodc": 3, "undp": 1}


def test_refusals_keep_a_digest_and_the_header_never_the_text(engine: Engine) -> None:
    header = "eyJhbGciOiJFZERTQSJ9"
    raw = f"{header}.eyJuYW1lIjoiQWxpIn0.sig~WyJzIiwibmFtZSIsIkFsaSJd~"
    with transaction(engine) as session:
        assert packets.count_refusals(session) == {}
        packets.add_refusal(
            session,
            peer="mission",
            disposition="rejected",
            code="bad-signature",
            reason="signature does not verify",
            raw=raw,
            now=NOW,
        )
        packets.add_refusal(
            session,
            peer="mission",
            disposition="rejected",
            code="unknown-schema",
            reason="no schema x/1",
            raw="x" * 5000 + "\x00",
            now=NOW,
        )
        packets.add_refusal(
            session,
            peer="unodc",
            disposition="quarantined",
            code="over-disclosure",
            reason="claim 'name' not granted to dpa",
            raw="y\x00~secret~",
            now=NOW,
            jti="0190-jti",
            digest="ab" * 32,
        )
    with transaction(engine) as session:
        assert packets.count_refusals(session) == {"rejected": 2, "quarantined": 1}
        rows = session.exec(select(InboundRefusal).order_by(col(InboundRefusal.id))).all()
    assert [r.peer for r in rows] == ["mission", "mission", "unodc"]
    assert (rows[0].sha256, rows[0].size) == (hashlib.sha256(raw.encode()).hexdigest(), len(raw))
    assert rows[0].prefix == header  # the JWS header: no claim, no disclosure
    assert rows[0].jti is None and rows[0].received_at == NOW
    assert rows[1].prefix == "x" * packets.PREFIX_CHARS and rows[1].size == 5001
    assert rows[2].prefix == "y\\x00"  # up to the first '~', the NUL escaped
    assert (rows[2].jti, rows[2].digest, rows[2].code) == ("0190-jti", "ab" * 32, "over-disclosure")
    assert not hasattr(rows[2], "raw")
    # refusals are not packets
    with transaction(engine) as session:
        assert packets.count_by_origin(session) == {}


def test_refusals_are_bounded_per_peer_newest_kept(engine: Engine) -> None:
    refused = [
        packets.RefusedView("rejected", "malformed-packet", f"#{n}", f"v{n}") for n in range(7)
    ]
    with transaction(engine) as session:
        packets.add_refusals(session, peer="mission", refused=refused[:4], now=NOW, keep=5)
        packets.add_refusals(session, peer="unodc", refused=refused[:2], now=NOW, keep=5)
        packets.add_refusals(session, peer="mission", refused=refused[4:], now=NOW, keep=5)
    with transaction(engine) as session:
        rows = session.exec(select(InboundRefusal).order_by(col(InboundRefusal.id))).all()
    assert [r.reason for r in rows if r.peer == "mission"] == [f"#{n}" for n in range(2, 7)]
    assert [r.reason for r in rows if r.peer == "unodc"] == ["#0", "#1"]  # another peer's own


def test_refusals_past_their_retention_are_purged(engine: Engine) -> None:
    view = packets.RefusedView("quarantined", "over-disclosure", "r", "v")
    with transaction(engine) as session:
        packets.add_refusals(session, peer="mission", refused=[view], now=NOW, keep=9)
        later = NOW + timedelta(days=2)
        packets.add_refusals(session, peer="mission", refused=[view, view], now=later, keep=9)
    with transaction(engine) as session:
        assert packets.purge_refusals(session, before=NOW + timedelta(days=1)) == 1
        assert packets.purge_refusals(session, before=NOW + timedelta(days=1)) == 0
        assert packets.count_refusals(session) == {"quarantined": 2}
