"""Persisting: the issued packets of a batch with their views, keys and audit entries.

All of a batch is written in one transaction, before any network I/O (DESIGN.md,
"Outbox"): the packets, one view per recipient the policy grants something (or an
oversight authorisation in force unlocks more for), the analysis queue entries, the
natural keys, and the audit entries, last: a ``packet.issued`` per packet, one
``view.queued`` per recipient listing its views of the batch, and an
``authorisation.used`` per view an authorisation widened. Concurrent batches
(replicas) race on the ``record_key`` primary key: the loser's transaction rolls
back and is written again without the packets whose key the winner stored; their
records are answered with the winner's packets.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from clearinghouse.node.services import acts
from clearinghouse.node.services.authorisations import Unlock
from clearinghouse.node.services.ingest._keys import Candidate, answer_held
from clearinghouse.node.services.ingest._result import IngestResult
from clearinghouse.node.storage import analysis, auditlog, outbox, packets, record_keys
from clearinghouse.node.storage.db import transaction
from clearinghouse.node.storage.record_keys import HeldKey, NewKey
from clearinghouse.protocol.audit import Act
from clearinghouse.protocol.packet import IssuedPacket
from clearinghouse.protocol.schemas import SchemaSpec

__all__ = ["Batch", "Issued", "store_issued"]

#: Attempts at writing a batch whose natural keys a concurrent batch took meanwhile.
_WRITE_ATTEMPTS = 3
#: Packets whose views are cut and queued at a time, in the batch's one transaction: a
#: batch's views are (recipients x packets) texts of a few KiB each, held only until the
#: database has them. All at once, a 500-record batch at 16 participants held 7,500
#: views (about 30 MiB) and set the originator's peak memory.
_VIEWS_CUT_AT_ONCE = 50


@dataclass(frozen=True)
class Batch:
    """How a batch's packets are stored and recorded, fixed for the whole batch."""

    spec: SchemaSpec
    #: this node, and the key id its packets were signed with
    issuer: str
    kid: str
    #: who submitted the records (the calling token, or this node), for the audit log
    actor: str
    now: datetime
    #: the policy's recipients and the claims each is granted
    recipients: Mapping[str, frozenset[str]]
    #: the digest of the policy in force, recorded with each view queued
    policy: str
    #: whether this node's analyzer takes packets of the schema
    analyse: bool


@dataclass(frozen=True)
class Issued:
    """A packet issued for a record, and what authorisations in force unlock of it beyond
    the policy, per recipient."""

    record: Candidate
    packet: IssuedPacket
    unlocked: Mapping[str, Unlock]


def store_issued(
    engine: Engine, batch: Batch, issued: Sequence[Issued], result: IngestResult
) -> dict[str, HeldKey]:
    """Write the issued packets, their views, natural keys and audit entries in one
    transaction; answer each record in ``result``. Returns the packet now held for each
    natural key of the batch (stored now, or by a concurrent batch first)."""
    packet_of_key: dict[str, HeldKey] = {}
    if not issued:
        return packet_of_key
    stored, raced = _write_retrying(engine, batch, issued)
    for item in stored:
        record, packet = item.record, item.packet
        if record.key is not None:
            packet_of_key[record.key] = HeldKey(
                packet.ref.jti, packet.ref.digest, record.record_sha256
            )
        result.accepted.append(
            {
                "index": record.index,
                "jti": packet.ref.jti,
                "sha256": packet.ref.digest,
                "outcome": "issued",
                "recipients": sorted({*batch.recipients, *item.unlocked}),
            }
        )
    for item in issued:
        if item.record.key is not None and item.record.key in raced:
            packet_of_key[item.record.key] = raced[item.record.key]
            answer_held(batch.spec, item.record, raced[item.record.key], result)
    return packet_of_key


def _write_retrying(
    engine: Engine, batch: Batch, issued: Sequence[Issued]
) -> tuple[list[Issued], dict[str, HeldKey]]:
    """Write those of ``issued`` whose natural key no packet holds yet; return them, and
    the packets a concurrent batch stored first (by key). A key stored between the
    look-up and the write fails the transaction, which is then done again."""
    keys = {item.record.key for item in issued if item.record.key is not None}
    attempt = 1
    while True:
        try:
            with transaction(engine) as session:
                raced = record_keys.held_record_keys(session, batch.spec.id, keys)
                storing = [item for item in issued if item.record.key not in raced]
                _write(session, batch, storing)
            return storing, raced
        except IntegrityError:
            if attempt == _WRITE_ATTEMPTS:
                raise
            attempt += 1


def _write(session: Session, batch: Batch, storing: Sequence[Issued]) -> None:
    """Packets, views (policy and authorisations), analysis queue, natural keys and
    audit entries, in the caller's transaction."""
    if not storing:
        return
    now = batch.now
    ids = packets.add_issued(
        session, [i.packet for i in storing], issuer=batch.issuer, kid=batch.kid, now=now
    )
    rows = list(zip(ids, storing, strict=True))
    for start in range(0, len(rows), _VIEWS_CUT_AT_ONCE):
        outbox.enqueue(
            session,
            [
                (row_id, i.packet.ref, _policy_views(batch, i))
                for row_id, i in rows[start : start + _VIEWS_CUT_AT_ONCE]
            ],
            now=now,
        )
    if batch.analyse:
        analysis.enqueue(session, ids, now=now)
    keys = [
        NewKey(i.record.key, row_id, i.packet.ref.jti, i.packet.ref.digest, i.record.record_sha256)
        for row_id, i in rows
        if i.record.key is not None
    ]
    record_keys.add_record_keys(session, batch.spec.id, keys, now=now)
    issued = [
        acts.packet_issued(batch.actor, item.packet, batch.kid, record=item.record.index)
        for item in storing
    ]
    queued: dict[str, list[dict[str, object]]] = {}
    used: list[Act] = []
    for row_id, item in rows:
        for r, granted in batch.recipients.items():
            if r not in item.unlocked:
                queued.setdefault(r, []).append(acts.queued_view(item.packet, granted))
        used += _queue_unlocked(session, batch, row_id, item, queued)
    entries = [
        *issued,
        *(acts.view_queued(batch.actor, r, views, batch.policy) for r, views in queued.items()),
        *used,
    ]
    auditlog.append(session, entries, now=now)


def _policy_views(batch: Batch, item: Issued) -> dict[str, str]:
    """The views the policy grants, for the recipients no authorisation unlocks more for."""
    return {
        r: item.packet.view(granted)
        for r, granted in batch.recipients.items()
        if r not in item.unlocked
    }


def _queue_unlocked(
    session: Session,
    batch: Batch,
    row_id: int,
    item: Issued,
    queued: dict[str, list[dict[str, object]]],
) -> list[Act]:
    """Queue the views authorisations widen (each naming its authorisation), add them to
    the views ``queued`` per recipient, and return the ``authorisation.used`` entries."""
    entries: list[Act] = []
    for r, unlock in item.unlocked.items():
        allowed = batch.recipients.get(r, frozenset()) | unlock.claims
        outbox.enqueue(
            session,
            [(row_id, item.packet.ref, {r: item.packet.view(allowed)})],
            now=batch.now,
            authorisation_id=unlock.authorisation.id,
        )
        queued.setdefault(r, []).append(
            acts.queued_view(item.packet, allowed, authorisation=unlock.authorisation.id)
        )
        entries.append(
            acts.authorisation_used(
                acts.node_actor(batch.issuer),
                unlock.authorisation,
                peer=r,
                jti=item.packet.ref.jti,
                digest=item.packet.ref.digest,
                fields=sorted(unlock.claims),
            )
        )
    return entries
