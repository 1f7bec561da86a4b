"""The outbox: views owed to peers, written before any send, drained by delivery.

A view is ``pending`` until a receipt says the peer holds it (``delivered``, by
push or acknowledged through the peer's catch-up pulls) or refused it for good
(``refused``); a view the peer *deferred* (issued in the future by its clock) stays
pending, due again later, with the time of its first deferral (:func:`defer`), until
delivery gives up on it (``refused``). The peer's signed receipt is kept once
(:func:`add_receipt`: a batch receipt covers many rows) and each row names its evidence:
the receipt and the view's position in it (:func:`receipt_of`). A row's view text is
kept apart from it (:class:`OutboxView`): a row changes as delivery leases and settles
it, its view never does. Delivery *claims* due
items with a lease, so that several node processes on one PostgreSQL share the work
without sending a view twice (``FOR UPDATE SKIP LOCKED``); a process that dies leaves
its lease to expire.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeAlias

from sqlalchemy import (
    Integer,
    Row,
    Text,
    bindparam,
    case,
    cast,
    exists,
    func,
    insert,
    literal_column,
    null,
    or_,
    type_coerce,
    update,
)
from sqlalchemy import select as select_rows
from sqlmodel import Session, col, select

from clearinghouse.node.storage._core import driver_executemany, rowcount, table_of
from clearinghouse.node.storage.models import (
    DeliveryReceipt,
    OutboxItem,
    OutboxView,
    UTCDateTime,
)
from clearinghouse.protocol.packet import PacketRef

#: An outbox item as :func:`claim_due` and :func:`feed` return it: a row with the columns
#: of :class:`OutboxItem` that delivery reads and its view (:data:`_DUE_COLUMNS`), as
#: attributes.
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


_ITEMS = table_of(OutboxItem)
_VIEWS = table_of(OutboxView)
#: The columns :func:`enqueue` writes (the others start NULL).
_ENQUEUED = (
    "recipient",
    "packet_id",
    "jti",
    "digest",
    "state",
    "attempts",
    "created_at",
    "next_attempt_at",
    "authorisation_id",
)
_INSERT_ITEM = insert(_ITEMS).values({name: bindparam(name) for name in _ENQUEUED})
#: A view's text, under the id of the row just written for its (packet, recipient): the
#: one such row without a text yet. Found rather than returned by the insert, which an
#: executemany cannot do on SQLite; a row committed by another transaction already has
#: its text, and one not yet committed is not seen.
_INSERT_VIEW = insert(_VIEWS).from_select(
    ["item_id", "view"],
    select_rows(_ITEMS.c.id, cast(bindparam("view"), Text)).where(
        _ITEMS.c.jti == bindparam("jti"),
        _ITEMS.c.recipient == bindparam("recipient"),
        _ITEMS.c.packet_id == bindparam("packet_id"),
        ~exists().where(_VIEWS.c.item_id == _ITEMS.c.id),
    ),
)


def enqueue(
    session: Session,
    entries: Sequence[tuple[int, PacketRef, Mapping[str, str]]],
    *,
    now: datetime,
    authorisation_id: str | None = None,
    due: datetime | None = None,
) -> int:
    """One pending row per (packet, recipient), in the caller's transaction.

    ``entries`` are ``(packet row id, packet ref, {recipient: view})``;
    ``authorisation_id`` names the oversight authorisation the views rely on; ``due``
    is when they may first be claimed for delivery (default: ``now``).
    One executemany handed to the driver (:func:`driver_executemany`), the values every
    row shares (the timestamps among them) converted once: the ORM's bulk insert, then
    SQLAlchemy's Core executemany, did per-row work that cost more than the insert.
    Then one for the texts (:data:`_INSERT_VIEW`), which finds each row by its packet
    and recipient: a packet queued twice for one recipient in one call raises
    ``ValueError`` (a wider view under an authorisation is queued in a call of its own).
    """
    rows = [
        {"recipient": recipient, "packet_id": packet_id, "jti": ref.jti, "digest": ref.digest}
        for packet_id, ref, views in entries
        for recipient in views
    ]
    if len({(row["packet_id"], row["recipient"]) for row in rows}) < len(rows):
        raise ValueError("a packet's view is queued twice for one recipient in one call")
    if rows:
        shared = {
            "state": "pending",
            "attempts": 0,
            "created_at": now,
            "next_attempt_at": due or now,
            "authorisation_id": authorisation_id,
        }
        connection = session.connection()
        driver_executemany(connection, _INSERT_ITEM, rows, shared=shared)
        texts = [
            {"packet_id": packet_id, "jti": ref.jti, "recipient": recipient, "view": view}
            for packet_id, ref, views in entries
            for recipient, view in views.items()
        ]
        driver_executemany(connection, _INSERT_VIEW, texts, shared={})
    return len(rows)


#: The due pending items of a recipient, oldest first, locked (PostgreSQL) but skipping
#: those another process holds; and the update that leases them. Built once: building
#: the statement on every call cost about as much as running it.
_DUE = (
    select_rows(_ITEMS.c.id)
    .where(
        _ITEMS.c.recipient == bindparam("due_to"),
        _ITEMS.c.state == "pending",
        _ITEMS.c.next_attempt_at <= bindparam("now"),
        or_(_ITEMS.c.lease_until.is_(None), _ITEMS.c.lease_until < bindparam("now")),
    )
    .order_by(_ITEMS.c.id)
    .limit(bindparam("limit", type_=Integer))
    .with_for_update(skip_locked=True)
)
#: What delivery reads of a leased item: the view to send (cut to what may go now by its
#: authorisation and age), what its receipt must name, and what backing off or deferring
#: it needs. Not the rest of the row: each column read back is converted per row, and the
#: timestamps (six of them) cost the most.
_DUE_COLUMNS = (
    _ITEMS.c.id,
    _ITEMS.c.recipient,
    _ITEMS.c.jti,
    _ITEMS.c.digest,
    select_rows(_VIEWS.c.view)
    .where(_VIEWS.c.item_id == _ITEMS.c.id)
    .scalar_subquery()
    .label("view"),
    _ITEMS.c.attempts,
    _ITEMS.c.created_at,
    _ITEMS.c.authorisation_id,
    _ITEMS.c.deferred_since,
)
_CLAIM = (
    update(_ITEMS)
    .where(_ITEMS.c.id.in_(_DUE.scalar_subquery()))
    .values(lease_owner=bindparam("owner"), lease_until=bindparam("until"))
    .returning(*_DUE_COLUMNS)
)


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
    claimed = session.connection().execute(
        _CLAIM,
        {"due_to": recipient, "now": now, "limit": limit, "owner": owner, "until": now + lease},
    )
    # Plain rows (attribute access by column name), not ORM objects: building 200
    # SQLModel instances per round cost the delivery loop more than the query.
    return sorted(claimed.all(), key=lambda item: item.id)


_RECEIPTS = table_of(DeliveryReceipt)
_INSERT_RECEIPT = insert(_RECEIPTS).returning(_RECEIPTS.c.id)


def add_receipt(session: Session, *, recipient: str, jws: str, now: datetime) -> int:
    """Keep a receipt ``recipient`` signed (once, however many views it covers); its id."""
    inserted = session.connection().execute(
        _INSERT_RECEIPT, {"recipient": recipient, "jws": jws, "received_at": now}
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


#: One executemany row per view delivered: its id, the receipt's id and the view's
#: position in it, the time and the way. The constants (states, NULL leases) are written
#: into the SQL rather than bound: an executemany processes every bound value once per
#: row, a UTCDateTime ``None`` too.
_MARK_DELIVERED = (
    update(_ITEMS)
    .where(_ITEMS.c.id == bindparam("item_id"), _ITEMS.c.state == literal_column("'pending'"))
    .values(
        state=literal_column("'delivered'"),
        delivered_at=bindparam("now"),
        delivered_via=bindparam("via"),
        receipt_id=bindparam("evidence_id"),
        receipt_index=bindparam("evidence_index"),
        lease_owner=null(),
        lease_until=null(),
    )
)


def mark_delivered(
    session: Session,
    *,
    receipts: Mapping[int, ReceiptRef | None],
    now: datetime,
    via: str = "push",
) -> int:
    """Mark items delivered (each with its evidence: the receipt and the view's position
    in it); return how many changed (those still pending).

    One executemany in id order handed to the driver (:func:`driver_executemany`), the
    time converted once. What changed is its row count,
    which both drivers sum over the rows (pysqlite; psycopg since 3.1), rather than a read
    of which are still pending first: one statement less, and exact even when another
    transaction settles a view in between."""
    if not receipts:
        return 0
    rows = []
    for item_id in sorted(receipts):
        evidence = receipts[item_id]
        receipt_id, index = evidence if evidence is not None else (None, None)
        rows.append({"item_id": item_id, "evidence_id": receipt_id, "evidence_index": index})
    shared = {"now": now, "via": via}
    return rowcount(driver_executemany(session.connection(), _MARK_DELIVERED, rows, shared=shared))


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
) -> list[DueItem]:
    """Views still owed to ``recipient`` after cursor ``after``, in cursor order (catch-up),
    each marked as offered (see :func:`ack_through`).

    Views already delivered are left out (the peer has them); views still pending
    are in, leased ones too.
    """
    items = list(
        session.execute(
            select_rows(*_DUE_COLUMNS)
            .where(
                _ITEMS.c.recipient == recipient,
                _ITEMS.c.id > after,
                _ITEMS.c.state == "pending",
            )
            .order_by(_ITEMS.c.id)
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
