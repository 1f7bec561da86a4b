"""Initial schema: packets, outbox, refusals, nonces, peer cursors, counters.

Revision ID: 0001
Revises:
Create Date: 2026-11-25

Types are spelled out here rather than imported from ``node.storage.models``, so
that this revision stays what it was when the models move on:

* ids are ``BIGINT`` on PostgreSQL (``BIGSERIAL``) and ``INTEGER PRIMARY KEY``
  on SQLite, the only column type SQLite auto-increments (``_ID``);
* times are ``timestamptz`` on PostgreSQL; SQLite keeps naive UTC text and
  ``UTCDateTime`` in the models restores the zone on read.

Constraints and indexes are named explicitly, so later revisions can drop them
by name on both databases.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id() -> sa.Column[int]:
    return sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        autoincrement=True,
        nullable=False,
    )


def _utc(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "packet",
        _id(),
        sa.Column("jti", sa.String(length=64), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("issuer", sa.String(length=64), nullable=False),
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("schema_id", sa.String(length=64), nullable=False),
        sa.Column("hc", sa.String(length=2), nullable=False),
        sa.Column("hcr", sa.Text(), nullable=True),
        _utc("issued_at"),
        sa.Column("origin", sa.String(length=64), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("claims", sa.JSON(), nullable=False),
        _utc("stored_at"),
        sa.PrimaryKeyConstraint("id", name="pk_packet"),
        sa.UniqueConstraint("jti", "digest", name="uq_packet_ref"),
    )
    op.create_index("ix_packet_issuer", "packet", ["issuer"])
    op.create_index("ix_packet_origin", "packet", ["origin", "id"])
    op.create_index("ix_packet_schema_stored", "packet", ["schema_id", "id"])

    op.create_table(
        "outbox",
        _id(),
        sa.Column("recipient", sa.String(length=64), nullable=False),
        sa.Column("packet_id", sa.BigInteger(), nullable=False),
        sa.Column("jti", sa.String(length=64), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("view", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _utc("created_at"),
        _utc("next_attempt_at"),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        _utc("lease_until", nullable=True),
        _utc("delivered_at", nullable=True),
        sa.Column("delivered_via", sa.String(length=8), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("receipt", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
    )
    op.create_index("ix_outbox_due", "outbox", ["recipient", "state", "next_attempt_at"])
    op.create_index("ix_outbox_feed", "outbox", ["recipient", "id"])

    op.create_table(
        "inbound_refusal",
        _id(),
        sa.Column("peer", sa.String(length=64), nullable=False),
        sa.Column("disposition", sa.String(length=16), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("jti", sa.String(length=64), nullable=True),
        sa.Column("digest", sa.String(length=64), nullable=True),
        sa.Column("raw", sa.Text(), nullable=False),
        _utc("received_at"),
        sa.PrimaryKeyConstraint("id", name="pk_inbound_refusal"),
    )
    op.create_index("ix_inbound_refusal_peer", "inbound_refusal", ["peer"])

    op.create_table(
        "seen_nonce",
        sa.Column("peer", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.String(length=128), nullable=False),
        _utc("seen_at"),
        sa.PrimaryKeyConstraint("peer", "nonce", name="pk_seen_nonce"),
    )

    op.create_table(
        "peer_cursor",
        sa.Column("peer", sa.String(length=64), nullable=False),
        sa.Column("cursor", sa.BigInteger(), nullable=False),
        _utc("updated_at"),
        sa.PrimaryKeyConstraint("peer", name="pk_peer_cursor"),
    )

    op.create_table(
        "node_counter",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_node_counter"),
    )


def downgrade() -> None:
    op.drop_table("node_counter")
    op.drop_table("peer_cursor")
    op.drop_table("seen_nonce")
    op.drop_index("ix_inbound_refusal_peer", table_name="inbound_refusal")
    op.drop_table("inbound_refusal")
    op.drop_index("ix_outbox_feed", table_name="outbox")
    op.drop_index("ix_outbox_due", table_name="outbox")
    op.drop_table("outbox")
    op.drop_index("ix_packet_schema_stored", table_name="packet")
    op.drop_index("ix_packet_origin", table_name="packet")
    op.drop_index("ix_packet_issuer", table_name="packet")
    op.drop_table("packet")
