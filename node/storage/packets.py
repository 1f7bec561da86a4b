"""Packets held by this node, and the views refused at receipt.

A refused view (rejected, quarantined or deferred) is recorded without its text,
which may hold values the policy withholds from this node: only its SHA-256, its
length and :func:`refusal_prefix` (its JWS protected header). At most
``keep`` rows per peer are kept (the oldest go first, :func:`add_refusals`), and
:func:`purge_refusals` forgets those past the retention period.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, String, bindparam, cast, delete, func, insert, null, union_all
from sqlalchemy import select as select_rows
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import ReturningInsert
from sqlmodel import Session, col, select

from clearinghouse.node.storage._core import UpsertInsert, driver_executemany, rowcount, table_of
from clearinghouse.node.storage.models import InboundRefusal, OutboxItem, StoredPacket
from clearinghouse.node.storage.situation_index import index_packets, reindex_packet
from clearinghouse.protocol.packet import IssuedPacket, VerifiedPacket
from clearinghouse.protocol.results import RESULT_SCHEMA, HeldInput

__all__ = [
    "PREFIX_CHARS",
    "RefusedView",
    "add_issued",
    "add_received",
    "add_refusal",
    "add_refusals",
    "count_by_origin",
    "count_by_schema_and_origin",
    "count_refusals",
    "find_packet",
    "held_inputs",
    "list_packets",
    "purge_refusals",
    "refusal_prefix",
    "widen_received",
]

#: The most characters of a refused view kept (:func:`refusal_prefix`).
PREFIX_CHARS = 200

_PACKET = table_of(StoredPacket)


def add_issued(
    session: Session, issued: Sequence[IssuedPacket], *, issuer: str, kid: str, now: datetime
) -> list[int]:
    """Store packets issued here (the full SD-JWT each); return their row ids, in order.

    One executemany without ``RETURNING`` handed to the driver (the values every row
    shares converted once: :func:`_core.driver_executemany`), then one read of the new
    rows' ids by (jti, digest). An ordered ``RETURNING`` (``sort_by_parameter_order``)
    made SQLite insert row by row, and a batched one makes psycopg parse a statement of
    thousands of parameters per page; both cost more than the read. The pair is unique
    (``uq_packet_ref``) and these rows are this transaction's, so the read finds exactly
    them (a packet held already fails the insert, as before).
    """
    if not issued:
        return []
    rows = [
        {
            "jti": packet.ref.jti,
            "digest": packet.ref.digest,
            "issuer": issuer,
            "kid": kid,
            "schema_id": packet.schema,
            "hc": packet.hc,
            "hcr": packet.hcr,
            "issued_at": packet.issued_at,
            "origin": "local",
            "raw": packet.sd_jwt,
            "claims": dict(packet.claims),
            "stored_at": now,
        }
        for packet in issued
    ]
    connection = session.connection()
    shared = {"issuer": issuer, "kid": kid, "origin": "local", "stored_at": now}
    driver_executemany(connection, _INSERT_PACKET, rows, shared=shared)
    refs = [(packet.ref.jti, packet.ref.digest) for packet in issued]
    stored = _ids_of(connection, set(refs))
    ids = [stored[ref] for ref in refs]
    index_packets(session, list(zip(ids, rows, strict=True)))
    return ids


#: The columns a packet is stored with (``id`` is the database's).
_STORED = (
    "jti",
    "digest",
    "issuer",
    "kid",
    "schema_id",
    "hc",
    "hcr",
    "issued_at",
    "origin",
    "raw",
    "claims",
    "stored_at",
)
_INSERT_PACKET = insert(_PACKET).values({name: bindparam(name) for name in _STORED})
#: The ids of packets by jti (the leading column of ``uq_packet_ref``'s index): the
#: digest is matched in Python, for SQLite plans a row-value ``IN`` as a scan.
_IDS_BY_JTI = select_rows(_PACKET.c.jti, _PACKET.c.digest, _PACKET.c.id).where(
    _PACKET.c.jti.in_(bindparam("jtis", expanding=True))
)


def _ids_of(
    connection: Connection, refs: Collection[tuple[str, str]]
) -> dict[tuple[str, str], int]:
    """The row ids of the packets held under ``refs`` (jti, digest), by ref."""
    found = connection.execute(_IDS_BY_JTI, {"jtis": sorted({jti for jti, _ in refs})})
    return {(jti, digest): int(row_id) for jti, digest, row_id in found if (jti, digest) in refs}


def add_received(
    session: Session, packets: Sequence[VerifiedPacket], *, origin: str, now: datetime
) -> dict[tuple[str, str], int]:
    """Store verified views, once per (jti, digest); return the new ones' row ids by ref.

    A packet already held (from this peer or another, as any view) is a duplicate.
    Safe against a concurrent insert of the same packet (``ON CONFLICT DO NOTHING``).
    """
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for p in packets:
        held = rows.get((p.jti, p.ref.digest))
        if held is not None and not p.disclosed > frozenset(held["claims"]):
            continue  # the same packet twice in one batch: the widest view is kept
        rows[(p.jti, p.ref.digest)] = {
            "jti": p.jti,
            "digest": p.ref.digest,
            "issuer": p.iss,
            "kid": p.kid,
            "schema_id": p.sch,
            "hc": p.hc,
            "hcr": p.hcr,
            "issued_at": p.iat,
            "origin": origin,
            "raw": p.raw,
            "claims": dict(p.claims),
            "stored_at": now,
        }
    if not rows:
        return {}
    # One cached statement run over all rows (SQLAlchemy's "insertmanyvalues"): a
    # multi-row VALUES built per batch was compiled anew for every batch size.
    statement = _INSERT_RECEIVED[session.get_bind().dialect.name]
    result = session.execute(statement, list(rows.values()))
    stored = {(jti, digest): int(row_id) for jti, digest, row_id in result.all()}
    index_packets(session, [(row_id, rows[ref]) for ref, row_id in stored.items()])
    return stored


def _insert_received(insert: UpsertInsert) -> ReturningInsert[Any, Any, Any]:
    return insert.on_conflict_do_nothing(index_elements=["jti", "digest"]).returning(
        _PACKET.c.jti, _PACKET.c.digest, _PACKET.c.id
    )


_INSERT_RECEIVED = {
    "postgresql": _insert_received(postgresql.insert(_PACKET)),
    "sqlite": _insert_received(sqlite.insert(_PACKET)),
}


class RefusedView(NamedTuple):
    """A view refused at receipt: how (rejected | quarantined | deferred), why, the text
    as received (only its digest and prefix are kept), and its packet reference if any."""

    disposition: str
    code: str
    reason: str
    raw: str
    jti: str | None = None
    digest: str | None = None


def refusal_prefix(raw: str) -> str:
    """What of a refused view is kept: its start up to the first ``.`` or ``~``, at most
    :data:`PREFIX_CHARS` characters, NULs written ``\\x00``.

    For an SD-JWT ``header.payload.signature~disclosure~...`` that is the JWS protected
    header (alg, typ, kid): no claim. Not the payload, for a view may disclose a withheld
    field as a plain claim as well as in a disclosure.
    """
    end = min((i for i in (raw.find("."), raw.find("~")) if i >= 0), default=len(raw))
    return _without_nul(raw[: min(end, PREFIX_CHARS)])[:PREFIX_CHARS]


def add_refusals(
    session: Session, *, peer: str, refused: Sequence[RefusedView], now: datetime, keep: int
) -> None:
    """Record views refused from ``peer`` (one insert), then keep only its ``keep`` newest
    rows. The reason is kept with each NUL written ``\\x00`` (PostgreSQL text cannot hold
    one, and the row would fail the batch)."""
    if not refused:
        return
    rows = [
        {
            "peer": peer,
            "disposition": view.disposition,
            "code": view.code,
            "reason": _without_nul(view.reason),
            "jti": view.jti,
            "digest": view.digest,
            "sha256": hashlib.sha256(view.raw.encode("utf-8", "surrogatepass")).hexdigest(),
            "prefix": refusal_prefix(view.raw),
            "size": len(view.raw),
            "received_at": now,
        }
        for view in refused
    ]
    session.execute(insert(InboundRefusal), rows)
    table = table_of(InboundRefusal)
    oldest_kept = (
        select_rows(table.c.id)
        .where(table.c.peer == peer)
        .order_by(table.c.id.desc())
        .offset(keep - 1)
        .limit(1)
        .scalar_subquery()
    )
    session.execute(delete(table).where(table.c.peer == peer, table.c.id < oldest_kept))


def add_refusal(
    session: Session,
    *,
    peer: str,
    disposition: str,
    code: str,
    reason: str,
    raw: str,
    now: datetime,
    jti: str | None = None,
    digest: str | None = None,
    keep: int = 10_000,
) -> None:
    """Record one refused view (:func:`add_refusals`)."""
    add_refusals(
        session,
        peer=peer,
        refused=[RefusedView(disposition, code, reason, raw, jti, digest)],
        now=now,
        keep=keep,
    )


def purge_refusals(session: Session, *, before: datetime) -> int:
    """Forget refusals received before ``before`` (the retention period); return how many."""
    result = session.execute(delete(InboundRefusal).where(col(InboundRefusal.received_at) < before))
    return rowcount(result)


def _without_nul(text: str) -> str:
    return text.replace("\x00", "\\x00")


def held_inputs(
    session: Session,
    jtis: Collection[str],
    *,
    queued: Collection[str] = (),
    recipients: Collection[str] = (),
) -> dict[str, list[HeldInput]]:
    """The packets held under each of ``jtis``, by jti; for those of ``queued``, also to
    which of ``recipients`` a view of it was ever queued (the outbox keeps every row).

    One query (the outbox part by its ``ix_outbox_packet`` index), and the outbox is
    read only when ``queued`` names any.
    """
    if not jtis:
        return {}
    packet = _PACKET
    item = table_of(OutboxItem)
    held = select_rows(
        packet.c.jti,
        packet.c.digest,
        packet.c.issuer,
        packet.c.schema_id,
        cast(null(), String).label("recipient"),
    ).where(packet.c.jti.in_(sorted(jtis)))
    queued_to = select_rows(
        item.c.jti,
        item.c.digest,
        cast(null(), String),
        cast(null(), String),
        item.c.recipient,
    ).where(item.c.recipient.in_(sorted(recipients)), item.c.jti.in_(sorted(queued)))
    statement = union_all(held, queued_to) if queued and recipients else held
    found: dict[tuple[str, str], tuple[str, str]] = {}
    sent: dict[tuple[str, str], set[str]] = defaultdict(set)
    for jti, digest, issuer, schema, recipient in session.execute(statement):
        if recipient is None:
            found[(jti, digest)] = (issuer, schema)
        else:
            sent[(jti, digest)].add(recipient)
    by_jti: dict[str, list[HeldInput]] = defaultdict(list)
    for (jti, digest), (issuer, schema) in found.items():
        sent_to = frozenset(sent.get((jti, digest), ()))
        by_jti[jti].append(HeldInput(jti, digest, issuer, schema, sent_to))
    return dict(by_jti)


def count_by_origin(session: Session) -> dict[str, int]:
    """Packets held per origin: ``local`` (issued here) or a peer id."""
    rows = session.exec(
        select(StoredPacket.origin, func.count()).group_by(StoredPacket.origin)
    ).all()
    return {origin: int(n) for origin, n in rows}


def count_refusals(session: Session) -> dict[str, int]:
    rows = session.exec(
        select(InboundRefusal.disposition, func.count()).group_by(InboundRefusal.disposition)
    ).all()
    return {d: int(n) for d, n in rows}


def find_packet(session: Session, jti: str) -> list[StoredPacket]:
    """Every packet held with this ``jti`` (normally one)."""
    return list(session.exec(select(StoredPacket).where(StoredPacket.jti == jti)).all())


def count_by_schema_and_origin(session: Session) -> dict[tuple[str, str], int]:
    rows = session.exec(
        select(StoredPacket.schema_id, StoredPacket.origin, func.count()).group_by(
            StoredPacket.schema_id, StoredPacket.origin
        )
    ).all()
    return {(schema, origin): int(n) for schema, origin, n in rows}


def list_packets(
    session: Session,
    *,
    schema: str | None = None,
    issuer: str | None = None,
    origin: str | None = None,
    after_id: int = 0,
    limit: int = 100,
) -> list[StoredPacket]:
    query = select(StoredPacket).where(col(StoredPacket.id) > after_id)
    if schema:
        query = query.where(StoredPacket.schema_id == schema)
    if issuer:
        query = query.where(StoredPacket.issuer == issuer)
    if origin:
        query = query.where(StoredPacket.origin == origin)
    return list(session.exec(query.order_by(col(StoredPacket.id)).limit(limit)).all())


def widen_received(session: Session, packet: VerifiedPacket) -> bool:
    """Replace a held view of ``packet`` by ``packet`` if it discloses strictly more
    (a view under an oversight authorisation); True if it did."""
    row = session.exec(
        select(StoredPacket).where(
            StoredPacket.jti == packet.jti, StoredPacket.digest == packet.ref.digest
        )
    ).first()
    if row is None or row.origin == "local" or not packet.disclosed > frozenset(row.claims):
        return False
    row.raw = packet.raw
    row.claims = dict(packet.claims)
    session.add(row)
    if row.id is not None and row.schema_id != RESULT_SCHEMA:
        reindex_packet(session, row.id, row.claims)
    return True
