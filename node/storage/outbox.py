"""The outbox: views owed to peers, written before any send, drained by delivery.

A view is ``pending`` until a receipt says the peer holds it (``delivered``, by
push or acknowledged through the peer's catch-up pulls) or refused it for good
(``refused``); a view the peer *deferred* (issued in the future by its clock) stays
pending, due again later, with the time of its first deferral (:func:`defer`), until
delivery gives up on it (``refused``). The peer's signed receipt is kept once
(:func:`add_receipt`: a batch receipt covers many rows) and each row names its evidence:
the receipt and the view's position in it (:func:`receipt_of`). Delivery *claims* due
items with a lease, so that several node processes on one PostgreSQL share the work
without sending a view twice (``FOR UPDATE SKIP LOCKED``); a process that dies leaves
its lease to expire.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeAlias

from sqlalchemy import Row, bindparam, case, func, insert, or_, type_coerce, update
from sqlmodel import Session, col, select

from clearinghouse.node.storage._core import rowcount, table_of
from clearinghouse.node.storage.models import DeliveryReceipt, OutboxItem, UTCDateTime
from clearinghouse.protocol.packet import PacketRef

#: A leased outbox item as :func:`claim_due` returns it: a row with the columns of
#: :class:`OutboxItem` as attributes.
DueItem: TypeAlias = Row[Any]
#: The evidence for one view: a receipt's id (:func:`add_receipt`) and the view's position
#: in it (0 for a per-view receipt).
ReceiptRef: TypeAlias = tuple[int, int]

__all__ = [
    "ReceiptRef",
    "ack_through",
    "add_receipt",
    "claim_due",
    "count_by_recipient_and_state",
    "defer",
    "enqueue",
    "feed",
    "mark_delivered",
    "mark_refused",
    "next_due",
    "pending_by_recipient",
    "receipt_of",
    "retry_later",
]


def enqueue(
    session: Session,
    entries: Sequence[tuple[int, PacketRef, Mapping[str, str]]],
    *,
    now: datetime,
    authorisation_id: str | None = None,
) -> int:
    """One pending row per (packet, recipient), in the caller's transaction.

    ``entries`` are ``(packet row id, packet ref, {recipient: view})``;
    ``authorisation_id`` names the oversight authorisation the views rely on.
    """
    rows = [
        {
            "recipient": recipient,
            "packet_id": packet_id,
            "jti": ref.jti,
            "digest": ref.digest,
            "view": view,
            "state": "pending",
            "attempts": 0,
            "created_at": now,
            "next_attempt_at": now,
            "authorisation_id": authorisation_id,
        }
        for packet_id, ref, views in entries
        for recipient, view in views.items()
    ]
    if rows:
        session.execute(insert(OutboxItem), rows)
    return len(rows)


def claim_due(
    session: Session,
    *,
    recipient: str,
    owner: str,
    now: datetime,
    lease: timedelta,
    limit: int,
) -> list[DueItem]:
    """Lease up to ``limit`` due pending items for ``recipient``, oldest first."""
    due = (
        select(OutboxItem.id)
        .where(
            OutboxItem.recipient == recipient,
            OutboxItem.state == "pending",
            col(OutboxItem.next_attempt_at) <= now,
            or_(col(OutboxItem.lease_until).is_(None), col(OutboxItem.lease_until) < now),
        )
        .order_by(col(OutboxItem.id))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    table = table_of(OutboxItem)
    statement = (
        update(table)
        .where(table.c.id.in_(due.scalar_subquery()))
        .values(lease_owner=owner, lease_until=now + lease)
        .returning(*table.c)
    )
    # Plain rows (attribute access by column name), not ORM objects: building 200
    # SQLModel instances per round cost the delivery loop more than the query.
    return sorted(session.execute(statement).all(), key=lambda item: item.id)


def add_receipt(session: Session, *, recipient: str, jws: str, now: datetime) -> int:
    """Keep a receipt ``recipient`` signed (once, however many views it covers); its id."""
    table = table_of(DeliveryReceipt)
    inserted = session.execute(
        insert(table).values(recipient=recipient, jws=jws, received_at=now).returning(table.c.id)
    )
    return int(inserted.scalar_one())


def receipt_of(session: Session, item_id: int) -> tuple[str, int] | None:
    """The evidence kept for outbox item ``item_id``: the text of the receipt its peer
    signed and the view's position in it (None: no receipt, as for a view acknowledged
    through the peer's catch-up pulls)."""
    items, receipts = table_of(OutboxItem), table_of(DeliveryReceipt)
    row = session.execute(
        select(receipts.c.jws, items.c.receipt_index)
        .join(receipts, receipts.c.id == items.c.receipt_id)
        .where(items.c.id == item_id)
    ).first()
    return None if row is None else (row.jws, int(row.receipt_index or 0))


def next_due(session: Session, *, recipient: str) -> datetime | None:
    """When the first pending item for ``recipient`` may be claimed: its
    ``next_attempt_at``, or the end of its lease if later; None when none is pending."""
    attempt, lease = col(OutboxItem.next_attempt_at), col(OutboxItem.lease_until)
    claimable = case((lease > attempt, lease), else_=attempt)
    first = type_coerce(func.min(claimable), UTCDateTime())
    statement = select(first).where(
        OutboxItem.recipient == recipient, OutboxItem.state == "pending"
    )
    value: datetime | None = session.execute(statement).scalar_one_or_none()
    return value


def mark_delivered(
    session: Session,
    *,
    receipts: Mapping[int, ReceiptRef | None],
    now: datetime,
    via: str = "push",
) -> int:
    """Mark items delivered (each with its evidence: the receipt and the view's position
    in it); return how many changed.

    One read of which are still pending, then one executemany (no ORM work per row)."""
    if not receipts:
        return 0
    table = table_of(OutboxItem)
    pending = set(
        session.execute(
            select(table.c.id).where(table.c.id.in_(list(receipts)), table.c.state == "pending")
        ).scalars()
    )
    if not pending:
        return 0
    statement = (
        update(table)
        .where(table.c.id == bindparam("item_id"), table.c.state == "pending")
        .values(
            state="delivered",
            delivered_at=now,
            delivered_via=via,
            receipt_id=bindparam("evidence_id"),
            receipt_index=bindparam("evidence_index"),
            lease_owner=None,
            lease_until=None,
        )
    )
    rows = []
    for item_id in sorted(pending):
        evidence = receipts[item_id]
        receipt_id, index = evidence if evidence is not None else (None, None)
        rows.append({"item_id": item_id, "evidence_id": receipt_id, "evidence_index": index})
    session.connection().execute(statement, rows)
    return len(pending)


def mark_refused(
    session: Session, *, item_id: int, receipt: ReceiptRef | None, reason: str, now: datetime
) -> None:
    """The peer refused the view for good (``receipt``: its evidence, if signed), or
    delivery gave up on it."""
    receipt_id, index = receipt if receipt is not None else (None, None)
    session.execute(
        update(OutboxItem)
        .where(col(OutboxItem.id) == item_id, col(OutboxItem.state) == "pending")
        .values(
            state="refused",
            delivered_at=now,
            receipt_id=receipt_id,
            receipt_index=index,
            last_error=reason,
            lease_owner=None,
            lease_until=None,
        )
    )


def retry_later(session: Session, *, item_ids: Sequence[int], error: str, at: datetime) -> None:
    """Release the lease, count the attempt, and schedule the next one."""
    if not item_ids:
        return
    session.execute(
        update(OutboxItem)
        .where(col(OutboxItem.id).in_(item_ids), col(OutboxItem.state) == "pending")
        .values(
            attempts=OutboxItem.attempts + 1,
            last_error=error[:2000],
            next_attempt_at=at,
            lease_owner=None,
            lease_until=None,
        )
    )


def defer(session: Session, *, item_id: int, error: str, at: datetime, since: datetime) -> None:
    """The peer deferred the view: release the lease, count the attempt, schedule the next
    one at ``at``, and keep ``since`` as its first deferral (the caller passes the one the
    row holds, if any)."""
    session.execute(
        update(OutboxItem)
        .where(col(OutboxItem.id) == item_id, col(OutboxItem.state) == "pending")
        .values(
            attempts=OutboxItem.attempts + 1,
            last_error=error[:2000],
            next_attempt_at=at,
            deferred_since=since,
            lease_owner=None,
            lease_until=None,
        )
    )


def ack_through(session: Session, *, recipient: str, cursor: int, now: datetime) -> int:
    """The peer pulled and stored everything up to ``cursor``: the views it was offered
    up to there are delivered.

    Only views actually offered in a feed page count: on PostgreSQL a view with a
    lower id can commit after a higher one was fed, and must not be acknowledged
    unseen (delivery pushes it instead).
    """
    result = session.execute(
        update(OutboxItem)
        .where(
            col(OutboxItem.recipient) == recipient,
            col(OutboxItem.id) <= cursor,
            col(OutboxItem.state) == "pending",
            col(OutboxItem.offered_at).is_not(None),
        )
        .values(
            state="delivered",
            delivered_at=now,
            delivered_via="pull",
            lease_owner=None,
            lease_until=None,
        )
    )
    return rowcount(result)


def feed(
    session: Session, *, recipient: str, after: int, limit: int, now: datetime
) -> list[OutboxItem]:
    """Views still owed to ``recipient`` after cursor ``after``, in cursor order (catch-up),
    each marked as offered (see :func:`ack_through`).

    Views already delivered are left out (the peer has them); views still pending
    are in, leased ones too.
    """
    items = list(
        session.exec(
            select(OutboxItem)
            .where(
                OutboxItem.recipient == recipient,
                col(OutboxItem.id) > after,
                OutboxItem.state == "pending",
            )
            .order_by(col(OutboxItem.id))
            .limit(limit)
        ).all()
    )
    if items:
        session.execute(
            update(OutboxItem)
            .where(col(OutboxItem.id).in_([item.id for item in items]))
            .values(offered_at=now)
        )
    return items


def pending_by_recipient(session: Session) -> dict[str, int]:
    rows = session.exec(
        select(OutboxItem.recipient, func.count())
        .where(OutboxItem.state == "pending")
        .group_by(OutboxItem.recipient)
    ).all()
    return {r: int(n) for r, n in rows}


def count_by_recipient_and_state(session: Session) -> dict[tuple[str, str], int]:
    """Counts per (recipient, state) from one query, so that they agree with each other."""
    rows = session.exec(
        select(OutboxItem.recipient, OutboxItem.state, func.count()).group_by(
            OutboxItem.recipient, OutboxItem.state
        )
    ).all()
    return {(r, s): int(n) for r, s, n in rows}
