"""The audit log as its readers fetch it (``/v1/audit``): checkpoints, entries, proofs.

DESIGN.md, "Audit log". Auditors (bearer token) and peers (signed requests) read:

- the latest signed checkpoint, and the checkpoints after a size, each served with
  every witness's cosignature line appended (:func:`node.services.checkpoints.served_checkpoint`)
  and, in a list, the RFC 9162 consistency proof from the one before it;
- entries by seq range, or the newest matching filters (act, peer, jti, time);
- RFC 9162 inclusion and consistency proofs with the roots they lead to;
- the witnessing alerts this node raised and the peers' checkpoints it cosigned.

Each read is one transaction. A proof asked for sizes the log cannot prove is a
:class:`~node.errors.BadRequest`; an entry or checkpoint not held, a
:class:`~node.errors.NotFound`. Encoding the bytes (standard base64, as in C2SP
checkpoints) is left to the route.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row
from sqlmodel import Session

from clearinghouse.node.context import NodeContext
from clearinghouse.node.errors import BadRequest, NotFound
from clearinghouse.node.services.checkpoints import served_checkpoint
from clearinghouse.node.storage import auditlog
from clearinghouse.node.storage.db import transaction
from clearinghouse.node.storage.models import AuditAlert, AuditEntry
from clearinghouse.protocol.errors import MerkleInputError

__all__ = [
    "ConsistencyProof",
    "EntryRange",
    "EntryRow",
    "EntrySearch",
    "InclusionProof",
    "ServedCheckpoint",
    "WitnessedCheckpoint",
    "checkpoints_after",
    "entry_range",
    "find_entries",
    "latest_checkpoint_note",
    "prove_consistency",
    "prove_inclusion",
    "search_entries",
    "witnessed_checkpoints",
    "witnessing_alerts",
]


#: An entry as read: an ORM row (a search) or a plain row of its columns (a range, read by
#: the thousand without building ORM objects); both have ``seq``, ``leaf_hash``, ``body``, ...
EntryRow = AuditEntry | Row[Any]


@dataclass(frozen=True)
class ServedCheckpoint:
    """A checkpoint as served: the signed note with every cosignature line appended,
    who cosigned it, and the consistency proof from the checkpoint listed before it."""

    size: int
    root: bytes
    note: str
    witnesses: list[str]
    signed_at: datetime
    consistency: list[bytes]


def latest_checkpoint_note(ctx: NodeContext) -> str:
    """The latest signed checkpoint with every witness cosignature (a C2SP signed note).

    :raises NotFound: no checkpoint yet (the log is empty).
    """
    with transaction(ctx.engine) as session:
        row = auditlog.latest_checkpoint(session)
        if row is None:
            raise NotFound("no checkpoint yet: the audit log is empty")
        cosigned = auditlog.cosignatures(session, [row.size])[row.size]
    return served_checkpoint(row.note, [c.line for c in cosigned])


def checkpoints_after(ctx: NodeContext, after: int, *, limit: int) -> list[ServedCheckpoint]:
    """Up to ``limit`` checkpoints larger than ``after``, smallest first, each with the
    consistency proof from the one before (from ``after`` for the first; none from 0)."""
    served = []
    with transaction(ctx.engine) as session:
        rows = auditlog.checkpoints_after(session, after, limit=limit)
        lines = auditlog.cosignatures(session, [r.size for r in rows])
        previous = after
        for row in rows:
            cosigned = lines[row.size]
            proof = auditlog.consistency_proof(session, previous, row.size) if previous else []
            served.append(
                ServedCheckpoint(
                    size=row.size,
                    root=bytes(row.root),
                    note=served_checkpoint(row.note, [c.line for c in cosigned]),
                    witnesses=[c.witness for c in cosigned],
                    signed_at=row.signed_at,
                    consistency=proof,
                )
            )
            previous = row.size
    return served


@dataclass(frozen=True)
class EntryRange:
    """Entries of a seq range (plain rows: ``seq``, ``leaf_hash``, ``body``, ...) and the
    log's size when they were read."""

    size: int
    entries: list[Row[Any]]


def entry_range(ctx: NodeContext, start: int, stop: int) -> EntryRange:
    """The entries with ``start <= seq < stop``, in order, and the log's size now."""
    with transaction(ctx.engine) as session:
        rows = auditlog.entries(session, start, stop)
        head = auditlog.head(session)
    return EntryRange(size=head.size, entries=rows)


@dataclass(frozen=True)
class EntrySearch:
    """Filters of an entry search (each None: any), newest first below ``before``."""

    act: str | None = None
    peer: str | None = None
    jti: str | None = None
    since: datetime | None = None  # at or after
    until: datetime | None = None  # before
    before: int | None = None  # only seq below this (the page cursor)
    limit: int = 100
    actor: str | None = None  # token:<name>, person:<id>, peer:<id>, node:<id>


def find_entries(session: Session, search: EntrySearch) -> list[AuditEntry]:
    """The newest ``search.limit`` entries matching every filter, in ``session``."""
    return auditlog.search(
        session,
        act=search.act,
        peer=search.peer,
        jti=search.jti,
        actor=search.actor,
        since=search.since,
        until=search.until,
        before=search.before,
        limit=search.limit,
    )


def search_entries(ctx: NodeContext, search: EntrySearch) -> list[AuditEntry]:
    """The newest ``search.limit`` entries matching every filter given, newest first."""
    with transaction(ctx.engine) as session:
        return find_entries(session, search)


@dataclass(frozen=True)
class InclusionProof:
    """RFC 9162 inclusion proof of leaf ``index`` in the tree of ``size``."""

    index: int
    size: int
    leaf_hash: bytes
    root: bytes
    proof: list[bytes]


def prove_inclusion(ctx: NodeContext, index: int, size: int) -> InclusionProof:
    """The inclusion proof of entry ``index`` in the log of ``size`` entries, with its root.

    :raises BadRequest: the log cannot prove it (``index`` not below ``size``, or
        ``size`` beyond the log).
    :raises NotFound: entry ``index`` is missing from the log.
    """
    with transaction(ctx.engine) as session:
        try:
            proof = auditlog.inclusion_proof(session, index, size)
            root = auditlog.root_at(session, size)
        except MerkleInputError as exc:
            raise BadRequest(exc.message) from exc
        found = auditlog.entries(session, index, index + 1)
        if not found:
            raise NotFound(f"entry {index} is missing from the log")
    return InclusionProof(index, size, bytes(found[0].leaf_hash), root, proof)


@dataclass(frozen=True)
class ConsistencyProof:
    """RFC 9162 consistency proof from the tree of ``old`` entries to that of ``new``."""

    old: int
    new: int
    old_root: bytes
    new_root: bytes
    proof: list[bytes]


def prove_consistency(ctx: NodeContext, old: int, new: int) -> ConsistencyProof:
    """The consistency proof between two sizes of the log, with both roots.

    :raises BadRequest: the log cannot prove it (``old`` above ``new``, or a size
        beyond the log).
    """
    with transaction(ctx.engine) as session:
        try:
            proof = auditlog.consistency_proof(session, old, new)
            roots = auditlog.root_at(session, old), auditlog.root_at(session, new)
        except MerkleInputError as exc:
            raise BadRequest(exc.message) from exc
    return ConsistencyProof(old, new, roots[0], roots[1], proof)


def witnessing_alerts(ctx: NodeContext) -> list[AuditAlert]:
    """The peers caught with a log inconsistent with one this node cosigned, newest first."""
    with transaction(ctx.engine) as session:
        return auditlog.alerts(session)


@dataclass(frozen=True)
class WitnessedCheckpoint:
    """The latest checkpoint of ``peer``'s log that this node verified and cosigned."""

    peer: str
    size: int
    note: str


def witnessed_checkpoints(ctx: NodeContext) -> list[WitnessedCheckpoint]:
    """For each peer in the manifest whose log this node cosigned: the latest checkpoint."""
    found = []
    with transaction(ctx.engine) as session:
        for peer in ctx.peers:
            row = auditlog.witnessed(session, peer.id)
            if row is not None:
                found.append(WitnessedCheckpoint(peer.id, row.size, row.note))
    return found
