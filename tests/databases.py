"""Databases private to one test: a SQLite file, or a PostgreSQL schema or database.

Which backends a test runs on: SQLite always, and PostgreSQL as well when
``CLEARINGHOUSE_TEST_POSTGRES_URL`` names a server (:data:`BACKENDS`). A test (or
fixture) that takes a ``backend`` argument is run once per backend by the hooks in
``tests/conftest.py``; a test marked ``postgres`` runs on PostgreSQL only and, without
a server, is deselected (never skipped).

PostgreSQL places are made on that server and dropped afterwards, also when a test
fails: :func:`throwaway_schema` (every connection of every process reaches it
through the database URL's ``options=-csearch_path=<schema>``) and
:func:`throwaway_database`. Their names carry the pytest-xdist worker (``gw0``…) and
a random part, so tests running in parallel, and a run that died before dropping
its places, never collide; the server's ``public`` schema is never touched.

SQLite databases migrated to head are copies of one template file migrated once
per worker (:func:`sqlite_template`): copying a file is several times faster than
migrating a new database for each test or node, and gives the same database.
"""

from __future__ import annotations

import functools
import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import pytest
from sqlalchemy import Engine, text

from clearinghouse.node.storage.db import make_engine
from clearinghouse.node.storage.migrate import upgrade

__all__ = [
    "BACKENDS",
    "POSTGRES_URL",
    "copy_template",
    "drop_schema",
    "in_schema",
    "node_database",
    "on_database",
    "sqlite_template",
    "throwaway_database",
    "throwaway_schema",
    "unique_name",
]

POSTGRES_URL = os.environ.get("CLEARINGHOUSE_TEST_POSTGRES_URL", "")
#: The backends every ``backend`` test runs on (PostgreSQL only with a server).
BACKENDS: tuple[str, ...] = ("sqlite", "postgres") if POSTGRES_URL else ("sqlite",)


def unique_name(prefix: str) -> str:
    """A schema or database name no other test, worker or run uses: ``prefix``, the
    xdist worker (``main`` without xdist) and 48 random bits."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    return f"{prefix}_{worker}_{secrets.token_hex(6)}"


def in_schema(url: str, schema: str) -> str:
    """``url`` with every connection's ``search_path`` set to ``schema``."""
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options={quote(f'-csearch_path={schema}')}"


def on_database(url: str, database: str) -> str:
    """``url`` with another database name (same server, user and options)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


@functools.cache
def _admin() -> Engine:
    """One autocommit engine on the test server per process (CREATE/DROP DATABASE cannot
    run inside a transaction)."""
    return make_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")


def _execute(statement: str) -> None:
    with _admin().connect() as connection:
        connection.execute(text(statement))


@contextmanager
def throwaway_schema(prefix: str = "t") -> Iterator[tuple[str, str]]:
    """A new, empty schema on the test server: ``(schema, database URL in it)``; dropped
    afterwards with everything in it."""
    schema = unique_name(prefix)
    _execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield schema, in_schema(POSTGRES_URL, schema)
    finally:
        _execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def drop_schema(schema: str) -> None:
    """Drop ``schema`` and everything in it now (a lost database, in a test)."""
    _execute(f'DROP SCHEMA "{schema}" CASCADE')


@contextmanager
def throwaway_database(prefix: str = "t") -> Iterator[str]:
    """A new, empty database on the test server (its name); dropped afterwards, with
    force (connections a killed node left behind are ended)."""
    name = unique_name(prefix)
    _execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        _execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


_TEMPLATES: dict[Path, Path] = {}


def sqlite_template(factory: pytest.TempPathFactory) -> Path:
    """A SQLite database migrated to head, made once per worker and test session (in its
    temporary folder); copy it with :func:`copy_template`, never write to it."""
    base = factory.getbasetemp()
    if base not in _TEMPLATES:
        path = factory.mktemp("migrated-template") / "node.db"
        upgrade(f"sqlite:///{path}")  # its engine is disposed: the WAL is checkpointed
        _TEMPLATES[base] = path
    return _TEMPLATES[base]


def copy_template(template: Path, path: Path) -> str:
    """``template`` copied to ``path`` (owner-only, as the node makes SQLite files); its URL."""
    shutil.copyfile(template, path)
    path.chmod(0o600)
    return f"sqlite:///{path}"


@contextmanager
def node_database(backend: str, folder: Path, template: Path | None = None) -> Iterator[str]:
    """The database URL of one node: ``folder/node.db`` on SQLite (a copy of ``template``
    if given, else a file the node creates and migrates), or a throwaway PostgreSQL
    schema (empty: the node migrates it when it opens)."""
    if backend == "sqlite":
        path = folder / "node.db"
        yield copy_template(template, path) if template is not None else f"sqlite:///{path}"
        return
    with throwaway_schema() as (_, url):
        yield url
