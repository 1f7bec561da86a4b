"""What the node remembers about its peers: seen nonces, catch-up cursors, counters."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlmodel import Session, col, select

from clearinghouse.node.storage._core import rowcount, table_of, upsert_insert
from clearinghouse.node.storage.models import NodeCounter, PeerCursor, SeenNonce

__all__ = [
    "add_to_counter",
    "counters",
    "get_cursor",
    "purge_nonces",
    "remember_nonce",
    "set_cursor",
]


def remember_nonce(session: Session, *, peer: str, nonce: str, now: datetime) -> bool:
    """Record a request nonce; False if this peer used it before (a replay)."""
    table = table_of(SeenNonce)
    # RETURNING, not rowcount: an INSERT's rowcount is not kept by SQLAlchemy
    # (psycopg reports -1 once the cursor is closed, which read as "new").
    statement = (
        upsert_insert(session, table)
        .values(peer=peer, nonce=nonce, seen_at=now)
        .on_conflict_do_nothing(index_elements=["peer", "nonce"])
        .returning(table.c.nonce)
    )
    return session.execute(statement).first() is not None


def purge_nonces(session: Session, *, before: datetime) -> int:
    """Forget nonces older than the signature window: stale requests are refused anyway."""
    result = session.execute(delete(SeenNonce).where(col(SeenNonce.seen_at) < before))
    return rowcount(result)


def get_cursor(session: Session, peer: str) -> int:
    row = session.get(PeerCursor, peer)
    return row.cursor if row else 0


def set_cursor(session: Session, peer: str, cursor: int, now: datetime) -> None:
    row = session.get(PeerCursor, peer)
    if row is None:
        session.add(PeerCursor(peer=peer, cursor=cursor, updated_at=now))
    elif cursor > row.cursor:
        row.cursor, row.updated_at = cursor, now
        session.add(row)


def add_to_counter(session: Session, name: str, amount: int = 1) -> None:
    """Add to a named counter inside the caller's transaction (created at 0)."""
    if amount == 0:
        return
    table = table_of(NodeCounter)
    statement = (
        upsert_insert(session, table)
        .values(name=name, value=amount)
        .on_conflict_do_update(index_elements=["name"], set_={"value": table.c.value + amount})
    )
    session.execute(statement)


def counters(session: Session) -> dict[str, int]:
    return {row.name: row.value for row in session.exec(select(NodeCounter)).all()}
