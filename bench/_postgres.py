"""Private PostgreSQL databases for benchmark nodes, dropped afterwards.

One database per node on the given server, not one schema each in a shared
database: a node's analysis worker elects itself with a PostgreSQL advisory lock
(:data:`node.services.analyze.ANALYSIS_LOCK_ID`), and advisory locks are per
database, not per schema — nodes sharing a database would leave all but one of
their analyzers waiting for good.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import text

from clearinghouse.node.storage.db import make_engine

__all__ = ["on_database", "private_databases"]


def on_database(url: str, database: str) -> str:
    """``url`` with another database name (same server, user and options)."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))


def _admin(server: str, statements: Iterable[str]) -> None:
    engine = make_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            for statement in statements:
                connection.execute(text(statement))
    finally:
        engine.dispose()


@contextmanager
def private_databases(server: str, names: Iterable[str]) -> Iterator[dict[str, str]]:
    """One new database per name on ``server``: ``{name: its URL}``; dropped after."""
    suffix = secrets.token_hex(4)
    databases = {name: f"bench_{name.replace('-', '_')}_{suffix}" for name in names}
    made: list[str] = []
    try:
        for database in databases.values():
            _admin(server, [f'CREATE DATABASE "{database}"'])
            made.append(database)
        yield {name: on_database(server, d) for name, d in databases.items()}
    finally:
        _admin(server, [f'DROP DATABASE IF EXISTS "{d}" WITH (FORCE)' for d in made])
