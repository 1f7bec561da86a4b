"""The common situation's index: findings, places and actors held, flat.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07

The situation used to load every result held to answer (461 MiB at a million
packets). ``situation_finding`` keeps each finding of each result held as a row, with
the version the situation shows marked ``latest``; ``packet_place`` where each held
record took place as far as its view discloses; ``packet_actor`` the sides a held
conflict event names. All three are derived from ``packet``
(:mod:`node.storage.situation_index`, which also keeps them from now on): this
revision builds them for the packets already held, a chunk at a time, with the
same functions the node uses, so that rows built now and later never differ.

It also indexes ``packet`` by schema and origin, which the stats count by (55 s at a
million packets without it, 8 ms with it at 100,000).

Downgrade drops the three tables (nothing in them is evidence) and that index.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlmodel import Session

from clearinghouse.node.storage.models import UTCDateTime
from clearinghouse.node.storage.situation_index import index_packets

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CHUNK = 2000
_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    _create_tables()
    _index_held_packets()
    # /v1/local/stats counts packets per schema and origin: 55 s at a million without it
    op.create_index("ix_packet_schema_origin", "packet", ["schema_id", "origin"])


def _create_tables() -> None:
    op.create_table(
        "situation_finding",
        sa.Column("id", _BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("packet_id", _BIG_ID, nullable=False),
        sa.Column("finding_no", sa.Integer(), nullable=False),
        sa.Column("result_jti", sa.String(length=64), nullable=False),
        sa.Column("result_sha256", sa.String(length=64), nullable=False),
        sa.Column("participant", sa.String(length=64), nullable=False),
        sa.Column("analyzer", sa.String(length=128), nullable=False),
        sa.Column("analyzer_version", sa.String(length=64), nullable=False),
        sa.Column("identity_sha256", sa.String(length=64), nullable=False),
        sa.Column("supersedes_jti", sa.String(length=64), nullable=True),
        sa.Column("kind", sa.String(length=128), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=True),
        sa.Column("actor_key", sa.String(length=255), nullable=True),
        sa.Column("country", sa.String(length=255), nullable=True),
        sa.Column("admin1", sa.String(length=255), nullable=True),
        sa.Column("period", sa.String(length=64), nullable=True),
        sa.Column("period_first", sa.String(length=7), nullable=True),
        sa.Column("period_last", sa.String(length=7), nullable=True),
        sa.Column("level", sa.String(length=32), nullable=True),
        sa.Column("level_rank", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("events", sa.BigInteger(), nullable=True),
        sa.Column("fatalities", sa.BigInteger(), nullable=True),
        sa.Column("withdrawn", sa.Boolean(), nullable=False),
        sa.Column("latest", sa.Boolean(), nullable=False),
        sa.Column("hc", sa.String(length=2), nullable=False),
        sa.Column("hcr", sa.Text(), nullable=True),
        sa.Column("issued_at", UTCDateTime(), nullable=False),
        sa.Column("held_at", UTCDateTime(), nullable=False),
        sa.Column("finding", sa.JSON(), nullable=False),
        sa.Column("input", sa.JSON(), nullable=False),
        sa.UniqueConstraint("packet_id", "finding_no", name="uq_situation_finding"),
    )
    op.create_index(
        "ix_situation_finding_identity",
        "situation_finding",
        ["identity_sha256", "supersedes_jti"],
    )
    op.create_index(
        "ix_situation_finding_latest",
        "situation_finding",
        ["latest", "period_last", "period_first"],
    )
    op.create_index("ix_situation_finding_area", "situation_finding", ["country", "admin1"])
    op.create_index("ix_situation_finding_actor", "situation_finding", ["actor_key"])
    op.create_index("ix_situation_finding_held", "situation_finding", ["held_at"])
    op.create_table(
        "packet_place",
        sa.Column("packet_id", _BIG_ID, primary_key=True, autoincrement=False),
        sa.Column("country", sa.String(length=255), nullable=True),
        sa.Column("admin1", sa.String(length=255), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("precision", sa.String(length=16), nullable=True),
        sa.Column("month", sa.String(length=7), nullable=True),
        sa.Column("fatalities", sa.BigInteger(), nullable=True),
    )
    op.create_index(
        "ix_packet_place_area_month", "packet_place", ["country", "admin1", "month", "fatalities"]
    )
    op.create_index(
        "ix_packet_place_area_point",
        "packet_place",
        ["country", "admin1", "precision", "lat", "lon"],
    )
    op.create_table(
        "packet_actor",
        sa.Column("packet_id", _BIG_ID, primary_key=True, autoincrement=False),
        sa.Column("actor_key", sa.String(length=255), primary_key=True),
        sa.Column("actor", sa.Text(), nullable=False),
    )
    op.create_index("ix_packet_actor_actor_key", "packet_actor", ["actor_key"])


def _index_held_packets() -> None:
    """Index every packet held, a chunk at a time, as the node indexes a new one."""
    bind = op.get_bind()
    packet = sa.table(
        "packet",
        sa.column("id", sa.BigInteger()),
        sa.column("jti", sa.String()),
        sa.column("digest", sa.String()),
        sa.column("issuer", sa.String()),
        sa.column("schema_id", sa.String()),
        sa.column("hc", sa.String()),
        sa.column("hcr", sa.Text()),
        sa.column("issued_at", UTCDateTime()),
        sa.column("stored_at", UTCDateTime()),
        sa.column("claims", sa.JSON()),
    )
    session = Session(bind=bind)
    after = -1
    while True:
        rows = bind.execute(
            sa.select(packet).where(packet.c.id > after).order_by(packet.c.id).limit(_CHUNK)
        ).all()
        if not rows:
            break
        index_packets(session, [(int(row.id), dict(row._mapping)) for row in rows])
        after = rows[-1].id
    session.flush()


def downgrade() -> None:
    op.drop_index("ix_packet_schema_origin", table_name="packet")
    op.drop_table("packet_actor")
    op.drop_table("packet_place")
    op.drop_table("situation_finding")
