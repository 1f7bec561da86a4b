"""``node.storage.sqlite_writers``: writers of one SQLite file queue on a lock in-process,
from their transaction's first write to its end; readers never take it."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from clearinghouse.node.storage.db import make_engine, transaction, writer_lock_figures
from clearinghouse.node.storage.sqlite_writers import (
    WriterQueuedConnection,
    writer_lock,
    writer_lock_stats,
)


def _connect(path: Path) -> WriterQueuedConnection:
    connection = sqlite3.connect(path, factory=WriterQueuedConnection, check_same_thread=False)
    assert isinstance(connection, WriterQueuedConnection)
    return connection


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "node.db"
    with sqlite3.connect(path) as setup:
        setup.execute("PRAGMA journal_mode=WAL")
        setup.execute("CREATE TABLE t (n INTEGER)")
    return path


def test_a_write_holds_the_lock_until_commit_and_reads_never_take_it(database: Path) -> None:
    lock = writer_lock(str(database))
    first = _connect(database)
    first.execute("SELECT count(*) FROM t").fetchall()
    assert not lock.locked()  # a read
    first.execute("INSERT INTO t VALUES (1)")
    assert lock.locked()  # the transaction's first write took it ...
    first.execute("UPDATE t SET n = 2")
    first.execute("SELECT n FROM t").fetchall()
    assert lock.locked()  # ... and keeps it to the end of the transaction
    first.commit()
    assert not lock.locked()
    first.close()


@pytest.mark.parametrize("end", ["rollback", "close", "failed statement"])
def test_the_lock_goes_back_however_the_transaction_ends(database: Path, end: str) -> None:
    lock = writer_lock(str(database))
    connection = _connect(database)
    if end == "failed statement":
        with pytest.raises(sqlite3.OperationalError):
            connection.execute("INSERT INTO no_such_table VALUES (1)")
    else:
        connection.execute("INSERT INTO t VALUES (1)")
        assert lock.locked()
        getattr(connection, end)()
    assert not lock.locked()
    if end != "close":
        connection.close()


def test_a_second_writer_waits_for_the_first_to_commit_then_goes_at_once(database: Path) -> None:
    first, second = _connect(database), _connect(database)
    first.execute("INSERT INTO t VALUES (1)")
    wrote: list[float] = []

    def write() -> None:
        second.execute("INSERT INTO t VALUES (2)")
        wrote.append(time.monotonic())
        second.commit()

    thread = threading.Thread(target=write)
    thread.start()
    time.sleep(0.3)
    assert not wrote  # queued behind the first writer's transaction
    committed = time.monotonic()
    first.commit()
    thread.join(timeout=5)
    assert wrote and wrote[0] - committed < 0.1  # no busy-handler sleep
    assert sorted(r[0] for r in first.execute("SELECT n FROM t")) == [1, 2]
    first.close()
    second.close()


def test_node_engines_queue_their_writers(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'engine.db'}")
    try:
        with transaction(engine) as session:
            session.execute(text("CREATE TABLE t (n INTEGER)"))
        lock = writer_lock(str(tmp_path / "engine.db"))
        with transaction(engine) as session:
            session.execute(text("SELECT 1"))
            assert not lock.locked()
            session.execute(text("INSERT INTO t VALUES (1)"))
            assert lock.locked()
        assert not lock.locked()
    finally:
        engine.dispose()


def test_the_lock_counts_its_takers_their_wait_and_its_holding(database: Path) -> None:
    stats = writer_lock_stats(str(database))
    first, second = _connect(database), _connect(database)
    first.execute("SELECT count(*) FROM t").fetchall()
    assert (stats.acquisitions, stats.wait_s, stats.held_s) == (0, 0.0, 0.0)  # reads: none
    first.execute("INSERT INTO t VALUES (1)")
    first.execute("INSERT INTO t VALUES (2)")  # the same transaction: taken once
    assert stats.acquisitions == 1

    def write() -> None:
        second.execute("INSERT INTO t VALUES (3)")
        second.commit()

    thread = threading.Thread(target=write)
    thread.start()
    time.sleep(0.3)
    first.commit()
    thread.join(timeout=5)
    assert stats.acquisitions == 2
    assert 0.25 <= stats.wait_s < 5  # the second writer's wait, behind the first
    assert stats.held_s >= 0.25  # the first held it while the second waited
    first.close()
    second.close()


def test_a_node_engine_names_the_figures_its_connections_add_to(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'figures.db'}")
    try:
        figures = writer_lock_figures(engine)
        assert figures is writer_lock_stats(str(tmp_path / "figures.db"))
        with transaction(engine) as session:
            session.execute(text("CREATE TABLE t (n INTEGER)"))
            session.execute(text("INSERT INTO t VALUES (1)"))
        assert figures.acquisitions >= 1 and figures.held_s > 0
    finally:
        engine.dispose()


def test_postgresql_has_no_writer_lock_figures() -> None:
    engine = make_engine("postgresql://nobody@127.0.0.1:1/none")  # never connected to
    try:
        assert writer_lock_figures(engine) is None
    finally:
        engine.dispose()
