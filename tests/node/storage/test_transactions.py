"""``node.storage.db.transaction`` with two writers on one database, on each backend.

A node's threads (ingest, delivery, analysis, witnessing, each peer request) write to
the one database at once, and most transactions read before they write. Neither may
cost a request its answer: a transaction that read first must still write after
another one committed meanwhile, and a writer must wait for another writer's lock
rather than fail.

On SQLite this holds because a transaction takes no snapshot before its first write
(the driver opens the transaction at its first ``INSERT``, ``UPDATE`` or ``DELETE``),
so a write never has to upgrade a stale read, which SQLite refuses at once ("database
is locked", the busy timeout not applied), and a read never waits for a writer (WAL).
Both tests fail if every transaction were opened at its start instead (SQLAlchemy's
pysqlite "BEGIN" recipe): with a deferred ``BEGIN`` the write after the read is refused
at once; with ``BEGIN IMMEDIATE`` a transaction that only read so far holds the write
lock, so the other writer waits out its busy timeout and a read waits for every writer.
See :func:`node.storage.db.transaction`.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import Engine

from clearinghouse.node.storage import peers
from clearinghouse.node.storage.db import transaction
from tests.node.storage._support import TestDatabase

COUNTER = "writes"


def add_one(engine: Engine) -> None:
    with transaction(engine) as session:
        peers.add_to_counter(session, COUNTER)


def count(engine: Engine) -> int:
    with transaction(engine) as session:
        return peers.counters(session).get(COUNTER, 0)


def test_a_transaction_that_read_first_writes_after_another_one_committed(
    database: TestDatabase,
) -> None:
    mine, theirs = database.engine(), database.engine()  # two connection pools
    with transaction(mine) as session:
        assert peers.counters(session).get(COUNTER, 0) == 0  # read first
        add_one(theirs)  # another writer commits meanwhile
        peers.add_to_counter(session, COUNTER)  # then write: no "database is locked"
    assert count(mine) == 2


def test_a_writer_waits_for_another_writers_lock(database: TestDatabase) -> None:
    engine = database.engine()
    holding, release = threading.Event(), threading.Event()

    def hold_the_write_lock() -> None:
        with transaction(engine) as session:
            peers.add_to_counter(session, COUNTER)  # written, not committed yet
            holding.set()
            assert release.wait(timeout=30)

    with ThreadPoolExecutor(1) as pool:
        held = pool.submit(hold_the_write_lock)
        assert holding.wait(timeout=30)
        with transaction(engine) as session:
            assert peers.counters(session).get(COUNTER, 0) == 0  # not committed yet
            threading.Timer(0.5, release.set).start()  # it commits in half a second
            peers.add_to_counter(session, COUNTER)  # meanwhile this waits for the lock
        held.result(timeout=30)
    assert count(engine) == 2
