"""``node.storage.outbox``: views owed to peers, leased to senders, acknowledged, fed."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import col, select

from clearinghouse.node.storage import outbox
from clearinghouse.node.storage.db import transaction
from clearinghouse.node.storage.models import DeliveryReceipt, OutboxItem, OutboxView
from clearinghouse.protocol.packet import PacketRef
from tests.node.storage._support import NOW, count_statements

LEASE = timedelta(minutes=2)


def ref(n: int) -> PacketRef:
    return PacketRef(f"jti-{n:04d}", f"{n:064x}")


def enqueue(engine: Engine, n: int, recipients: tuple[str, ...] = ("dpa",), start: int = 0) -> None:
    """``n`` packets, each owed to every recipient, enqueued in one transaction."""
    with transaction(engine) as session:
        for i in range(start, start + n):
            outbox.enqueue(
                session, [(i + 1, ref(i), {r: f"view of {i} for {r}" for r in recipients})], now=NOW
            )


def rows(engine: Engine, recipient: str | None = None) -> list[OutboxItem]:
    with transaction(engine) as session:
        query = select(OutboxItem).order_by(col(OutboxItem.id))
        if recipient:
            query = query.where(OutboxItem.recipient == recipient)
        return list(session.exec(query).all())


def texts(engine: Engine) -> dict[int, str]:
    """Each outbox row's view text, by the row's id."""
    with transaction(engine) as session:
        return {t.item_id: t.view for t in session.exec(select(OutboxView)).all()}


def claim(
    engine: Engine,
    *,
    owner: str = "w1",
    recipient: str = "dpa",
    limit: int = 10,
    at: datetime = NOW,
) -> list[int]:
    with transaction(engine) as session:
        items = outbox.claim_due(
            session, recipient=recipient, owner=owner, now=at, lease=LEASE, limit=limit
        )
    return [item.id or 0 for item in items]


def test_enqueue_writes_one_pending_row_per_recipient(engine: Engine) -> None:
    with transaction(engine) as session:
        outbox.enqueue(session, [(7, ref(7), {"dpa": "v-dpa", "unodc": "v-unodc"})], now=NOW)
        outbox.enqueue(session, [(8, ref(8), {})], now=NOW)
    got, viewed = rows(engine), texts(engine)
    assert [(r.recipient, viewed[r.id or 0]) for r in got] == [
        ("dpa", "v-dpa"),
        ("unodc", "v-unodc"),
    ]
    assert len(viewed) == 2
    for r in got:
        assert (r.packet_id, r.jti, r.digest) == (7, ref(7).jti, ref(7).digest)
        assert r.state == "pending" and r.attempts == 0
        assert r.created_at == NOW and r.next_attempt_at == NOW
        assert r.lease_owner is None and r.lease_until is None and r.delivered_at is None


def test_each_row_gets_its_own_view_when_a_packet_is_queued_again_for_a_recipient(
    engine: Engine,
) -> None:
    """An authorisation queues a second view of a packet for a recipient that has one:
    each row keeps its own text, the older row's untouched."""
    with transaction(engine) as session:
        outbox.enqueue(session, [(7, ref(7), {"dpa": "policy view"})], now=NOW)
    with transaction(engine) as session:
        outbox.enqueue(session, [(7, ref(7), {"dpa": "wider view"})], now=NOW, authorisation_id="a")
        outbox.enqueue(session, [(8, ref(8), {"dpa": "another"})], now=NOW)
    first, second, third = (r.id or 0 for r in rows(engine))
    assert texts(engine) == {first: "policy view", second: "wider view", third: "another"}


def test_a_view_queued_twice_for_one_recipient_in_one_call_is_refused(engine: Engine) -> None:
    with transaction(engine) as session:
        outbox.enqueue(session, [(1, ref(1), {"dpa": "kept"})], now=NOW)
    twice = [(7, ref(7), {"dpa": "one"}), (7, ref(7), {"dpa": "two"})]
    try:
        with transaction(engine) as session:
            outbox.enqueue(session, twice, now=NOW)
    except ValueError as exc:
        assert "queued twice" in str(exc)
    else:
        raise AssertionError("enqueue took the same view twice")
    assert [r.packet_id for r in rows(engine)] == [1] and list(texts(engine).values()) == ["kept"]


def test_claim_due_leases_the_oldest_due_items_up_to_the_limit(engine: Engine) -> None:
    enqueue(engine, 5, ("dpa", "unodc"))
    dpa = [r.id for r in rows(engine, "dpa")]
    assert claim(engine, limit=3) == dpa[:3]
    leased = {r.id: r for r in rows(engine, "dpa")}
    for i in dpa[:3]:
        assert leased[i].lease_owner == "w1" and leased[i].lease_until == NOW + LEASE
        assert leased[i].state == "pending"
    assert all(leased[i].lease_owner is None for i in dpa[3:])
    # leased items are not due for anyone else; the rest are
    assert claim(engine, owner="w2", limit=10) == dpa[3:]
    assert claim(engine, owner="w3") == []
    # other recipients' items were not touched
    assert all(r.lease_owner is None for r in rows(engine, "unodc"))
    assert claim(engine, recipient="unodc", limit=0) == []


def test_claim_due_skips_what_is_not_pending_or_not_yet_due(engine: Engine) -> None:
    enqueue(engine, 5)
    ids = [r.id or 0 for r in rows(engine)]
    with transaction(engine) as session:
        kept = outbox.add_receipt(session, recipient="dpa", jws="r", now=NOW)
        outbox.mark_delivered(session, receipts={ids[0]: (kept, 0)}, now=NOW)
        outbox.mark_refused(session, item_id=ids[1], receipt=(kept, 1), reason="no", now=NOW)
        outbox.retry_later(session, item_ids=[ids[2]], error="503", at=NOW + timedelta(minutes=1))
    assert claim(engine) == ids[3:]
    # not yet due one second before next_attempt_at; due at it
    assert claim(engine, owner="w2", at=NOW + timedelta(seconds=59)) == []
    assert claim(engine, owner="w2", at=NOW + timedelta(minutes=1)) == [ids[2]]


def test_claim_due_reads_back_only_what_delivery_uses(engine: Engine) -> None:
    """The view to send and what sending, checking its receipt, backing off or deferring
    it read: not the whole row (each column read back is converted, row after row)."""
    with transaction(engine) as session:
        outbox.enqueue(session, [(7, ref(7), {"dpa": "the view"})], now=NOW, authorisation_id="a")
        (item,) = outbox.claim_due(
            session, recipient="dpa", owner="w", now=NOW, lease=LEASE, limit=1
        )
    assert item._fields == (
        "id",
        "recipient",
        "jti",
        "digest",
        "view",
        "attempts",
        "created_at",
        "authorisation_id",
        "deferred_since",
    )
    assert (item.recipient, item.view) == ("dpa", "the view")
    assert (item.jti, item.digest) == (ref(7).jti, ref(7).digest)
    assert (item.attempts, item.created_at, item.authorisation_id) == (0, NOW, "a")
    assert item.deferred_since is None


def test_an_expired_lease_can_be_claimed_again(engine: Engine) -> None:
    enqueue(engine, 2)
    ids = claim(engine, owner="dead-worker")
    assert len(ids) == 2
    assert claim(engine, owner="w2", at=NOW + LEASE - timedelta(seconds=1)) == []
    assert claim(engine, owner="w2", at=NOW + LEASE) == []  # lease_until < now is required
    later = NOW + LEASE + timedelta(seconds=1)
    assert claim(engine, owner="w2", at=later) == ids
    assert {(r.lease_owner, r.lease_until) for r in rows(engine)} == {("w2", later + LEASE)}


def test_mark_delivered_changes_only_pending_rows(engine: Engine) -> None:
    enqueue(engine, 4)
    ids = [r.id or 0 for r in rows(engine)]
    claim(engine, limit=2)
    with transaction(engine) as session:
        outbox.mark_refused(session, item_id=ids[3], receipt=None, reason="policy", now=NOW)
    later = NOW + timedelta(seconds=3)
    with transaction(engine) as session:
        batch = outbox.add_receipt(session, recipient="dpa", jws="batch receipt", now=later)
        changed = outbox.mark_delivered(
            session,
            receipts={ids[0]: (batch, 0), ids[2]: None, ids[3]: (batch, 3), 99_999: (batch, 4)},
            now=later,
        )
    assert changed == 2  # ids[3] is refused, 99_999 does not exist
    with transaction(engine) as session:
        again = outbox.add_receipt(session, recipient="dpa", jws="again", now=later)
        assert outbox.mark_delivered(session, receipts={ids[0]: (again, 0)}, now=later) == 0
        assert outbox.mark_delivered(session, receipts={}, now=later) == 0
        evidence = {i: outbox.receipt_of(session, i) for i in [*ids, 99_999]}
    got = {r.id: r for r in rows(engine)}
    assert got[ids[0]].state == "delivered" and evidence[ids[0]] == ("batch receipt", 0)
    assert got[ids[0]].delivered_at == later and got[ids[0]].delivered_via == "push"
    assert got[ids[0]].lease_owner is None and got[ids[0]].lease_until is None
    assert got[ids[1]].state == "pending" and got[ids[1]].lease_owner == "w1"
    assert got[ids[2]].state == "delivered" and evidence[ids[2]] is None
    assert got[ids[3]].state == "refused" and got[ids[3]].last_error == "policy"
    assert evidence[ids[1]] is evidence[ids[3]] is evidence[99_999] is None


def test_a_batch_is_queued_leased_and_settled_in_as_many_statements_as_one_view(
    engine: Engine,
) -> None:
    """Queueing, leasing and marking delivered cost no statement per view; what changed
    is counted by the executemany itself."""

    def statements(n: int, peer: str) -> int:
        with count_statements(engine) as counted, transaction(engine) as session:
            outbox.enqueue(session, [(i + 1, ref(i), {peer: f"v{i}"}) for i in range(n)], now=NOW)
            due = outbox.claim_due(
                session, recipient=peer, owner="w", now=NOW, lease=LEASE, limit=n
            )
            receipts = {int(item.id or 0): (1, k) for k, item in enumerate(due)}
            assert outbox.mark_delivered(session, receipts=receipts, now=NOW, via="pull") == n
        delivered = rows(engine, peer)
        assert [(r.state, r.delivered_via, r.receipt_index) for r in delivered] == [
            ("delivered", "pull", k) for k in range(n)
        ]
        return counted[0]

    one = statements(1, "p1")  # after the engine's first connection (which may ask the server)
    assert statements(30, "p30") == one == statements(1, "p1b")


def test_a_receipt_is_kept_once_and_each_view_names_its_place_in_it(engine: Engine) -> None:
    enqueue(engine, 4)
    ids = [r.id or 0 for r in rows(engine)]
    with transaction(engine) as session:
        first = outbox.add_receipt(session, recipient="dpa", jws="batch one", now=NOW)
        second = outbox.add_receipt(session, recipient="dpa", jws="batch two", now=NOW)
        assert second > first
        outbox.mark_delivered(session, receipts={ids[0]: (first, 0), ids[1]: (first, 1)}, now=NOW)
        outbox.mark_refused(session, item_id=ids[2], receipt=(second, 0), reason="r", now=NOW)
        outbox.mark_refused(session, item_id=ids[3], receipt=None, reason="given up", now=NOW)
    with transaction(engine) as session:
        assert [outbox.receipt_of(session, i) for i in ids] == [
            ("batch one", 0),
            ("batch one", 1),
            ("batch two", 0),
            None,
        ]
        held = session.exec(select(DeliveryReceipt).order_by(col(DeliveryReceipt.id))).all()
    assert [(r.recipient, r.jws, r.received_at) for r in held] == [
        ("dpa", "batch one", NOW),
        ("dpa", "batch two", NOW),
    ]


def test_retry_later_counts_the_attempt_and_releases_the_lease(engine: Engine) -> None:
    enqueue(engine, 3)
    ids = claim(engine, limit=3)
    at = NOW + timedelta(seconds=30)
    with transaction(engine) as session:
        outbox.retry_later(session, item_ids=ids[:2], error="timeout " * 500, at=at)
        outbox.retry_later(session, item_ids=[], error="nothing", at=at)
    with transaction(engine) as session:
        outbox.retry_later(session, item_ids=ids[:1], error="503", at=at)
    got = {r.id: r for r in rows(engine)}
    assert [got[i].attempts for i in ids] == [2, 1, 0]
    assert got[ids[0]].last_error == "503"
    assert len(got[ids[1]].last_error or "") == 2000
    for i in ids[:2]:
        assert got[i].lease_owner is None and got[i].lease_until is None
        assert got[i].next_attempt_at == at and got[i].state == "pending"
    assert got[ids[2]].lease_owner == "w1" and got[ids[2]].attempts == 0
    # a delivered item is not rescheduled
    with transaction(engine) as session:
        outbox.mark_delivered(session, receipts={ids[2]: None}, now=NOW)
        outbox.retry_later(session, item_ids=[ids[2]], error="late", at=at)
    assert {r.id: r for r in rows(engine)}[ids[2]].attempts == 0
    assert min(r.next_attempt_at for r in rows(engine, "dpa") if r.state == "pending") == at
    assert claim(engine, owner="w2", at=at) == ids[:2]


def test_ack_through_delivers_offered_items_up_to_the_cursor(engine: Engine) -> None:
    enqueue(engine, 5, ("dpa", "unodc"))
    dpa = [r.id or 0 for r in rows(engine, "dpa")]
    with transaction(engine) as session:
        pushed = outbox.add_receipt(session, recipient="dpa", jws="pushed", now=NOW)
        outbox.mark_delivered(session, receipts={dpa[0]: (pushed, 0)}, now=NOW)
        offered = outbox.feed(session, recipient="dpa", after=0, limit=3, now=NOW)
    assert [i.id for i in offered] == dpa[1:4]
    claim(engine, limit=2)  # a lease does not stop an acknowledgement
    later = NOW + timedelta(minutes=5)
    with transaction(engine) as session:
        # dpa[4] was never offered: a cursor past it does not acknowledge it.
        assert outbox.ack_through(session, recipient="dpa", cursor=dpa[4], now=later) == 3
        assert outbox.ack_through(session, recipient="dpa", cursor=dpa[4], now=later) == 0
    got = {r.id: r for r in rows(engine, "dpa")}
    assert got[dpa[0]].delivered_via == "push"
    with transaction(engine) as session:
        assert outbox.receipt_of(session, dpa[0]) == ("pushed", 0)
        assert [outbox.receipt_of(session, i) for i in dpa[1:4]] == [None] * 3  # pulled
    for i in dpa[1:4]:
        assert got[i].state == "delivered" and got[i].delivered_via == "pull"
        assert got[i].delivered_at == later and got[i].lease_owner is None
    assert got[dpa[4]].state == "pending"
    assert all(r.state == "pending" for r in rows(engine, "unodc"))


def test_feed_is_what_is_still_owed_in_cursor_order(engine: Engine) -> None:
    enqueue(engine, 8, ("dpa", "unodc"))
    dpa = [r.id or 0 for r in rows(engine, "dpa")]
    with transaction(engine) as session:
        outbox.mark_delivered(session, receipts={dpa[1]: None}, now=NOW)  # pushed already
        (leased,) = outbox.claim_due(
            session, recipient="dpa", owner="w", now=NOW, lease=timedelta(seconds=30), limit=1
        )  # dpa[0]: a push in flight is still owed, so it stays in the feed
        first = outbox.feed(session, recipient="dpa", after=0, limit=4, now=NOW)
        rest = outbox.feed(session, recipient="dpa", after=first[-1].id or 0, limit=4, now=NOW)
        assert outbox.feed(session, recipient="dpa", after=dpa[-1], limit=4, now=NOW) == []
        assert outbox.feed(session, recipient="nobody", after=0, limit=4, now=NOW) == []
    assert leased.id == dpa[0]
    owed = [dpa[0], *dpa[2:]]
    assert [i.id for i in first + rest] == owed
    assert [i.view for i in first + rest] == [f"view of {n} for dpa" for n in (0, 2, 3, 4, 5, 6, 7)]


def test_pending_by_recipient_and_counts_by_recipient_and_state(engine: Engine) -> None:
    with transaction(engine) as session:
        assert outbox.pending_by_recipient(session) == {}
        assert outbox.count_by_recipient_and_state(session) == {}
    enqueue(engine, 3, ("dpa", "unodc"))
    enqueue(engine, 2, ("undp",), start=3)
    dpa = [r.id or 0 for r in rows(engine, "dpa")]
    with transaction(engine) as session:
        outbox.mark_delivered(session, receipts={dpa[0]: None, dpa[1]: None}, now=NOW)
        outbox.mark_refused(session, item_id=dpa[2], receipt=None, reason="x", now=NOW)
    with transaction(engine) as session:
        assert outbox.pending_by_recipient(session) == {"unodc": 3, "undp": 2}
        counts = outbox.count_by_recipient_and_state(session)
    assert counts == {
        ("dpa", "delivered"): 2,
        ("dpa", "refused"): 1,
        ("unodc", "pending"): 3,
        ("undp", "pending"): 2,
    }
    by_state: dict[str, int] = {}
    for (_, state), n in counts.items():
        by_state[state] = by_state.get(state, 0) + n
    assert by_state == {"pending": 5, "delivered": 2, "refused": 1}
