"""Database engines: SQLite (embedded default, WAL) or PostgreSQL, from one URL.

``postgresql://`` and ``postgres://`` URLs are normalised to the psycopg 3
driver. SQLite connections get WAL, a busy timeout and foreign keys; they are
meant for one node process (several replicas need PostgreSQL). Errors never
quote SQL parameters (``hide_parameters``). A new SQLite file is created 0600
before SQLite opens it (its ``-wal`` and ``-shm`` files take the same mode): it
holds every record the node received.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.exc import ArgumentError
from sqlmodel import Session

from clearinghouse.node.storage.sqlite_writers import (
    LOCK_TIMEOUT_S,
    WriterLockStats,
    WriterQueuedConnection,
    writer_lock_stats,
)

__all__ = [
    "MAX_INT",
    "is_postgres",
    "make_engine",
    "normalise_database_url",
    "transaction",
    "url_with_password",
    "writer_lock_figures",
]

#: The largest integer a column holds (SQLite INTEGER, PostgreSQL BIGINT). No id, size or
#: cursor is beyond it, and a query with a larger one fails (OverflowError): the API refuses
#: such numbers in its parameters (422).
MAX_INT = 2**63 - 1


def normalise_database_url(url: str) -> str:
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def url_with_password(url: str, password: str) -> str:
    """``url`` with ``password`` as its password, escaped as a URL needs it (``@``,
    ``:``, ``/``, ``%`` and the rest), so that the password can be kept apart from the URL.

    A URL that holds this very password already is returned as it is (settings
    validated again); :class:`ValueError` if ``url`` is not a URL, is SQLite's (which
    has no password) or holds another password."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ValueError(f"not a database URL: {exc}") from exc
    if parsed.get_backend_name() == "sqlite":
        raise ValueError("a SQLite database takes no password")
    if parsed.password == password:
        return url
    if parsed.password is not None:
        raise ValueError("the URL holds a password already; give the password in one place")
    return parsed.set(password=password).render_as_string(hide_password=False)


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def writer_lock_figures(engine: Engine) -> WriterLockStats | None:
    """How this process's writers used the writer lock of ``engine``'s SQLite database
    (:mod:`.sqlite_writers`); None on PostgreSQL, which has no such lock."""
    if engine.dialect.name != "sqlite":
        return None
    # the file name the driver is given, which is what the connections key their lock by
    args, _ = engine.dialect.create_connect_args(engine.url)
    return writer_lock_stats(str(args[0]))


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``. SQL parameters are left out of its errors (and logging):
    they hold packet text and record values, which must never reach a log."""
    url = normalise_database_url(url)
    kwargs.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        _create_private_file(make_url(url).database)
        engine = create_engine(
            url,
            connect_args={
                "check_same_thread": False,
                "timeout": LOCK_TIMEOUT_S,
                # writers queue on a lock, not in SQLite's sleeping busy handler
                "factory": WriterQueuedConnection,
            },
            **kwargs,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10, **kwargs)


def _create_private_file(database: str | None) -> None:
    """Create an SQLite database file readable by its owner only, if it does not exist."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    try:
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    except OSError:
        pass  # no such folder, read-only place: SQLite itself names the problem on connect


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """A session whose work commits on success and rolls back on any error.

    On SQLite the driver (pysqlite) opens the transaction at its first ``INSERT``,
    ``UPDATE`` or ``DELETE``, not at its first read: reads before it take no snapshot,
    so that write never upgrades a stale read (which SQLite refuses at once with
    "database is locked", whatever the busy timeout) and never waits on readers, and a
    read never waits on a writer (WAL). Opening every transaction with a deferred
    ``BEGIN`` would bring that refusal, and ``BEGIN IMMEDIATE`` would make every read
    take the write lock; ``tests/node/storage/test_transactions.py`` holds both off."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
