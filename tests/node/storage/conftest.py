"""Storage fixtures: a migrated database per test, on SQLite and (when asked) PostgreSQL.

The ``database`` fixture runs each test on every backend (``tests/conftest.py``):
SQLite, a copy in ``tmp_path`` of a database migrated once per worker, and, when
``CLEARINGHOUSE_TEST_POSTGRES_URL`` is set, PostgreSQL: a throwaway schema of its own,
selected with ``search_path`` on every connection, migrated with
:func:`node.storage.migrate.upgrade` and dropped afterwards, so tests never see each
other's rows (:mod:`tests.databases`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from clearinghouse.node.storage.migrate import upgrade
from tests.databases import POSTGRES_URL, copy_template, throwaway_schema
from tests.node.storage._support import Packets, TestDatabase
from tests.support import Federation


@pytest.fixture
def database(backend: str, tmp_path: Path, migrated_sqlite: Path) -> Iterator[TestDatabase]:
    """A database migrated to head, private to this test; dropped afterwards."""
    if backend == "sqlite":
        url = copy_template(migrated_sqlite, tmp_path / "node.db")
        db = TestDatabase("sqlite", url)
        try:
            yield db
        finally:
            db.dispose()
        return
    with throwaway_schema() as (schema, _):
        db = TestDatabase("postgres", POSTGRES_URL, schema)
        try:
            upgrade(db.url, engine=db.engine())
            yield db
        finally:
            db.dispose()


@pytest.fixture
def engine(database: TestDatabase) -> Engine:
    """An engine on the migrated test database (disposed with ``database``)."""
    return database.engine()


@pytest.fixture(scope="session")
def packet_factory(federation: Federation, example_records: dict[str, dict[str, Any]]) -> Packets:
    return Packets(federation, example_records)
