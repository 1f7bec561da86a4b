"""PostgreSQL in the integration tests: which tests exist, and places private to one test.

Which tests (the hooks below, imported by this folder's ``conftest.py``), as in
``tests/node/storage``: a test with a ``backend`` argument runs on SQLite and, when
``CLEARINGHOUSE_TEST_POSTGRES_URL`` is set, again on PostgreSQL (a test marked
``postgres`` only there). Without that variable the PostgreSQL cases are not
generated at all, and this folder's tests marked ``postgres`` are deselected,
never skipped.

Places: a schema or a whole database. Nodes reach a schema through their
``database_url``: the server URL with ``options=-csearch_path=<schema>``, so every
connection of every process (and :func:`node.storage.migrate.upgrade`) works in
that schema only. Everything made here is dropped on exit, also when a test fails.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import pytest
from sqlalchemy import text

from clearinghouse.node.storage.db import make_engine

POSTGRES_URL = os.environ.get("CLEARINGHOUSE_TEST_POSTGRES_URL", "")
BACKENDS = ("sqlite", "postgres") if POSTGRES_URL else ("sqlite",)
_HERE = Path(__file__).resolve().parent


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" not in metafunc.fixturenames:
        return
    wanted = BACKENDS
    if metafunc.definition.get_closest_marker("postgres"):
        wanted = tuple(b for b in BACKENDS if b == "postgres")
    if wanted:  # else deselected below: never an empty (skipped) parameter set
        metafunc.parametrize("backend", wanted)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without a PostgreSQL URL, deselect this folder's PostgreSQL-only tests."""
    if POSTGRES_URL:
        return
    keep, drop = [], []
    for item in items:
        mine = _HERE in Path(str(item.path)).resolve().parents
        (drop if mine and item.get_closest_marker("postgres") else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def in_schema(url: str, schema: str) -> str:
    """``url`` with every connection's ``search_path`` set to ``schema``."""
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options={quote(f'-csearch_path={schema}')}"


def on_database(url: str, database: str) -> str:
    """``url`` with another database name (same server, user and options)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


def _admin(statement: str) -> None:
    engine = make_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text(statement))
    finally:
        engine.dispose()


@contextmanager
def private_schema(prefix: str = "it") -> Iterator[tuple[str, str]]:
    """A new schema on the test server: ``(schema, database URL in it)``; dropped after."""
    schema = f"{prefix}_{secrets.token_hex(6)}"
    _admin(f'CREATE SCHEMA "{schema}"')
    try:
        yield schema, in_schema(POSTGRES_URL, schema)
    finally:
        _admin(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def drop_schema(schema: str) -> None:
    """Drop ``schema`` and everything in it (a lost database, in a test)."""
    _admin(f'DROP SCHEMA "{schema}" CASCADE')


@contextmanager
def private_database(prefix: str = "it") -> Iterator[str]:
    """A new, empty database on the test server (its name); dropped after, with force."""
    name = f"{prefix}_{secrets.token_hex(6)}"
    _admin(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
