"""Outbox by packet: which views of a packet were queued, to whom.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30

Receiving a result about a packet this node issued, the node checks that a view of
that packet was ever queued to the result's issuer (``packets.held_inputs``). The
outbox was indexed by recipient only, so that check read every row of the
result issuers: 40-120 ms per batch at 200,000 rows, growing with the outbox.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_outbox_packet", "outbox", ["jti", "recipient"])


def downgrade() -> None:
    op.drop_index("ix_outbox_packet", table_name="outbox")
