"""Outbox views kept apart from their rows: ``outbox_view``, one text per outbox row.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07

An outbox row held its view's text (``view``, about 5 KB). SQLite writes a row again
whole, overflow pages included, each time it changes: each time delivery leases a row
and each time it settles it, the text went along, though it never changes. A new table
``outbox_view`` holds each row's text under the row's id (``item_id``, no id of its
own), so that what delivery rewrites is the row's small columns only.

The texts held before are copied, one set-based copy however many rows, and the
column ``view`` is dropped.

Downgrade: ``view`` comes back holding each row's text from ``outbox_view`` (then NOT
NULL again, as it was), and ``outbox_view`` is dropped.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outbox_view",
        sa.Column(
            "item_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("view", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("item_id", name="pk_outbox_view"),
    )
    op.execute("INSERT INTO outbox_view (item_id, view) SELECT id, view FROM outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("view")


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("view", sa.Text(), nullable=True))
    op.execute(
        "UPDATE outbox SET view ="
        " (SELECT view FROM outbox_view WHERE outbox_view.item_id = outbox.id)"
    )
    with op.batch_alter_table("outbox") as batch:
        batch.alter_column("view", existing_type=sa.Text(), nullable=False)
    op.drop_table("outbox_view")
