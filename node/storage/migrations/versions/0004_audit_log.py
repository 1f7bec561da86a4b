"""Audit log: entries, block hashes, head, checkpoints, cosignatures, witnessing.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "audit_entry",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("act", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("peer", sa.String(length=64), nullable=True),
        sa.Column("jti", sa.String(length=64), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_audit_entry"),
    )
    op.create_index("ix_audit_entry_act", "audit_entry", ["act", "seq"])
    op.create_index("ix_audit_entry_peer", "audit_entry", ["peer", "seq"])
    op.create_index("ix_audit_entry_jti", "audit_entry", ["jti"])
    op.create_index("ix_audit_entry_time", "audit_entry", ["time"])
    op.create_table(
        "audit_block",
        sa.Column("level", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("level", "idx", name="pk_audit_block"),
    )
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("root", sa.LargeBinary(length=32), nullable=False),
        sa.Column("frontier", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_head"),
    )
    # The empty log: size 0, root SHA-256(""), no frontier. Appends only update it.
    op.execute(
        sa.text("INSERT INTO audit_head (id, size, root, frontier) VALUES (1, 0, :root, :empty)")
        .bindparams(sa.bindparam("root", type_=sa.LargeBinary()))
        .bindparams(sa.bindparam("empty", type_=sa.LargeBinary()))
        .params(root=hashlib.sha256(b"").digest(), empty=b"")
    )
    op.create_table(
        "audit_checkpoint",
        sa.Column("size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("root", sa.LargeBinary(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("size", name="pk_audit_checkpoint"),
    )
    op.create_table(
        "audit_cosignature",
        sa.Column("size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("witness", sa.String(length=64), nullable=False),
        sa.Column("line", sa.Text(), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("size", "witness", name="pk_audit_cosignature"),
    )
    op.create_table(
        "witnessed_log",
        sa.Column("peer", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("root", sa.LargeBinary(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("peer", name="pk_witnessed_log"),
    )
    op.create_table(
        "audit_alert",
        sa.Column("id", _BIG, autoincrement=True, nullable=False),
        sa.Column("peer", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_alert"),
    )
    op.create_index("ix_audit_alert_peer", "audit_alert", ["peer"])


def downgrade() -> None:
    op.drop_index("ix_audit_alert_peer", table_name="audit_alert")
    op.drop_table("audit_alert")
    op.drop_table("witnessed_log")
    op.drop_table("audit_cosignature")
    op.drop_table("audit_checkpoint")
    op.drop_table("audit_head")
    op.drop_table("audit_block")
    op.drop_index("ix_audit_entry_time", table_name="audit_entry")
    op.drop_index("ix_audit_entry_jti", table_name="audit_entry")
    op.drop_index("ix_audit_entry_peer", table_name="audit_entry")
    op.drop_index("ix_audit_entry_act", table_name="audit_entry")
    op.drop_table("audit_entry")
