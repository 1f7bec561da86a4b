"""Finding heads: which result last reported each finding, for ``supersedes``.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06

Findings converge (DESIGN.md, "Analysis"): when later input changes a finding,
the node issues it again naming the result it supersedes. ``finding_head`` keeps,
per analyzer and finding identity (kind, subject, period), the result that
carried its latest version, written in the same transaction as that result.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "finding_head",
        sa.Column("analyzer_id", sa.String(length=128), nullable=False),
        sa.Column("key_sha256", sa.String(length=64), nullable=False),
        sa.Column("finding_key", sa.Text(), nullable=False),
        sa.Column("result_jti", sa.String(length=36), nullable=False),
        sa.Column("result_digest", sa.String(length=64), nullable=False),
        sa.Column("withdrawn", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("analyzer_id", "key_sha256", name="pk_finding_head"),
    )


def downgrade() -> None:
    op.drop_table("finding_head")
