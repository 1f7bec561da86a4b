"""Batches handed to the driver store exactly what SQLAlchemy's own executemany stored.

The batch writes of views queued and delivered, audit entries and issued packets run as one
executemany handed to the driver (:func:`node.storage._core.driver_executemany`): the
statement compiled once, the values every row shares converted once. On both databases,
each write is done once that way and once by SQLAlchemy's executemany of the same
statement and rows (its own conversion of every value of every row), each in a
transaction rolled back afterwards, and every row of every table it touches is
compared as the driver reads it back (no conversion: the bytes stored, in effect).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, event
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import StatementError
from sqlalchemy.sql.dml import UpdateBase
from sqlmodel import Session

from clearinghouse.node.storage import auditlog, outbox, packets
from clearinghouse.node.storage.db import transaction
from clearinghouse.protocol.audit import Act
from clearinghouse.protocol.packet import PacketRef
from tests.node.storage._support import NOW, Packets

#: The tables these writes touch; ``id`` columns (a PostgreSQL sequence is not rolled
#: back) and the packet ids that point at them are left out of the comparison.
TABLES = (
    "outbox",
    "packet",
    "packet_place",
    "packet_actor",
    "audit_entry",
    "audit_block",
    "audit_entry_view",
    "audit_head",
)
GENERATED = {"id", "packet_id"}
Write = Callable[[Session], object]


def sqlalchemy_executemany(
    connection: Connection,
    statement: UpdateBase,
    rows: Sequence[Mapping[str, Any]],
    *,
    shared: Mapping[str, Any],
) -> CursorResult[Any]:
    """What the writes did before: SQLAlchemy's executemany, every value of every row."""
    return connection.execute(statement, [{**row, **shared} for row in rows])


def stored(engine: Engine, write: Write) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of :data:`TABLES` after ``write``, as the driver reads it; rolled back."""
    with Session(engine) as session:
        write(session)
        connection = session.connection()
        found = {}
        for table in TABLES:
            result = connection.exec_driver_sql(f"SELECT * FROM {table}")
            kept = [i for i, name in enumerate(result.keys()) if name not in GENERATED]
            found[table] = sorted(
                (tuple(repr(row[i]) for i in kept) for row in result.all()), key=str
            )
        session.rollback()
    return found


@pytest.fixture
def by_sqlalchemy(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], None]]:
    """Call it to have the writes use SQLAlchemy's executemany (as before) from then on."""

    def switch() -> None:
        for module in (outbox, auditlog, packets):
            monkeypatch.setattr(module, "driver_executemany", sqlalchemy_executemany)

    yield switch


def same_as_sqlalchemy(engine: Engine, write: Write, by_sqlalchemy: Callable[[], None]) -> None:
    driver = stored(engine, write)
    by_sqlalchemy()
    assert driver == stored(engine, write)
    assert any(driver.values())


def ref(n: int) -> PacketRef:
    return PacketRef(f"jti-{n:04d}", f"{n:064x}")


#: A zone other than UTC: the stored text must be the instant in UTC all the same.
EAST = timezone(timedelta(hours=5, minutes=30))


def test_views_enqueued(engine: Engine, by_sqlalchemy: Callable[[], None]) -> None:
    def write(session: Session) -> None:
        views = [(i + 1, ref(i), {"dpa": f"view {i} ü", "unodc": "x" * 5000}) for i in range(7)]
        outbox.enqueue(session, views, now=NOW)
        outbox.enqueue(
            session,
            [(9, ref(9), {"undp": "widened"})],
            now=NOW.astimezone(EAST),
            authorisation_id="auth-1",
            due=NOW + timedelta(seconds=30),
        )

    same_as_sqlalchemy(engine, write, by_sqlalchemy)


def test_views_delivered(engine: Engine, by_sqlalchemy: Callable[[], None]) -> None:
    def write(session: Session) -> None:
        outbox.enqueue(session, [(i + 1, ref(i), {"dpa": f"v{i}"}) for i in range(6)], now=NOW)
        ids = sorted(int(item.id) for item in claimed(session))
        receipts: dict[int, outbox.ReceiptRef | None] = {i: (7, k) for k, i in enumerate(ids)}
        receipts[ids[1]] = None  # acknowledged without a receipt
        later = (NOW + timedelta(seconds=2)).astimezone(EAST)
        assert outbox.mark_delivered(session, receipts=receipts, now=later, via="pull") == 6

    same_as_sqlalchemy(engine, write, by_sqlalchemy)


def claimed(session: Session) -> list[outbox.DueItem]:
    return outbox.claim_due(
        session, recipient="dpa", owner="w", now=NOW, lease=timedelta(minutes=1), limit=10
    )


def test_audit_entries_blocks_and_views(engine: Engine, by_sqlalchemy: Callable[[], None]) -> None:
    def write(session: Session) -> None:
        views = [{"jti": f"j{i}", "digest": f"d{i}"} for i in range(5)]
        acts = [
            Act("view.sent", "node:mission", peer="dpa", fields={"views": views}),
            *(Act("packet.issued", "token:x", jti=f"j{i}", fields={"n": i}) for i in range(6)),
        ]
        auditlog.append(session, acts, now=NOW)
        auditlog.append(session, acts[1:3], now=NOW.astimezone(EAST) + timedelta(hours=1))

    same_as_sqlalchemy(engine, write, by_sqlalchemy)


def test_packets_issued(
    engine: Engine, packet_factory: Packets, by_sqlalchemy: Callable[[], None]
) -> None:
    issued = [packet_factory.issued(schema) for schema in ("conflict-event/1", "seizure/1")]

    def write(session: Session) -> None:
        packets.add_issued(session, issued, issuer="mission", kid="k1", now=NOW.astimezone(EAST))

    same_as_sqlalchemy(engine, write, by_sqlalchemy)


def test_the_sql_is_sqlalchemys_own(engine: Engine, by_sqlalchemy: Callable[[], None]) -> None:
    """On PostgreSQL the very text SQLAlchemy sends for a batch (of more than one row);
    on SQLite the same with ``:name`` parameters."""

    def write(session: Session) -> None:
        outbox.enqueue(session, [(1, ref(1), {"dpa": "v", "undp": "w"})], now=NOW)
        outbox.mark_delivered(session, receipts={1: (2, 0), 2: None}, now=NOW)
        issued = [Act("packet.issued", "token:x", jti=f"j{i}") for i in range(3)]
        auditlog.append(session, issued, now=NOW)

    driver = sql_sent(engine, write)
    by_sqlalchemy()
    sent = sql_sent(engine, write)
    if engine.dialect.name == "sqlite":
        driver = [re.sub(r":\w+", "?", sql) for sql in driver]
    assert driver == sent
    assert len(sent) >= 4


def sql_sent(engine: Engine, write: Write) -> list[str]:
    seen: list[str] = []

    def note(*args: Any) -> None:
        seen.append(args[2])

    event.listen(engine, "before_cursor_execute", note)
    try:
        stored(engine, write)
    finally:
        event.remove(engine, "before_cursor_execute", note)
    return [sql for sql in seen if not sql.startswith("SELECT")]


def test_a_naive_time_is_refused_as_before(engine: Engine) -> None:
    naive = datetime(2026, 11, 25, 12, 0, 0)
    with pytest.raises(StatementError, match="naive datetime"), transaction(engine) as session:
        outbox.enqueue(session, [(1, ref(1), {"dpa": "v"})], now=naive)
    with pytest.raises(StatementError, match="naive datetime"), transaction(engine) as session:
        outbox.mark_delivered(session, receipts={1: None}, now=naive)
