"""Outbox: remember which views were offered in a catch-up page.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25

A peer's ``since`` acknowledges only views it was actually offered, so a view
that commits late with a lower id is never acknowledged unseen.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("offered_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("offered_at")
