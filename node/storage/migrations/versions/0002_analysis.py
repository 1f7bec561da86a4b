"""Analysis: the analyzer's queue, its runs, and its persisted state.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "analysis_queue",
        sa.Column("id", _BIG, autoincrement=True, nullable=False),
        sa.Column("packet_id", _BIG, nullable=False),
        sa.Column("enqueued_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_analysis_queue"),
        sa.UniqueConstraint("packet_id", name="uq_analysis_queue_packet_id"),
    )
    op.create_table(
        "analysis_run",
        sa.Column("id", _BIG, autoincrement=True, nullable=False),
        sa.Column("packet_id", _BIG, nullable=False),
        sa.Column("analyzer_id", sa.String(length=128), nullable=False),
        sa.Column("analyzer_version", sa.String(length=64), nullable=False),
        sa.Column("findings", sa.Integer(), nullable=False),
        sa.Column("result_packet_id", _BIG, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("ran_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_analysis_run"),
    )
    op.create_index("ix_analysis_run_packet", "analysis_run", ["packet_id"])
    op.create_table(
        "analyzer_state",
        sa.Column("analyzer_id", sa.String(length=128), nullable=False),
        sa.Column("key", sa.String(length=512), nullable=False),
        sa.Column("value", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("analyzer_id", "key", name="pk_analyzer_state"),
    )


def downgrade() -> None:
    op.drop_table("analyzer_state")
    op.drop_index("ix_analysis_run_packet", table_name="analysis_run")
    op.drop_table("analysis_run")
    op.drop_table("analysis_queue")
