"""The node's directory of people, and the secrets the node makes for itself.

A person is stored by pseudonymous id (:mod:`node.auth.people` makes it) with the
provider's issuer and subject, the name to show and the roles of their latest sign-in.
Only this node's own pages read the directory; audit entries carry the id alone.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from clearinghouse.node.storage._core import table_of
from clearinghouse.node.storage.access_models import NodeSecret, Person
from clearinghouse.protocol.encoding import b64url_encode

__all__ = ["display_names", "get", "known", "node_secret", "remember"]

_SECRET_BYTES = 32


def remember(
    session: Session,
    *,
    person_id: str,
    issuer: str,
    subject: str,
    display_name: str,
    email: str | None,
    roles: Iterable[str],
    now: datetime,
    update: bool = True,
) -> str:
    """Add the person, or (``update``) bring their name, email, roles and last sign-in up
    to date; the name the directory now holds for them."""
    held = session.get(Person, person_id)
    joined = ",".join(sorted(set(roles)))
    if held is None:
        session.add(
            Person(
                id=person_id,
                issuer=issuer,
                subject=subject,
                display_name=display_name[:255],
                email=email[:320] if email else None,
                roles=joined,
                first_seen_at=now,
                last_seen_at=now,
            )
        )
        return display_name[:255]
    if not update:
        return held.display_name
    held.display_name = display_name[:255]
    held.email = email[:320] if email else None
    held.roles = joined
    held.last_seen_at = now
    session.add(held)
    return held.display_name


def get(session: Session, person_id: str) -> Person | None:
    return session.get(Person, person_id)


def display_names(session: Session, person_ids: Iterable[str]) -> dict[str, str]:
    """The display name of each of ``person_ids`` the directory holds."""
    wanted = sorted(set(person_ids))
    if not wanted:
        return {}
    rows = session.exec(
        select(Person.id, Person.display_name).where(col(Person.id).in_(wanted))
    ).all()
    return {row[0]: row[1] for row in rows}


def known(session: Session, limit: int = 500) -> list[Person]:
    """The people who signed in here, most recent first (for the audit page's filter)."""
    return list(
        session.exec(select(Person).order_by(col(Person.last_seen_at).desc()).limit(limit)).all()
    )


def node_secret(session: Session, name: str) -> str:
    """The node's secret ``name`` (base64url, 256 bits), made on first use.

    Concurrent first uses (replicas) agree: the first insert wins, the others read it."""
    held = session.get(NodeSecret, name)
    if held is not None:
        return held.value
    table = table_of(NodeSecret)
    dialect = session.get_bind().dialect.name
    insert = (postgresql if dialect == "postgresql" else sqlite).insert(table)
    session.execute(
        insert.values(
            name=name, value=b64url_encode(secrets.token_bytes(_SECRET_BYTES))
        ).on_conflict_do_nothing(index_elements=["name"])
    )
    value = session.execute(select(table.c.value).where(table.c.name == name)).scalar_one()
    return str(value)
