"""Migration 0014: each outbox row's view text moves to ``outbox_view``, under its id.

On SQLite and PostgreSQL: a database at 0013 holds outbox rows as the release before
wrote them, the text in ``outbox.view``, in every state (pending, leased, offered,
deferred, delivered with a receipt, refused, one sent under an authorisation). After
the upgrade each text is in ``outbox_view`` under its row's id, ``view`` is gone, the
rows' other columns are as they were, and delivery reads the texts moved and keeps the
text of a row queued afterwards. The downgrade puts every text back in its row (NOT
NULL, as before) and drops ``outbox_view``; upgrading again works.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, inspect, text

from clearinghouse.node.storage import outbox
from clearinghouse.node.storage.db import transaction
from clearinghouse.node.storage.migrate import upgrade
from clearinghouse.protocol.packet import PacketRef
from tests.node.storage._support import NOW, TestDatabase, downgrade_to
from tests.node.storage.test_migration_history import Writer, empty, migrate_to
from tests.node.storage.test_migrations import differences

__all__ = ["empty"]  # the fixture, shared with the migration history tests

LATER = NOW + timedelta(minutes=3)


def view_text(n: int) -> str:
    """A view about as long as a real one (~5 KB, past SQLite's inline row size), not ASCII
    only, and different for each row."""
    return f"eyJhbGciOiJFZERTQSJ9.view-{n}~" + "données~WyJzYWx0IiwiYSJd~" * 200


def outbox_row(w: Writer, recipient: str, n: int, **state: object) -> int:
    values = {"state": "pending", "attempts": 0, "created_at": NOW, "next_attempt_at": NOW}
    return w.insert(
        "outbox",
        recipient=recipient,
        packet_id=n,
        jti=f"jti-{n}",
        digest=f"{n:064x}",
        view=view_text(n),
        **(values | state),
    )


def write_rows(w: Writer) -> dict[str, int]:
    """One outbox row in each state a release at 0013 leaves them in; their ids by name."""
    w.insert("delivery_receipt", id=1, recipient="undp", jws="receipt-1", received_at=NOW)
    done = {"delivered_at": NOW, "delivered_via": "push", "receipt_id": 1}
    return {
        "pending": outbox_row(w, "dpa", 1, attempts=2, last_error="peer unavailable"),
        "leased": outbox_row(w, "dpa", 2, lease_owner="node-1", lease_until=LATER),
        "offered": outbox_row(w, "sanctions", 3, offered_at=NOW),
        "deferred": outbox_row(w, "dpa", 4, deferred_since=NOW, last_error="deferred"),
        "delivered": outbox_row(w, "undp", 5, state="delivered", receipt_index=0, **done),
        "batched": outbox_row(w, "undp", 6, state="delivered", receipt_index=1, **done),
        "refused": outbox_row(w, "undp", 7, state="refused", last_error="rejected"),
        "authorised": outbox_row(w, "sanctions", 8, authorisation_id="auth-2026-0001"),
    }


def outbox_rows(engine: Engine) -> dict[int, dict[str, Any]]:
    """Every outbox row's columns, ``view`` left out, by id."""
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT * FROM outbox")).mappings().all()
    return {row["id"]: {k: v for k, v in row.items() if k != "view"} for row in rows}


def texts(engine: Engine, query: str) -> dict[int, str]:
    with engine.connect() as connection:
        return {i: view for i, view in connection.execute(text(query))}


def test_migration_0014_moves_each_view_text_apart_under_its_row_id(
    empty: TestDatabase,
) -> None:
    engine = empty.engine()
    migrate_to(engine, "0013")
    with engine.begin() as connection:
        ids = write_rows(Writer(connection, empty.backend))
    before = outbox_rows(engine)

    upgrade(empty.url, engine=engine)

    assert differences(engine) == []
    assert "view" not in {c["name"] for c in inspect(engine).get_columns("outbox")}
    moved = texts(engine, "SELECT item_id, view FROM outbox_view")
    assert moved == {i: view_text(n) for n, i in enumerate(ids.values(), start=1)}
    assert outbox_rows(engine) == before
    # Delivery reads a text moved; a row queued now keeps its text there too.
    with transaction(engine) as session:
        claimed = outbox.claim_due(
            session,
            recipient="sanctions",
            owner="o",
            now=LATER,
            lease=timedelta(minutes=5),
            limit=9,
        )
        assert [(item.id, item.view) for item in claimed] == [
            (ids["offered"], view_text(3)),
            (ids["authorised"], view_text(8)),
        ]
        outbox.enqueue(session, [(9, PacketRef("jti-9", f"{9:064x}"), {"dpa": "v9"})], now=LATER)
    queued = max(outbox_rows(engine))
    assert queued > max(ids.values())
    assert texts(engine, "SELECT item_id, view FROM outbox_view")[queued] == "v9"

    downgrade_to(engine, "0013")

    assert "outbox_view" not in inspect(engine).get_table_names()
    columns = {c["name"]: c for c in inspect(engine).get_columns("outbox")}
    assert columns["view"]["nullable"] is False
    back = texts(engine, "SELECT id, view FROM outbox")
    assert back == moved | {queued: "v9"}
    upgrade(empty.url, engine=engine)
    assert differences(engine) == []
    assert texts(engine, "SELECT item_id, view FROM outbox_view") == back
    engine.dispose()
