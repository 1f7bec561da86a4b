"""Idempotent ingest: natural keys of issued records, and Idempotency-Key answers.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06

Sending the same batch twice issued new packets for the same events. Two tables:

* ``record_key``: per schema and natural key (``SchemaSpec.natural_key``: a UCDP
  event id, a financial flow's id), the packet this node issued for it and the
  digest of what the record said (``SchemaSpec.record_digest``). The primary key is
  the lookup: one index probe per record.
* ``idempotency_key``: per calling token and ``Idempotency-Key``, the digest of the
  request body and, once answered, the status and body given; ``expires_at`` is
  indexed so that expired keys are purged cheaply.

The upgrade fills ``record_key`` from the packets issued here before it (the latest
packet of each key wins, as the one a re-sent record is compared with), so a batch
sent before the upgrade and again after it is not issued twice. Schemas are
versioned by id and never change, so the key of a ``conflict-event/1`` record
computed here is the one the code computes at run time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

from clearinghouse.protocol.schemas import SCHEMAS

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 1000


def _utc(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    record_key = op.create_table(
        "record_key",
        sa.Column("schema_id", sa.String(length=64), nullable=False),
        sa.Column("key_sha256", sa.String(length=64), nullable=False),
        sa.Column(
            "packet_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("jti", sa.String(length=64), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("record_sha256", sa.String(length=64), nullable=False),
        _utc("created_at"),
        sa.PrimaryKeyConstraint("schema_id", "key_sha256", name="pk_record_key"),
    )
    op.create_table(
        "idempotency_key",
        sa.Column("token", sa.String(length=255), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("request_sha256", sa.String(length=64), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("response", sa.Text(), nullable=True),
        _utc("created_at"),
        _utc("expires_at"),
        sa.PrimaryKeyConstraint("token", "key", name="pk_idempotency_key"),
    )
    op.create_index("ix_idempotency_key_expiry", "idempotency_key", ["expires_at"])
    _fill_record_keys(record_key)


def _fill_record_keys(record_key: sa.Table) -> None:
    keyed = [sid for sid, spec in SCHEMAS.items() if spec.natural_key_fields]
    packet = sa.table(
        "packet",
        sa.column("id", sa.BigInteger()),
        sa.column("jti", sa.String()),
        sa.column("digest", sa.String()),
        sa.column("schema_id", sa.String()),
        sa.column("hc", sa.String()),
        sa.column("hcr", sa.Text()),
        sa.column("origin", sa.String()),
        sa.column("claims", sa.JSON()),
    )
    bind = op.get_bind()
    now = datetime.now(UTC)
    if bind.dialect.name == "sqlite":
        now = now.replace(tzinfo=None)  # SQLite keeps naive UTC (UTCDateTime in the models)
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    after = -1
    while True:
        rows = bind.execute(
            sa.select(packet)
            .where(packet.c.origin == "local", packet.c.schema_id.in_(keyed), packet.c.id > after)
            .order_by(packet.c.id)
            .limit(_BATCH)
        ).all()
        if not rows:
            break
        for row in rows:
            spec = SCHEMAS[row.schema_id]
            key = spec.natural_key(row.claims)  # a required field, validated at issue
            if key is None:
                continue
            key_sha256 = hashlib.sha256(key.encode()).hexdigest()
            latest[(row.schema_id, key_sha256)] = {
                "schema_id": row.schema_id,
                "key_sha256": key_sha256,
                "packet_id": row.id,
                "jti": row.jti,
                "digest": row.digest,
                "record_sha256": spec.record_digest(row.claims, hc=row.hc, hcr=row.hcr),
                "created_at": now,
            }
        after = rows[-1].id
    values = list(latest.values())
    for start in range(0, len(values), _BATCH):
        op.bulk_insert(record_key, values[start : start + _BATCH])


def downgrade() -> None:
    op.drop_index("ix_idempotency_key_expiry", table_name="idempotency_key")
    op.drop_table("idempotency_key")
    op.drop_table("record_key")
