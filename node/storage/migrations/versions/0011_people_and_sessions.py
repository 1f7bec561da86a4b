"""People, web sessions and pending OpenID Connect sign-ins.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07

The web pages' cookie held a bearer token; it now holds an opaque session id, and
people sign in through the agency's OpenID Connect provider. Four new tables:

* ``person``: the node's own directory of people (pseudonymous id, the provider's
  issuer and subject, display name, roles at the latest sign-in);
* ``ui_session``: sessions by the SHA-256 of their id, with their absolute end;
* ``oidc_login``: sign-ins sent to the provider and not yet come back;
* ``node_secret``: secrets the node makes for itself (its people's pseudonym key).

And an index on ``audit_entry (actor, seq)``: the audit page filters by person.

Nothing held before changes; a cookie set before the upgrade (a token) is no session
id, so its browser is asked to sign in again.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _utc(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    # the audit page filters by person (actor), as it does by peer
    op.create_index("ix_audit_entry_actor", "audit_entry", ["actor", "seq"])
    op.create_table(
        "person",
        sa.Column("id", sa.String(length=64), primary_key=True),
        sa.Column("issuer", sa.String(length=1024), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("display_name", sa.String(length=255), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("roles", sa.String(length=64), nullable=False),
        _utc("first_seen_at"),
        _utc("last_seen_at"),
        sa.UniqueConstraint("issuer", "subject", name="uq_person_subject"),
    )
    op.create_table(
        "ui_session",
        sa.Column("id_sha256", sa.String(length=64), primary_key=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("principal", sa.String(length=255), nullable=False),
        sa.Column("roles", sa.String(length=64), nullable=False),
        _utc("created_at"),
        _utc("last_seen_at"),
        _utc("expires_at"),
    )
    op.create_index("ix_ui_session_expiry", "ui_session", ["expires_at"])
    op.create_table(
        "oidc_login",
        sa.Column("state_sha256", sa.String(length=64), primary_key=True),
        sa.Column("code_verifier", sa.String(length=128), nullable=False),
        sa.Column("nonce", sa.String(length=128), nullable=False),
        _utc("expires_at"),
    )
    op.create_index("ix_oidc_login_expiry", "oidc_login", ["expires_at"])
    op.create_table(
        "node_secret",
        sa.Column("name", sa.String(length=64), primary_key=True),
        sa.Column("value", sa.String(length=255), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("node_secret")
    op.drop_table("oidc_login")
    op.drop_table("ui_session")
    op.drop_table("person")
    op.drop_index("ix_audit_entry_actor", table_name="audit_entry")
