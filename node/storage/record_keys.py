"""Natural keys of the records this node issued (``record_key``), for idempotent ingest.

Per schema and natural key (:meth:`protocol.schemas.SchemaSpec.natural_key`, e.g. a
UCDP event id), the packet issued for it and the digest of what the record said
(:meth:`~protocol.schemas.SchemaSpec.record_digest`). Keys are stored as their
SHA-256, so an id of any length is one fixed-size primary-key probe.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, insert
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from clearinghouse.node.storage._core import table_of
from clearinghouse.node.storage.models import OutboxItem, RecordKey

__all__ = [
    "HeldKey",
    "NewKey",
    "add_record_keys",
    "held_record_keys",
    "key_sha256",
    "queued_recipients",
]


@dataclass(frozen=True)
class HeldKey:
    """The packet held for one natural key, and the digest of its record."""

    jti: str
    digest: str
    record_sha256: str


@dataclass(frozen=True)
class NewKey:
    """A natural key to record with the packet just issued for it (its row id)."""

    key_sha256: str
    packet_id: int
    jti: str
    digest: str
    record_sha256: str


def key_sha256(natural_key: str) -> str:
    """The stored form of a natural key: SHA-256 (hex) of its UTF-8 text."""
    return hashlib.sha256(natural_key.encode()).hexdigest()


_KEYS = table_of(RecordKey)
#: The look-up of :func:`held_record_keys`, built once, its ``IN`` list an expanding
#: parameter. Built anew per call through the ORM, it was about a quarter of a
#: one-record ingest call's CPU time (statement, cache key and ORM result set-up).
_HELD = (
    core_select(_KEYS.c.key_sha256, _KEYS.c.jti, _KEYS.c.digest, _KEYS.c.record_sha256)
    .where(_KEYS.c.schema_id == bindparam("schema_id"))
    .where(_KEYS.c.key_sha256.in_(bindparam("keys", expanding=True)))
)


def held_record_keys(session: Session, schema_id: str, keys: Collection[str]) -> dict[str, HeldKey]:
    """The packets held for those of ``keys`` (stored forms) that this node issued, by key
    (the four columns read, not ``RecordKey`` objects built)."""
    if not keys:
        return {}
    rows = session.connection().execute(_HELD, {"schema_id": schema_id, "keys": sorted(set(keys))})
    return {key: HeldKey(jti, digest, record) for key, jti, digest, record in rows}


_INSERT_KEY = insert(_KEYS)


def add_record_keys(
    session: Session, schema_id: str, keys: Sequence[NewKey], *, now: datetime
) -> None:
    """Record the natural keys of packets issued in this transaction.

    A key recorded meanwhile by a concurrent transaction (another replica) makes this
    insert fail with an ``IntegrityError``, and the whole transaction with it: the
    caller looks the keys up again and answers with the packet held. A Core executemany:
    no ORM bulk-insert bookkeeping per row.
    """
    if not keys:
        return
    session.connection().execute(
        _INSERT_KEY,
        [
            {
                "schema_id": schema_id,
                "key_sha256": k.key_sha256,
                "packet_id": k.packet_id,
                "jti": k.jti,
                "digest": k.digest,
                "record_sha256": k.record_sha256,
                "created_at": now,
            }
            for k in keys
        ],
    )


def queued_recipients(session: Session, jtis: Collection[str]) -> dict[str, list[str]]:
    """To whom a view of each packet of ``jtis`` was ever queued (the outbox keeps every
    row), sorted, by jti; one query by the outbox's ``(jti, recipient)`` index."""
    if not jtis:
        return {}
    rows = session.exec(
        select(OutboxItem.jti, OutboxItem.recipient)
        .where(col(OutboxItem.jti).in_(sorted(set(jtis))))
        .distinct()
    ).all()
    found: dict[str, list[str]] = {jti: [] for jti in jtis}
    for jti, recipient in rows:
        found[jti].append(recipient)
    return {jti: sorted(recipients) for jti, recipients in found.items()}
