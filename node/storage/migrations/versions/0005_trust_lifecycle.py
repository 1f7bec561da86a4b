"""Trust lifecycle: accepted manifests, oversight authorisations, authorised views.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30

A node keeps every manifest it switched to (the highest serial is in force, shared
by replicas) and every oversight authorisation it took on; an outbox item names the
authorisation that let its view disclose more than the policy grants.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "manifest",
        sa.Column("serial", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("federation", sa.String(length=128), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=128), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("serial", name="pk_manifest"),
    )
    op.create_table(
        "authorisation",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("issuer", sa.String(length=64), nullable=False),
        sa.Column("recipient", sa.String(length=64), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=128), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_authorisation"),
    )
    op.create_index("ix_authorisation_expiry", "authorisation", ["expires_at"])
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("authorisation_id", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("authorisation_id")
    op.drop_index("ix_authorisation_expiry", table_name="authorisation")
    op.drop_table("authorisation")
    op.drop_table("manifest")
