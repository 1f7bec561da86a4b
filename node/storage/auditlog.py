"""The audit log's storage: append in the act's transaction, prove in O(log n).

Appending locks the one ``audit_head`` row (an ``UPDATE`` first, so SQLite takes its
write lock and PostgreSQL the row lock before anything is read), numbers the new
entries after the head's size, and writes each entry with its leaf hash, every
complete aligned block it completes (``audit_block``) and the new head — size, root
and right frontier (:class:`protocol.merkle.CompactRange`) — all in the caller's
transaction. Replicas on one database therefore append one after the other: no gap,
no fork. Callers append last in their transaction, so the head is held briefly.

An entry for a batch of views (:meth:`protocol.audit.Act.covers`) is indexed by each
view's jti beyond its top-level one (``audit_entry_view``, written in the same
executemany way): :func:`search` by jti finds the entry through either.

Proofs and roots at any size ask only for complete aligned blocks, about 2·log2(n)
of them, fetched in one query (:func:`inclusion_proof`, :func:`consistency_proof`,
:func:`root_at`); nothing ever recomputes the tree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import and_, bindparam, func, insert, or_, select, union, update
from sqlalchemy.engine import Row
from sqlmodel import Session, col

from clearinghouse.node.storage._core import driver_executemany, table_of, upsert_insert
from clearinghouse.node.storage.models import (
    AuditAlert,
    AuditBlock,
    AuditCheckpoint,
    AuditCosignature,
    AuditEntry,
    AuditEntryView,
    AuditHead,
    WitnessedLog,
)
from clearinghouse.protocol.audit import Act, encode_entry
from clearinghouse.protocol.errors import MerkleInputError
from clearinghouse.protocol.merkle import (
    HASH_SIZE,
    CompactRange,
    SubtreeHashes,
    consistency_proof_from,
    inclusion_proof_from,
    leaf_hash,
    root_from,
)

__all__ = [
    "Head",
    "add_alert",
    "add_checkpoint",
    "add_cosignatures",
    "alerts",
    "append",
    "checkpoint_at",
    "checkpoints_after",
    "consistency_proof",
    "cosignatures",
    "count_by_act",
    "entries",
    "has_alert",
    "head",
    "inclusion_proof",
    "iter_entries",
    "last_cosigned",
    "latest_checkpoint",
    "root_at",
    "search",
    "set_witnessed",
    "witnessed",
]

HEAD_ID = 1


@dataclass(frozen=True, slots=True)
class Head:
    size: int
    root: bytes


_HEAD = table_of(AuditHead)
#: Take the head's row lock (PostgreSQL) / the write lock (SQLite), and read it.
_LOCK_HEAD = (
    update(_HEAD)
    .where(_HEAD.c.id == HEAD_ID)
    .values(size=_HEAD.c.size)
    .returning(_HEAD.c.size, _HEAD.c.frontier)
)
_SET_HEAD = (
    update(_HEAD)
    .where(_HEAD.c.id == HEAD_ID)
    .values(size=bindparam("size"), root=bindparam("root"), frontier=bindparam("frontier"))
)
_INSERT_ENTRY = insert(table_of(AuditEntry))
_INSERT_BLOCK = insert(table_of(AuditBlock))
_VIEWS = table_of(AuditEntryView)
_INSERT_VIEW = insert(_VIEWS)


def append(session: Session, acts: Sequence[Act], *, now: datetime) -> range:
    """Append one entry per act, in the caller's transaction; return their seq range."""
    if not acts:
        return range(0)
    # Lock first (a write), then read: the head cannot move under us until commit.
    size, frontier = session.execute(_LOCK_HEAD).one()
    tree = CompactRange.from_bytes(size, frontier)
    rows, blocks, views = [], [], []
    for seq, act in enumerate(acts, start=size):
        body = encode_entry(seq, now, act)
        leaf = leaf_hash(body)
        for block in tree.append(leaf)[1:]:
            blocks.append({"level": block.level, "idx": block.index, "hash": block.hash})
        rows.append(
            {
                "seq": seq,
                "act": act.act,
                "actor": act.actor,
                "peer": act.peer,
                "jti": act.jti,
                "body": body.decode(),
                "leaf_hash": leaf,
            }
        )
        views += [{"jti": jti, "seq": seq} for jti in act.covers() if jti != act.jti]
    # Each an executemany handed to the driver, the time converted once (no ORM, nor
    # SQLAlchemy, work per row: _core.driver_executemany)
    connection = session.connection()
    driver_executemany(connection, _INSERT_ENTRY, rows, shared={"time": now})
    if blocks:
        driver_executemany(connection, _INSERT_BLOCK, blocks, shared={})
    if views:
        driver_executemany(connection, _INSERT_VIEW, views, shared={})
    connection.execute(
        _SET_HEAD, {"size": tree.size, "root": tree.root(), "frontier": tree.to_bytes()}
    )
    return range(size, tree.size)


def head(session: Session) -> Head:
    """The log's current size and root (as committed)."""
    size, root = session.execute(
        select(col(AuditHead.size), col(AuditHead.root)).where(col(AuditHead.id) == HEAD_ID)
    ).one()
    return Head(int(size), bytes(root))


# --- proofs -----------------------------------------------------------------------


class _Recorder:
    """A stand-in source that notes which blocks a computation asks for."""

    def __init__(self) -> None:
        self.asked: list[tuple[int, int]] = []

    def subtree(self, start: int, end: int) -> bytes:
        self.asked.append((start, end))
        return bytes(HASH_SIZE)


class _Fetched:
    def __init__(self, hashes: dict[tuple[int, int], bytes]) -> None:
        self._hashes = hashes

    def subtree(self, start: int, end: int) -> bytes:
        return self._hashes[(start, end)]


_Computed = TypeVar("_Computed")


def _with_blocks(session: Session, compute: Callable[[SubtreeHashes], _Computed]) -> _Computed:
    """Run ``compute`` once to learn the blocks it needs, fetch them, run it for real."""
    recorder = _Recorder()
    compute(recorder)
    leaves = sorted({start for start, end in recorder.asked if end - start == 1})
    blocks = sorted(
        {
            ((end - start).bit_length() - 1, start // (end - start))
            for start, end in recorder.asked
            if end - start > 1
        }
    )
    found: dict[tuple[int, int], bytes] = {}
    if leaves:
        for seq, leaf in session.execute(
            select(col(AuditEntry.seq), col(AuditEntry.leaf_hash)).where(
                col(AuditEntry.seq).in_(leaves)
            )
        ):
            found[(int(seq), int(seq) + 1)] = bytes(leaf)
    by_level: dict[int, list[int]] = {}
    for level, idx in blocks:
        by_level.setdefault(level, []).append(idx)
    if by_level:  # OR of per-level primary-key INs: SQLite plans a row-value IN as a scan
        rows = session.execute(
            select(col(AuditBlock.level), col(AuditBlock.idx), col(AuditBlock.hash)).where(
                or_(
                    *(
                        and_(col(AuditBlock.level) == level, col(AuditBlock.idx).in_(indexes))
                        for level, indexes in by_level.items()
                    )
                )
            )
        )
        for level, idx, value in rows:
            width = 1 << int(level)
            found[(int(idx) * width, (int(idx) + 1) * width)] = bytes(value)
    missing = set(recorder.asked) - set(found)
    if missing:
        start, end = min(missing)
        raise MerkleInputError(f"the store lacks the hash of leaves [{start}, {end})")
    return compute(_Fetched(found))


def _check_size(session: Session, size: int) -> None:
    current = head(session).size
    if size > current:
        raise MerkleInputError(f"the log has {current} entries, not {size}")


def inclusion_proof(session: Session, index: int, size: int) -> list[bytes]:
    """RFC 9162 PATH(index, D[size]) from the stored blocks."""
    _check_size(session, size)
    return _with_blocks(session, lambda source: inclusion_proof_from(source, index, size))


def consistency_proof(session: Session, old_size: int, new_size: int) -> list[bytes]:
    """RFC 9162 PROOF(old_size, D[new_size]) from the stored blocks."""
    _check_size(session, new_size)
    return _with_blocks(session, lambda source: consistency_proof_from(source, old_size, new_size))


def root_at(session: Session, size: int) -> bytes:
    """The root of the first ``size`` entries."""
    _check_size(session, size)
    return _with_blocks(session, lambda source: root_from(source, size))


# --- entries ----------------------------------------------------------------------


_ENTRY_COLUMNS = select(*table_of(AuditEntry).c)


def entries(session: Session, start: int, end: int) -> list[Row[Any]]:
    """Entries with ``start <= seq < end``, in order, as plain rows (``row.seq``,
    ``row.body``, ...): pages of thousands are read without building ORM objects."""
    statement = _ENTRY_COLUMNS.where(
        col(AuditEntry.seq) >= start,
        col(AuditEntry.seq) < end,
    ).order_by(col(AuditEntry.seq))
    return list(session.execute(statement))


def iter_entries(
    session: Session, *, start: int = 0, end: int | None = None, chunk: int = 5000
) -> Iterator[Row[Any]]:
    """Entries with ``start <= seq < end`` (default: up to the head) in order, as plain
    rows (``row.seq``, ``row.body``, ...; no ORM objects), ``chunk`` seqs per query:
    memory stays flat. A missing entry is simply not yielded."""
    stop = head(session).size if end is None else end
    while start < stop:
        yield from entries(session, start, min(start + chunk, stop))
        start += chunk


def search(
    session: Session,
    *,
    act: str | None = None,
    peer: str | None = None,
    jti: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before: int | None = None,
    limit: int = 100,
    actor: str | None = None,
) -> list[AuditEntry]:
    """The newest entries matching every given filter, newest first, below ``before``.

    ``jti``: the entries about that packet — its top-level ``jti`` (an entry of one
    view, and every entry written before batches), or a batch entry listing it among
    its views (``audit_entry_view``)."""
    statement = select(AuditEntry)
    if act is not None:
        statement = statement.where(col(AuditEntry.act) == act)
    if peer is not None:
        statement = statement.where(col(AuditEntry.peer) == peer)
    if jti is not None:
        statement = statement.where(col(AuditEntry.seq).in_(_seqs_about(jti)))
    if actor is not None:
        statement = statement.where(col(AuditEntry.actor) == actor)
    if since is not None:
        statement = statement.where(col(AuditEntry.time) >= since)
    if until is not None:
        statement = statement.where(col(AuditEntry.time) < until)
    if before is not None:
        statement = statement.where(col(AuditEntry.seq) < before)
    statement = statement.order_by(col(AuditEntry.seq).desc()).limit(limit)
    return list(session.scalars(statement))


def _seqs_about(jti: str) -> Any:
    """The seqs of the entries about packet ``jti``: two index lookups, one union (an
    ``OR`` of the two would have the planners scan the log)."""
    return union(
        select(col(AuditEntry.seq)).where(col(AuditEntry.jti) == jti),
        select(_VIEWS.c.seq).where(_VIEWS.c.jti == jti),
    )


def count_by_act(session: Session) -> dict[str, int]:
    rows = session.execute(select(col(AuditEntry.act), func.count()).group_by(col(AuditEntry.act)))
    return {str(act): int(n) for act, n in rows}


# --- checkpoints and cosignatures --------------------------------------------------


def add_checkpoint(session: Session, *, size: int, root: bytes, note: str, now: datetime) -> bool:
    """Store a signed checkpoint (once per size; Ed25519 is deterministic, so replicas
    signing the same size write the same note). Return whether it was new."""
    statement = (
        upsert_insert(session, AuditCheckpoint)
        .values(size=size, root=root, note=note, signed_at=now)
        .on_conflict_do_nothing()
        .returning(col(AuditCheckpoint.size))
    )
    return session.execute(statement).first() is not None


def latest_checkpoint(session: Session) -> AuditCheckpoint | None:
    statement = select(AuditCheckpoint).order_by(col(AuditCheckpoint.size).desc()).limit(1)
    return session.scalars(statement).first()


def checkpoint_at(session: Session, size: int) -> AuditCheckpoint | None:
    return session.get(AuditCheckpoint, size)


def checkpoints_after(session: Session, size: int, *, limit: int = 1000) -> list[AuditCheckpoint]:
    """Checkpoints larger than ``size``, smallest first."""
    statement = (
        select(AuditCheckpoint)
        .where(col(AuditCheckpoint.size) > size)
        .order_by(col(AuditCheckpoint.size))
        .limit(limit)
    )
    return list(session.scalars(statement))


def add_cosignatures(
    session: Session, *, witness: str, lines: Iterable[tuple[int, str, int]], now: datetime
) -> int:
    """Store ``witness``'s (size, line, timestamp) cosignatures; return how many were new."""
    rows = [
        {"size": size, "witness": witness, "line": line, "timestamp": ts, "received_at": now}
        for size, line, ts in lines
    ]
    if not rows:
        return 0
    held = set(
        session.execute(
            select(col(AuditCosignature.size)).where(
                col(AuditCosignature.witness) == witness,
                col(AuditCosignature.size).in_([r["size"] for r in rows]),
            )
        ).scalars()
    )
    new = [r for r in rows if r["size"] not in held]
    if new:  # a replica storing the same lines at the same time is no conflict
        statement = upsert_insert(session, AuditCosignature).on_conflict_do_nothing()
        session.execute(statement, new)
    return len(new)


def cosignatures(session: Session, sizes: Sequence[int]) -> dict[int, list[AuditCosignature]]:
    """The cosignatures on each of ``sizes``, by witness name."""
    found: dict[int, list[AuditCosignature]] = {size: [] for size in sizes}
    if not sizes:
        return found
    statement = (
        select(AuditCosignature)
        .where(col(AuditCosignature.size).in_(list(sizes)))
        .order_by(col(AuditCosignature.size), col(AuditCosignature.witness))
    )
    for row in session.scalars(statement):
        found[row.size].append(row)
    return found


def last_cosigned(session: Session, witness: str) -> int:
    """The largest size of this node's checkpoints ``witness`` cosigned; 0 if none.

    Read down the primary key (size, witness) from the top: it stops at the witness's
    latest line, after as many rows as checkpoints were signed since."""
    statement = (
        select(col(AuditCosignature.size))
        .where(col(AuditCosignature.witness) == witness)
        .order_by(col(AuditCosignature.size).desc())
        .limit(1)
    )
    size = session.execute(statement).scalar_one_or_none()
    return 0 if size is None else size


# --- witnessing peers --------------------------------------------------------------


def witnessed(session: Session, peer: str) -> WitnessedLog | None:
    return session.get(WitnessedLog, peer)


def set_witnessed(
    session: Session, *, peer: str, size: int, root: bytes, note: str, now: datetime
) -> None:
    """Record ``peer``'s checkpoint ``size`` as the latest one cosigned, unless a larger one
    is recorded already: one upsert, so replicas witnessing the same peer at once neither
    collide on the first row nor move it back."""
    statement = upsert_insert(session, WitnessedLog).values(
        peer=peer, size=size, root=root, note=note, updated_at=now
    )
    new = statement.excluded
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["peer"],
            set_={column: new[column] for column in ("size", "root", "note", "updated_at")},
            where=col(WitnessedLog.size) < new.size,
        )
    )


def add_alert(
    session: Session, *, peer: str, kind: str, detail: str, evidence: str, now: datetime
) -> None:
    session.add(AuditAlert(peer=peer, kind=kind, detail=detail, evidence=evidence, raised_at=now))


def has_alert(session: Session, *, peer: str, detail: str) -> bool:
    statement = select(col(AuditAlert.id)).where(
        col(AuditAlert.peer) == peer,
        col(AuditAlert.detail) == detail,
    )
    return session.execute(statement.limit(1)).first() is not None


def alerts(session: Session, *, limit: int = 1000) -> list[AuditAlert]:
    statement = select(AuditAlert).order_by(col(AuditAlert.id).desc()).limit(limit)
    return list(session.scalars(statement))
