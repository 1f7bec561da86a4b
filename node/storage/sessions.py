"""Web sessions and pending OpenID Connect sign-ins, by the SHA-256 of their secrets.

Neither a session id nor a sign-in's ``state`` is stored: a copy of the database
cannot be used to take over a session. :mod:`node.auth.sessions` decides the rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete
from sqlmodel import Session, col

from clearinghouse.node.storage._core import rowcount
from clearinghouse.node.storage.access_models import OidcLogin, UiSession

__all__ = [
    "PendingLogin",
    "StoredSession",
    "add_login",
    "add_session",
    "end_for",
    "end_session",
    "find_session",
    "purge",
    "take_login",
    "touch",
]


@dataclass(frozen=True)
class StoredSession:
    kind: str
    principal: str
    roles: tuple[str, ...]
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class PendingLogin:
    code_verifier: str
    nonce: str
    expires_at: datetime


def add_session(
    session: Session,
    *,
    id_sha256: str,
    kind: str,
    principal: str,
    roles: tuple[str, ...],
    now: datetime,
    expires_at: datetime,
) -> None:
    session.add(
        UiSession(
            id_sha256=id_sha256,
            kind=kind,
            principal=principal,
            roles=",".join(roles),
            created_at=now,
            last_seen_at=now,
            expires_at=expires_at,
        )
    )


def find_session(session: Session, id_sha256: str) -> StoredSession | None:
    row = session.get(UiSession, id_sha256)
    if row is None:
        return None
    return StoredSession(
        kind=row.kind,
        principal=row.principal,
        roles=tuple(r for r in row.roles.split(",") if r),
        created_at=row.created_at,
        last_seen_at=row.last_seen_at,
        expires_at=row.expires_at,
    )


def touch(session: Session, id_sha256: str, now: datetime) -> None:
    row = session.get(UiSession, id_sha256)
    if row is not None:
        row.last_seen_at = now
        session.add(row)


def end_session(session: Session, id_sha256: str) -> bool:
    """End one session; whether it was there."""
    return (
        rowcount(session.execute(delete(UiSession).where(col(UiSession.id_sha256) == id_sha256)))
        > 0
    )


def end_for(session: Session, kind: str, principal: str) -> int:
    """End every session of one token or person; how many there were."""
    return rowcount(
        session.execute(
            delete(UiSession).where(
                col(UiSession.kind) == kind, col(UiSession.principal) == principal
            )
        )
    )


def add_login(
    session: Session, *, state_sha256: str, code_verifier: str, nonce: str, expires_at: datetime
) -> None:
    session.add(
        OidcLogin(
            state_sha256=state_sha256,
            code_verifier=code_verifier,
            nonce=nonce,
            expires_at=expires_at,
        )
    )


def take_login(session: Session, state_sha256: str, now: datetime) -> PendingLogin | None:
    """The pending sign-in of this ``state``, removed (single use); None if unknown or
    expired."""
    row = session.get(OidcLogin, state_sha256)
    if row is None:
        return None
    pending = PendingLogin(row.code_verifier, row.nonce, row.expires_at)
    session.delete(row)
    return pending if pending.expires_at > now else None


def purge(session: Session, now: datetime, idle_before: datetime) -> int:
    """Remove sessions past their absolute end or idle since ``idle_before``, and
    expired pending sign-ins; how many rows went."""
    gone = rowcount(
        session.execute(
            delete(UiSession).where(
                (col(UiSession.expires_at) <= now) | (col(UiSession.last_seen_at) < idle_before)
            )
        )
    )
    gone += rowcount(session.execute(delete(OidcLogin).where(col(OidcLogin.expires_at) <= now)))
    return gone
