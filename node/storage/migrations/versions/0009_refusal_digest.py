"""Refused views kept as a digest and a header, not verbatim; deferred deliveries.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06

A refused or quarantined view may hold the very values the policy withholds from
this node: ``inbound_refusal`` keeps, instead of its text (``raw``), its SHA-256
(``sha256``, hex, of the UTF-8 text), its length (``size``) and its start up to the
first ``.`` or ``~``, at most 200 characters (``prefix``: the JWS protected header
of a well-formed view). Rows already held are converted from their ``raw`` text (as
it was stored: NULs written ``\\x00``), then ``raw`` is dropped. The indexes now
serve keeping the newest rows per peer and purging by age.

An outbox item a peer deferred (receipt status ``deferred``) records when it first
was (``deferred_since``), so that delivery gives up after a bound.

Downgrade: ``raw`` comes back holding the prefix (the text is gone for good).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: as node.storage.packets.PREFIX_CHARS at this revision
_PREFIX_CHARS = 200
_CHUNK = 1000


def _prefix(raw: str) -> str:
    """node.storage.packets.refusal_prefix at this revision (``raw`` already escaped)."""
    end = min((i for i in (raw.find("."), raw.find("~")) if i >= 0), default=len(raw))
    return raw[: min(end, _PREFIX_CHARS)]


def upgrade() -> None:
    with op.batch_alter_table("inbound_refusal") as batch:
        batch.add_column(sa.Column("sha256", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("prefix", sa.Text(), nullable=True))
        batch.add_column(sa.Column("size", sa.BigInteger(), nullable=True))
    _digest_existing_rows()
    with op.batch_alter_table("inbound_refusal") as batch:
        batch.alter_column("sha256", existing_type=sa.String(length=64), nullable=False)
        batch.alter_column("prefix", existing_type=sa.Text(), nullable=False)
        batch.alter_column("size", existing_type=sa.BigInteger(), nullable=False)
        batch.drop_column("raw")
        batch.drop_index("ix_inbound_refusal_peer")
        batch.create_index("ix_inbound_refusal_peer_id", ["peer", "id"])
        batch.create_index("ix_inbound_refusal_received", ["received_at"])
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("deferred_since", sa.DateTime(timezone=True), nullable=True))


def _digest_existing_rows() -> None:
    """Each held row's digest, size and prefix from its ``raw`` text, a chunk at a time."""
    bind = op.get_bind()
    table = sa.table(
        "inbound_refusal",
        sa.column("id", sa.BigInteger()),
        sa.column("raw", sa.Text()),
        sa.column("sha256", sa.String()),
        sa.column("prefix", sa.Text()),
        sa.column("size", sa.BigInteger()),
    )
    update = (
        table.update()
        .where(table.c.id == sa.bindparam("row_id"))
        .values(
            sha256=sa.bindparam("new_sha256"),
            prefix=sa.bindparam("new_prefix"),
            size=sa.bindparam("new_size"),
        )
    )
    after = -1
    while True:
        rows = bind.execute(
            sa.select(table.c.id, table.c.raw)
            .where(table.c.id > after)
            .order_by(table.c.id)
            .limit(_CHUNK)
        ).all()
        if not rows:
            return
        bind.execute(
            update,
            [
                {
                    "row_id": row.id,
                    "new_sha256": hashlib.sha256(
                        row.raw.encode("utf-8", "surrogatepass")
                    ).hexdigest(),
                    "new_prefix": _prefix(row.raw),
                    "new_size": len(row.raw),
                }
                for row in rows
            ],
        )
        after = rows[-1].id


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("deferred_since")
    with op.batch_alter_table("inbound_refusal") as batch:
        batch.add_column(sa.Column("raw", sa.Text(), nullable=True))
    op.execute("UPDATE inbound_refusal SET raw = prefix")
    with op.batch_alter_table("inbound_refusal") as batch:
        batch.alter_column("raw", existing_type=sa.Text(), nullable=False)
        batch.drop_index("ix_inbound_refusal_received")
        batch.drop_index("ix_inbound_refusal_peer_id")
        batch.create_index("ix_inbound_refusal_peer", ["peer"])
        batch.drop_column("sha256")
        batch.drop_column("prefix")
        batch.drop_column("size")
