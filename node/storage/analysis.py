"""The analyzer's queue, its runs and its persisted state."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from node.storage.models import AnalysisQueue, AnalysisRun, AnalyzerStateEntry, StoredPacket

__all__ = [
    "add_runs",
    "count_runs",
    "dequeue",
    "enqueue",
    "load_state",
    "next_batch",
    "queue_depth",
    "runs_for_packet",
    "save_state",
]


def enqueue(session: Session, packet_ids: Iterable[int], *, now: datetime) -> None:
    rows = [{"packet_id": pid, "enqueued_at": now} for pid in packet_ids]
    if rows:
        session.execute(insert(AnalysisQueue), rows)


def next_batch(session: Session, limit: int) -> list[tuple[int, StoredPacket]]:
    """The oldest queued packets: (queue id, packet), in queue order."""
    rows = session.exec(
        select(AnalysisQueue.id, StoredPacket)
        .join(StoredPacket, col(StoredPacket.id) == AnalysisQueue.packet_id)
        .order_by(col(AnalysisQueue.id))
        .limit(limit)
    ).all()
    return [(int(qid or 0), packet) for qid, packet in rows]


def dequeue(session: Session, queue_ids: Sequence[int]) -> None:
    if queue_ids:
        session.execute(delete(AnalysisQueue).where(col(AnalysisQueue.id).in_(queue_ids)))


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
            func.count(AnalysisRun.error),
            func.count(AnalysisRun.result_packet_id),
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
                AnalyzerStateEntry.analyzer_id == analyzer_id,
                col(AnalyzerStateEntry.key).in_(list(deleted)),
            )
        )
    if not changed:
        return
    table = AnalyzerStateEntry.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    make_insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    rows = [{"analyzer_id": analyzer_id, "key": k, "value": v} for k, v in changed.items()]
    for start in range(0, len(rows), 500):
        statement = make_insert(table).values(rows[start : start + 500])
        statement = statement.on_conflict_do_update(
            index_elements=["analyzer_id", "key"], set_={"value": statement.excluded.value}
        )
        session.execute(statement)
