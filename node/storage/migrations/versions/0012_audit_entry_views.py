"""Audit entries per batch: the index of the views each entry covers.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-08

``view.queued``, ``view.sent`` and ``packet.received`` now record one entry per batch
and peer, listing its views (:mod:`protocol.audit`); a new table ``audit_entry_view``
holds, per entry, the jti of every view it covers beyond its top-level ``jti``, keyed
``(jti, seq)``, so a search by jti still finds each view's entry.

Nothing held changes: the entries written before are signed history (Merkle leaves
under signed checkpoints) and stay as they are, one view each, found as before by
``audit_entry.jti``. No entry of an older release covers a view beyond its top-level
jti, so the table starts empty — unless the log holds batch entries already (written
by this release, then downgraded): those are indexed again from their bodies.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


#: The acts recorded per batch, and how many entries are read at a time when indexing.
_BATCH_ACTS = ("view.queued", "view.sent", "packet.received")
_CHUNK = 5000


def upgrade() -> None:
    table = op.create_table(
        "audit_entry_view",
        sa.Column("jti", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("jti", "seq"),
    )
    connection = op.get_bind()
    for rows in _covered(connection):
        connection.execute(sa.insert(table), rows)


def _covered(connection: sa.Connection) -> Iterator[list[dict[str, Any]]]:
    """Rows for the batch entries already in the log (each view's jti beyond the entry's
    own), a chunk of entries at a time; as :meth:`protocol.audit.Act.covers` lists them."""
    entries = sa.table(
        "audit_entry", sa.column("seq"), sa.column("act"), sa.column("jti"), sa.column("body")
    )
    after = -1
    while True:
        found = connection.execute(
            sa.select(entries.c.seq, entries.c.jti, entries.c.body)
            .where(
                entries.c.act.in_(_BATCH_ACTS),
                entries.c.seq > after,
                entries.c.body.like('%"views":[%'),
            )
            .order_by(entries.c.seq)
            .limit(_CHUNK)
        ).all()
        if not found:
            return
        rows = []
        for seq, jti, body in found:
            views = json.loads(body).get("views")
            listed = (
                [v.get("jti") for v in views if isinstance(v, dict)]
                if isinstance(views, list)
                else []
            )
            covered = {j for j in listed if isinstance(j, str) and j and j != jti}
            rows += [{"jti": j, "seq": seq} for j in sorted(covered)]
        if rows:
            yield rows
        after = found[-1].seq


def downgrade() -> None:
    op.drop_table("audit_entry_view")
