"""Delivery receipts kept once per batch: ``delivery_receipt``, referenced by the outbox.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-08

A peer now signs one receipt per delivered batch (:mod:`protocol.receipts`, batch
receipts), listing every view. Kept in each outbox row, it would be stored once per
view; a new table ``delivery_receipt`` (recipient, the receipt's text, when it came)
holds each receipt once, and an outbox row names its evidence by ``receipt_id`` and
its position in that receipt, ``receipt_index``.

The receipts held before are per-view receipts, one in each outbox row (``receipt``):
each becomes a ``delivery_receipt`` row of its own, with the id of the outbox row it
came from (one set-based copy, however many rows; on PostgreSQL the id sequence then
continues after the highest), at position 0, and the column ``receipt`` is dropped.

Downgrade: ``receipt`` comes back holding the text of each row's receipt (for a batch
receipt, the whole batch's text in each of its rows).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "delivery_receipt",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("recipient", sa.String(length=64), nullable=False),
        sa.Column("jws", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_delivery_receipt"),
    )
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("receipt_id", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("receipt_index", sa.Integer(), nullable=True))
    _move_receipts_held()
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("receipt")


def _move_receipts_held() -> None:
    """Each outbox row's per-view receipt into a ``delivery_receipt`` row of its own (the
    outbox row's id), named by the outbox row at position 0."""
    op.execute(
        "INSERT INTO delivery_receipt (id, recipient, jws, received_at)"
        " SELECT id, recipient, receipt, COALESCE(delivered_at, created_at)"
        " FROM outbox WHERE receipt IS NOT NULL"
    )
    op.execute("UPDATE outbox SET receipt_id = id, receipt_index = 0 WHERE receipt IS NOT NULL")
    if op.get_bind().dialect.name == "postgresql":
        # ids were given explicitly: the sequence continues after the highest one
        op.execute(
            "SELECT setval(pg_get_serial_sequence('delivery_receipt', 'id'),"
            " COALESCE((SELECT MAX(id) FROM delivery_receipt), 0) + 1, false)"
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("receipt", sa.Text(), nullable=True))
    op.execute(
        "UPDATE outbox SET receipt ="
        " (SELECT jws FROM delivery_receipt WHERE delivery_receipt.id = outbox.receipt_id)"
        " WHERE receipt_id IS NOT NULL"
    )
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("receipt_index")
        batch.drop_column("receipt_id")
    op.drop_table("delivery_receipt")
