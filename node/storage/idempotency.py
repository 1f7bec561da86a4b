"""Requests sent with an ``Idempotency-Key`` and the answers given (``idempotency_key``).

The IETF httpapi draft "The Idempotency-Key HTTP Header Field": a client that sends
a request again with the same key and body gets the first answer again. Per calling
token (so that two clients cannot collide) and key, a row holds the SHA-256 of the
request body and, once the request was answered, the status and body given.

:func:`claim` is the first step of every such request, in its own transaction, so
that a concurrent one with the same key sees it: it either claims the key for this
request (None) or gives the row held. A row without an answer whose claim is older
than :data:`PROCESSING_LEASE` was left by a process that died mid-request (its work
rolled back with its transaction) and is claimed afresh. Rows expire ``retention``
after their claim and are purged by the next claim.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import ReturningInsert
from sqlmodel import Session, col, select

from clearinghouse.node.storage._core import UpsertInsert, rowcount, table_of
from clearinghouse.node.storage.models import IdempotencyRecord

__all__ = ["PROCESSING_LEASE", "HeldRequest", "claim", "complete", "release"]

#: How long a claimed key without an answer counts as being processed. A batch is
#: ingested in seconds; this is far beyond the longest one.
PROCESSING_LEASE = timedelta(minutes=10)

_TABLE = table_of(IdempotencyRecord)


@dataclass(frozen=True)
class HeldRequest:
    """A request held under the key: its body's digest and, if answered, the answer."""

    request_sha256: str
    status: int | None
    response: str | None


def claim(
    session: Session,
    *,
    token: str,
    key: str,
    request_sha256: str,
    now: datetime,
    retention: timedelta,
) -> HeldRequest | None:
    """Claim ``key`` of ``token`` for a request whose body has ``request_sha256``.

    Returns None if this request now holds the key (process it, then :func:`complete`
    or :func:`release`), else the request held under it. Expired rows are purged first.
    """
    table = _TABLE
    session.execute(delete(table).where(table.c.expires_at < now))
    row = {
        "token": token,
        "key": key,
        "request_sha256": request_sha256,
        "created_at": now,
        "expires_at": now + retention,
    }
    statement = _INSERT[session.get_bind().dialect.name]
    if session.execute(statement, row).first() is not None:
        return None
    taken = session.execute(
        update(table)
        .where(
            table.c.token == token,
            table.c.key == key,
            table.c.status.is_(None),
            table.c.created_at < now - PROCESSING_LEASE,
        )
        .values(row)
    )
    if rowcount(taken):
        return None  # abandoned by a process that died
    held = session.exec(
        select(IdempotencyRecord).where(
            IdempotencyRecord.token == token, IdempotencyRecord.key == key
        )
    ).one()
    return HeldRequest(held.request_sha256, held.status, held.response)


def complete(session: Session, *, token: str, key: str, status: int, response: str) -> None:
    """Keep the answer given to the request that claimed ``key``."""
    session.execute(
        update(IdempotencyRecord)
        .where(col(IdempotencyRecord.token) == token, col(IdempotencyRecord.key) == key)
        .values(status=status, response=response)
    )


def release(session: Session, *, token: str, key: str) -> None:
    """Free ``key`` of a request that was not answered (it failed before its work was
    done, or its answer is not one to give again): the next one is processed afresh."""
    session.execute(
        delete(IdempotencyRecord).where(
            col(IdempotencyRecord.token) == token,
            col(IdempotencyRecord.key) == key,
            col(IdempotencyRecord.status).is_(None),
        )
    )


def _insert(insert: UpsertInsert) -> ReturningInsert[Any]:
    return insert.on_conflict_do_nothing(index_elements=["token", "key"]).returning(_TABLE.c.key)


_INSERT = {
    "postgresql": _insert(postgresql.insert(_TABLE)),
    "sqlite": _insert(sqlite.insert(_TABLE)),
}
