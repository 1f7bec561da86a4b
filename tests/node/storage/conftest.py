"""Storage fixtures: a migrated database per test, on SQLite and (when asked) PostgreSQL.

The ``database`` fixture runs each test on SQLite (a file in ``tmp_path``) and,
when ``CLEARINGHOUSE_TEST_POSTGRES_URL`` is set, again on PostgreSQL. Without
that variable the PostgreSQL cases are not generated at all (not skipped), and
this folder's tests marked ``postgres`` are deselected.

On PostgreSQL each test gets a fresh schema ``t_<random>``, selected with
``search_path`` on every connection, migrated with :func:`node.storage.migrate.upgrade`
and dropped afterwards, so tests never see each other's rows.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from clearinghouse.node.storage.db import make_engine
from clearinghouse.node.storage.migrate import upgrade
from tests.node.storage._support import Packets, TestDatabase
from tests.support import Federation

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


@pytest.fixture
def database(backend: str, tmp_path: Path) -> Iterator[TestDatabase]:
    """A database migrated to head, private to this test; dropped afterwards."""
    if backend == "sqlite":
        db = TestDatabase("sqlite", f"sqlite:///{tmp_path / 'node.db'}")
        try:
            upgrade(db.url)
            yield db
        finally:
            db.dispose()
        return

    schema = f"t_{secrets.token_hex(6)}"
    admin = make_engine(POSTGRES_URL)
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        db = TestDatabase("postgres", POSTGRES_URL, schema)
        try:
            upgrade(db.url, engine=db.engine())
            yield db
        finally:
            db.dispose()
            with admin.begin() as connection:
                connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        admin.dispose()


@pytest.fixture
def engine(database: TestDatabase) -> Engine:
    """An engine on the migrated test database (disposed with ``database``)."""
    return database.engine()


@pytest.fixture(scope="session")
def packet_factory(federation: Federation, example_records: dict[str, dict[str, Any]]) -> Packets:
    return Packets(federation, example_records)
