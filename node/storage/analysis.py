"""The analyzer's queue, its runs, its persisted state and its findings' heads."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeAlias

from sqlalchemy import Row, delete, func, insert
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from clearinghouse.node.storage._core import rowcount, table_of, upsert_insert
from clearinghouse.node.storage.models import (
    AnalysisQueue,
    AnalysisRun,
    AnalyzerStateEntry,
    FindingHead,
    StoredPacket,
)

__all__ = [
    "Head",
    "add_runs",
    "count_runs",
    "dequeue",
    "enqueue",
    "heads",
    "load_state",
    "next_batch",
    "queue_depth",
    "runs_for_packet",
    "save_heads",
    "save_state",
]


_INSERT_QUEUED = insert(table_of(AnalysisQueue))


def enqueue(session: Session, packet_ids: Iterable[int], *, now: datetime) -> None:
    """Queue packets for the analyzer, in the caller's transaction (a Core executemany:
    no ORM bulk-insert bookkeeping per row)."""
    rows = [{"packet_id": pid, "enqueued_at": now} for pid in packet_ids]
    if rows:
        session.connection().execute(_INSERT_QUEUED, rows)


#: What an analyzer and its result need of a queued packet (not its 7 KB of text).
QueuedPacket: TypeAlias = Row[Any]
_QUEUED_COLUMNS = ("id", "jti", "digest", "issuer", "schema_id", "issued_at", "hc", "hcr", "claims")


def next_batch(session: Session, limit: int) -> list[tuple[int, QueuedPacket]]:
    """The oldest queued packets: (queue id, packet), in queue order. Each packet is a row
    with the :class:`StoredPacket` columns in ``_QUEUED_COLUMNS`` as attributes."""
    table = table_of(StoredPacket)
    queue = table_of(AnalysisQueue)
    rows = session.execute(
        core_select(queue.c.id.label("queue_id"), *(table.c[name] for name in _QUEUED_COLUMNS))
        .join(table, table.c.id == queue.c.packet_id)
        .order_by(queue.c.id)
        .limit(limit)
    ).all()
    return [(int(row.queue_id), row) for row in rows]


def dequeue(session: Session, queue_ids: Sequence[int]) -> int:
    """Remove analysed packets from the queue; return how many were still there."""
    if not queue_ids:
        return 0
    result = session.execute(delete(AnalysisQueue).where(col(AnalysisQueue.id).in_(queue_ids)))
    return rowcount(result)


def queue_depth(session: Session) -> int:
    return int(session.exec(select(func.count()).select_from(AnalysisQueue)).one())


def add_runs(session: Session, runs: Sequence[Mapping[str, Any]]) -> None:
    if runs:
        session.execute(insert(AnalysisRun), list(runs))


def runs_for_packet(session: Session, packet_id: int) -> list[AnalysisRun]:
    return list(session.exec(select(AnalysisRun).where(AnalysisRun.packet_id == packet_id)).all())


def count_runs(session: Session) -> dict[str, int]:
    total, errors, with_result = session.exec(
        select(
            func.count(),
            func.count(col(AnalysisRun.error)),
            func.count(col(AnalysisRun.result_packet_id)),
        )
    ).one()
    return {"runs": int(total), "errors": int(errors), "with_result": int(with_result)}


def load_state(session: Session, analyzer_id: str) -> dict[str, Any]:
    rows = session.exec(
        select(AnalyzerStateEntry.key, AnalyzerStateEntry.value).where(
            AnalyzerStateEntry.analyzer_id == analyzer_id
        )
    ).all()
    return {key: value for key, value in rows}


def save_state(
    session: Session, analyzer_id: str, changed: Mapping[str, Any], deleted: Sequence[str]
) -> None:
    """Upsert changed keys and delete removed ones, in the caller's transaction."""
    if deleted:
        session.execute(
            delete(AnalyzerStateEntry).where(
                col(AnalyzerStateEntry.analyzer_id) == analyzer_id,
                col(AnalyzerStateEntry.key).in_(list(deleted)),
            )
        )
    if not changed:
        return
    rows = [{"analyzer_id": analyzer_id, "key": k, "value": v} for k, v in changed.items()]
    statement = upsert_insert(session, table_of(AnalyzerStateEntry))
    statement = statement.on_conflict_do_update(
        index_elements=["analyzer_id", "key"], set_={"value": statement.excluded.value}
    )
    session.execute(statement, rows)  # one cached statement, executemany


@dataclass(frozen=True)
class Head:
    """The result that last reported a finding, and whether that report withdrew it."""

    result_jti: str
    result_digest: str
    withdrawn: bool


def heads(session: Session, analyzer_id: str, keys: Iterable[str]) -> dict[str, Head]:
    """The heads of the findings ``keys`` (``analyzers.converge.finding_key``) that have one."""
    wanted = {_key_sha256(key): key for key in keys}
    if not wanted:
        return {}
    rows = session.exec(
        select(FindingHead).where(
            FindingHead.analyzer_id == analyzer_id,
            col(FindingHead.key_sha256).in_(list(wanted)),
        )
    ).all()
    return {
        wanted[row.key_sha256]: Head(row.result_jti, row.result_digest, row.withdrawn)
        for row in rows
    }


def save_heads(session: Session, analyzer_id: str, new: Mapping[str, Head]) -> None:
    """Upsert the heads of findings just issued, in the caller's transaction."""
    if not new:
        return
    rows = [
        {
            "analyzer_id": analyzer_id,
            "key_sha256": _key_sha256(key),
            "finding_key": key,
            "result_jti": head.result_jti,
            "result_digest": head.result_digest,
            "withdrawn": head.withdrawn,
        }
        for key, head in new.items()
    ]
    statement = upsert_insert(session, table_of(FindingHead))
    statement = statement.on_conflict_do_update(
        index_elements=["analyzer_id", "key_sha256"],
        set_={
            name: statement.excluded[name]
            for name in ("finding_key", "result_jti", "result_digest", "withdrawn")
        },
    )
    session.execute(statement, rows)


def _key_sha256(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()
