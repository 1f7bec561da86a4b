"""Oversight authorisations this node took on, as received (signature and all)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlmodel import Session, col, select

from clearinghouse.node.storage._core import table_of, upsert_insert
from clearinghouse.node.storage.models import OversightAuthorisation

__all__ = ["add", "documents", "unexpired"]


def add(
    session: Session,
    *,
    id: str,
    issuer: str,
    recipient: str,
    document: str,
    expires_at: datetime,
    source: str,
    now: datetime,
) -> bool:
    """Store an authorisation; False if it is held already."""
    table = table_of(OversightAuthorisation)
    statement = (
        upsert_insert(session, table)
        .values(
            id=id,
            issuer=issuer,
            recipient=recipient,
            document=document,
            expires_at=expires_at,
            source=source,
            accepted_at=now,
        )
        .on_conflict_do_nothing(index_elements=["id"])
        .returning(table.c.id)
    )
    return session.execute(statement).first() is not None


def unexpired(session: Session, now: datetime) -> list[OversightAuthorisation]:
    query = select(OversightAuthorisation).where(col(OversightAuthorisation.expires_at) > now)
    return list(session.exec(query.order_by(col(OversightAuthorisation.accepted_at))))


def documents(session: Session, ids: Iterable[str]) -> dict[str, str]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    query = select(OversightAuthorisation.id, OversightAuthorisation.document).where(
        col(OversightAuthorisation.id).in_(wanted)
    )
    return {row[0]: row[1] for row in session.exec(query)}
