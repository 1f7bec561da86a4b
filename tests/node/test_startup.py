"""Opening a node: a start refused after the database was opened keeps no connection
and no key source open (a supervisor restarting a misconfigured node would otherwise
pile them up)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from clearinghouse.node import startup
from clearinghouse.node.clock import SystemClock
from clearinghouse.node.errors import ServiceUnavailable
from clearinghouse.node.localfed import LocalFederation
from clearinghouse.node.settings import Settings, load_settings
from clearinghouse.node.storage.db import make_engine
from tests.nodes import built_federation


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory) -> LocalFederation:
    return built_federation(tmp_path_factory.mktemp("startup"), ("mission", "dpa"))


@pytest.fixture
def engines(monkeypatch: pytest.MonkeyPatch) -> list[Engine]:
    """The engines :func:`open_node` makes, kept to look at after it returned or raised."""
    made: list[Engine] = []

    def keep(url: str, **kwargs: Any) -> Engine:
        made.append(make_engine(url, **kwargs))
        return made[-1]

    monkeypatch.setattr(startup, "make_engine", keep)
    return made


def dpa_settings(fed: LocalFederation, tmp_path: Path, **overrides: Any) -> Settings:
    """dpa's settings, on a database of this test's own."""
    url = f"sqlite:///{tmp_path / 'dpa.db'}"
    return load_settings(fed.nodes["dpa"].config, run_workers=False, database_url=url, **overrides)


def test_a_key_that_does_not_fit_leaves_no_connection_open(
    fed: LocalFederation, engines: list[Engine], tmp_path: Path
) -> None:
    other = fed.root / "keys" / "mission.key.pem"  # another participant's key
    settings = dpa_settings(fed, tmp_path, key_file=other)
    with pytest.raises(ServiceUnavailable, match="key_file"):
        startup.open_node(settings, SystemClock())
    [engine] = engines
    assert engine.pool.checkedin() == 0 and engine.pool.checkedout() == 0  # type: ignore[attr-defined]


def test_a_node_that_opens_keeps_its_connections(
    fed: LocalFederation, engines: list[Engine], tmp_path: Path
) -> None:
    ctx = startup.open_node(dpa_settings(fed, tmp_path), SystemClock())
    try:
        [engine] = engines
        assert ctx.engine is engine and engine.pool.checkedin() >= 1  # type: ignore[attr-defined]
    finally:
        ctx.engine.dispose()
        ctx.key_source.close()


def test_a_node_on_sqlite_exports_its_writer_lock_figures(
    fed: LocalFederation, tmp_path: Path
) -> None:
    ctx = startup.open_node(dpa_settings(fed, tmp_path), SystemClock())
    try:
        values = {
            sample.name: sample.value
            for family in ctx.metrics.registry.collect()
            for sample in family.samples
            if sample.name.startswith("clearinghouse_db_writer_lock_")
        }
        # opening the node wrote (migrations, its trust state): through the lock
        assert values["clearinghouse_db_writer_lock_acquisitions_total"] >= 1
        assert values["clearinghouse_db_writer_lock_held_seconds_total"] > 0
        assert values["clearinghouse_db_writer_lock_wait_seconds_total"] >= 0
    finally:
        ctx.engine.dispose()
        ctx.key_source.close()
