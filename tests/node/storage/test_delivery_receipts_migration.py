"""Migration 0013: the receipts held in outbox rows move to ``delivery_receipt``, once each.

On SQLite and PostgreSQL: a database at 0012 holds outbox rows as the release before
wrote them (a per-view receipt in ``outbox.receipt`` for a view pushed, delivered or
refused; none for a view pulled or still pending). After the upgrade each receipt is a
``delivery_receipt`` row of its own, each row's evidence reads back the same text at
position 0, ``receipt`` is gone, and a receipt kept afterwards takes a new id. The
downgrade puts the text back in each row (a batch receipt's in each row it covers).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import inspect, text
from sqlmodel import col, select

from clearinghouse.node.storage import outbox
from clearinghouse.node.storage.db import transaction
from clearinghouse.node.storage.migrate import upgrade
from clearinghouse.node.storage.models import DeliveryReceipt
from tests.node.storage._support import NOW, TestDatabase, downgrade_to
from tests.node.storage.test_migration_history import Writer, empty, migrate_to
from tests.node.storage.test_migrations import differences

__all__ = ["empty"]  # the fixture, shared with the migration history tests

LATER = NOW + timedelta(minutes=3)


def outbox_row(w: Writer, recipient: str, n: int, **state: object) -> int:
    values = {"state": "pending", "attempts": 0, "created_at": NOW, "next_attempt_at": NOW}
    return w.insert(
        "outbox",
        recipient=recipient,
        packet_id=n,
        jti=f"jti-{n}",
        digest=f"{n:064x}",
        view=f"view {n}",
        **(values | state),
    )


def test_migration_0013_keeps_each_held_receipt_once(empty: TestDatabase) -> None:
    engine = empty.engine()
    migrate_to(engine, "0012")
    with engine.begin() as connection:
        w = Writer(connection, empty.backend)
        done = {"delivered_at": NOW, "delivered_via": "push"}
        ids = {
            "delivered": outbox_row(w, "dpa", 1, state="delivered", receipt="receipt-1", **done),
            "refused": outbox_row(
                w, "undp", 2, state="refused", receipt="receipt-2", last_error="rejected", **done
            ),
            "pulled": outbox_row(
                w, "dpa", 3, state="delivered", delivered_at=NOW, delivered_via="pull"
            ),
            "pending": outbox_row(w, "dpa", 4),
            # a row refused when delivery gave up, before a receipt was kept: no time of
            # its own but its creation
            "unsent": outbox_row(w, "undp", 5, state="refused", receipt="receipt-5"),
        }

    upgrade(empty.url, engine=engine)

    assert differences(engine) == []
    assert "receipt" not in {c["name"] for c in inspect(engine).get_columns("outbox")}
    with transaction(engine) as session:
        evidence = {name: outbox.receipt_of(session, i) for name, i in ids.items()}
        held = session.exec(select(DeliveryReceipt).order_by(col(DeliveryReceipt.id))).all()
    assert evidence == {
        "delivered": ("receipt-1", 0),
        "refused": ("receipt-2", 0),
        "pulled": None,
        "pending": None,
        "unsent": ("receipt-5", 0),
    }
    assert [(r.recipient, r.jws, r.received_at) for r in held] == [
        ("dpa", "receipt-1", NOW),
        ("undp", "receipt-2", NOW),
        ("undp", "receipt-5", NOW),
    ]
    # The ids continue after the highest moved (PostgreSQL: its sequence was set).
    with transaction(engine) as session:
        batch = outbox.add_receipt(session, recipient="dpa", jws="batch", now=LATER)
        assert batch > max(r.id or 0 for r in held)
        assert outbox.mark_delivered(session, receipts={ids["pending"]: (batch, 1)}, now=LATER)
    with transaction(engine) as session:
        assert outbox.receipt_of(session, ids["pending"]) == ("batch", 1)

    downgrade_to(engine, "0012")

    assert "delivery_receipt" not in inspect(engine).get_table_names()
    with engine.connect() as connection:
        back = {i: r for i, r in connection.execute(text("SELECT id, receipt FROM outbox"))}
    assert back == {
        ids["delivered"]: "receipt-1",
        ids["refused"]: "receipt-2",
        ids["pulled"]: None,
        ids["pending"]: "batch",
        ids["unsent"]: "receipt-5",
    }
    upgrade(empty.url, engine=engine)
    assert differences(engine) == []
    engine.dispose()
