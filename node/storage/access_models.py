"""The tables of who may read the node's pages and API (SQLModel), beside
:mod:`node.storage.models`' tables of what it holds.

* ``person``: the node's own directory of the people who signed in through its
  OpenID Connect provider, by pseudonymous id (what audit entries name) with the
  provider's issuer and subject and their display name: never sent to a peer.
* ``ui_session``: the web pages' sessions, by the SHA-256 of their opaque id, with who
  they are for and when they end; ``oidc_login``: sign-ins started at the provider and
  not yet come back (PKCE verifier and nonce, by the SHA-256 of their ``state``).
* ``node_secret``: random secrets the node makes for itself (the key of its people's
  pseudonyms), kept with its data so that replicas and restores agree.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from clearinghouse.node.storage.models._columns import utc_column

__all__ = ["NodeSecret", "OidcLogin", "Person", "UiSession"]


class Person(SQLModel, table=True):
    """Someone who signed in through the node's OpenID Connect provider.

    ``id`` is a keyed hash of issuer and subject (:mod:`node.auth.people`): what audit
    entries name, since every peer may read them; the rest stays on this node."""

    __tablename__ = "person"
    __table_args__ = (UniqueConstraint("issuer", "subject", name="uq_person_subject"),)

    id: str = Field(max_length=64, primary_key=True)
    issuer: str = Field(max_length=1024)
    subject: str = Field(max_length=255)
    display_name: str = Field(max_length=255)
    email: str | None = Field(default=None, max_length=320)
    #: the roles the provider's claims gave at the latest sign-in, comma-separated
    roles: str = Field(max_length=64)
    first_seen_at: datetime = Field(sa_column=utc_column())
    last_seen_at: datetime = Field(sa_column=utc_column())


class UiSession(SQLModel, table=True):
    """A web session: found by the SHA-256 of the cookie's random id (the id itself is
    never stored), for a token (``kind`` ``token``, ``principal`` its name) or a person
    (``person``, their pseudonymous id), with the roles it was granted at sign-in."""

    __tablename__ = "ui_session"
    __table_args__ = (Index("ix_ui_session_expiry", "expires_at"),)

    id_sha256: str = Field(max_length=64, primary_key=True)
    kind: str = Field(max_length=16)
    principal: str = Field(max_length=255)
    roles: str = Field(max_length=64)
    created_at: datetime = Field(sa_column=utc_column())
    last_seen_at: datetime = Field(sa_column=utc_column())
    #: absolute end (sign-in plus ``session.max_s``); the idle end is checked on use
    expires_at: datetime = Field(sa_column=utc_column())


class OidcLogin(SQLModel, table=True):
    """A sign-in sent to the provider and not yet come back (single use)."""

    __tablename__ = "oidc_login"
    __table_args__ = (Index("ix_oidc_login_expiry", "expires_at"),)

    state_sha256: str = Field(max_length=64, primary_key=True)
    code_verifier: str = Field(max_length=128)
    nonce: str = Field(max_length=128)
    expires_at: datetime = Field(sa_column=utc_column())


class NodeSecret(SQLModel, table=True):
    """A random secret the node made for itself, base64url, by name."""

    __tablename__ = "node_secret"

    name: str = Field(max_length=64, primary_key=True)
    value: str = Field(max_length=255)
