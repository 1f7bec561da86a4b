"""One writer at a time per SQLite database within a process, queued on a lock.

SQLite lets one connection write at a time. A connection that finds the database
locked by another runs SQLite's busy handler, which *sleeps* and tries again, in steps
of 1, 2, 5, 10, 15, 20, 25 ... 100 ms, however soon the lock is released. A node
writes from many threads at once (ingest, a delivery round per peer, receipts,
analysis, checkpoints, witnessing, each request's nonce), so under a steady load most
writes waited a few of those steps: `strace` of the originator at 50 records/s
counted 4,855 sleeps of 10 ms on average in 15 s, and records waited for them.

Here a connection takes its database's lock (one per file, per process) just before
its first ``INSERT``, ``UPDATE``, ``DELETE`` or ``REPLACE`` of a transaction, which is
also where pysqlite opens the transaction and SQLite takes the write lock, and gives
it back on commit, rollback or close. Another thread about to write waits on that lock
and starts the moment it is free. Reads take no lock (WAL: they never wait for a
writer). Writers in other processes (a CLI command, a second node on the same file)
still meet SQLite's busy handler, as before.

Each database's writers also add up, in a :class:`WriterLockStats`, how often they took
its lock, how long they waited for it and how long they held it (the node's metrics
``clearinghouse_db_writer_lock_*``): a lock held most of the time is a queue that
every write of the node waits in (docs/performance.md, sixth pass).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from typing import Any

__all__ = [
    "LOCK_TIMEOUT_S",
    "WriterLockStats",
    "WriterQueuedConnection",
    "writer_lock",
    "writer_lock_stats",
]


@dataclass
class WriterLockStats:
    """How this process's writers of one database used its lock since the process began.

    Only the thread holding the lock changes these, so they need no lock of their own;
    a reader (the metrics) may see one transaction's figures half added."""

    acquisitions: int = 0
    wait_s: float = 0.0
    held_s: float = 0.0


@dataclass(frozen=True)
class _Writers:
    """One database's writers in this process: the lock they queue on, and its figures."""

    lock: threading.Lock
    stats: WriterLockStats


_WRITERS: dict[str, _Writers] = {}
_WRITERS_GUARD = threading.Lock()
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")
#: The longest a writer queues here (SQLite's busy timeout on the node's connections).
LOCK_TIMEOUT_S = 30.0


def _writers(database: str) -> _Writers:
    with _WRITERS_GUARD:
        writers = _WRITERS.get(database)
        if writers is None:
            writers = _WRITERS[database] = _Writers(threading.Lock(), WriterLockStats())
        return writers


def writer_lock(database: str) -> threading.Lock:
    """The lock the writers of ``database`` (a file path) queue on in this process."""
    return _writers(database).lock


def writer_lock_stats(database: str) -> WriterLockStats:
    """The figures of :func:`writer_lock` of ``database`` in this process."""
    return _writers(database).stats


def _writes(sql: str) -> bool:
    return sql.lstrip()[:7].upper().startswith(_WRITES)


class WriterQueuedConnection(sqlite3.Connection):
    """An ``sqlite3`` connection (``sqlite3.connect(factory=...)``) whose writes queue on
    :func:`writer_lock` of its database instead of sleeping in SQLite's busy handler."""

    def __init__(self, database: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(database, *args, **kwargs)
        writers = _writers(str(database))
        self._writer_lock, self._stats = writers.lock, writers.stats
        self._holding = False
        self._held_since = 0.0

    def cursor(self, factory: Any = None) -> Any:
        return super().cursor(factory or _QueuedCursor)

    def execute(self, sql: str, *args: Any) -> Any:
        return self.cursor().execute(sql, *args)

    def executemany(self, sql: str, *args: Any) -> Any:
        return self.cursor().executemany(sql, *args)

    def before_write(self) -> None:
        # Bounded like SQLite's own busy timeout: a thread that already writes through
        # another connection (which SQLite would refuse after its timeout anyway) is
        # not held here forever; past the bound it goes on to SQLite's busy handler.
        if not self._holding:
            asked = time.perf_counter()
            self._holding = self._writer_lock.acquire(timeout=LOCK_TIMEOUT_S)
            if self._holding:
                self._held_since = time.perf_counter()
                self._stats.acquisitions += 1
                self._stats.wait_s += self._held_since - asked

    def after_statement(self) -> None:
        """A statement ended: outside a transaction (autocommitted, failed before one
        began) the lock goes back at once."""
        if self._holding and not self.in_transaction:
            self._release()

    def _release(self) -> None:
        if self._holding:
            self._holding = False
            self._stats.held_s += time.perf_counter() - self._held_since
            self._writer_lock.release()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self._release()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._release()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._release()


class _QueuedCursor(sqlite3.Cursor):
    def execute(self, sql: str, *args: Any) -> Any:
        return self._queued(super().execute, sql, args)

    def executemany(self, sql: str, *args: Any) -> Any:
        return self._queued(super().executemany, sql, args)

    def _queued(self, run: Any, sql: str, args: tuple[Any, ...]) -> Any:
        """``run(sql, *args)``, behind the writer lock when ``sql`` writes."""
        connection: WriterQueuedConnection = self.connection  # type: ignore[assignment]
        if _writes(sql):
            connection.before_write()
        try:
            return run(sql, *args)
        finally:
            connection.after_statement()
