"""The Alembic migrations make exactly the models' schema, on both databases.

Also: the revision helpers, a downgrade that undoes everything, PostgreSQL's
migration lock, and ``clearinghouse db upgrade``.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import BIGINT, Engine, func, inspect, select, text
from sqlmodel import SQLModel
from typer.testing import CliRunner

import clearinghouse.node.storage.access_models
import clearinghouse.node.storage.models  # noqa: F401  (the tables, on SQLModel.metadata)
from clearinghouse.node.cli.main import app
from clearinghouse.node.errors import ServiceUnavailable
from clearinghouse.node.storage import outbox
from clearinghouse.node.storage.db import transaction
from clearinghouse.node.storage.migrate import (
    MIGRATION_LOCK_ID,
    current_revision,
    head_revision,
    upgrade,
)
from clearinghouse.protocol.packet import PacketRef
from tests.node.storage._support import NOW, TestDatabase, downgrade_to

TABLES = {
    "packet",
    "outbox",
    "outbox_view",
    "delivery_receipt",
    "inbound_refusal",
    "seen_nonce",
    "peer_cursor",
    "node_counter",
    "audit_entry",
    "audit_entry_view",
    "audit_block",
    "audit_head",
    "audit_checkpoint",
    "audit_cosignature",
    "witnessed_log",
    "audit_alert",
    "manifest",
    "authorisation",
    "record_key",
    "idempotency_key",
}


def differences(engine: Engine) -> list[object]:
    """What autogenerate would add to a new revision: nothing, if migrations equal models."""
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, SQLModel.metadata))


def downgrade_to_base(engine: Engine) -> None:
    downgrade_to(engine, "base")


def test_the_migrated_schema_equals_the_models(database: TestDatabase, engine: Engine) -> None:
    assert differences(engine) == []
    assert TABLES <= set(inspect(engine).get_table_names())


def test_the_comparison_would_see_a_missing_index(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(text("DROP INDEX ix_outbox_feed"))
    assert [d[0] for d in differences(engine)] == ["add_index"]  # type: ignore[index]


def test_revisions(database: TestDatabase, engine: Engine) -> None:
    assert head_revision() == "0014"
    assert current_revision(database.url, engine=engine) == head_revision()
    upgrade(database.url, engine=engine)  # already at head: nothing to do
    assert current_revision(database.url, engine=engine) == head_revision()


def test_downgrade_removes_everything_and_upgrade_restores_it(
    database: TestDatabase, engine: Engine
) -> None:
    downgrade_to_base(engine)
    assert set(inspect(engine).get_table_names()) == {"alembic_version"}
    assert current_revision(database.url, engine=engine) is None
    upgrade(database.url, engine=engine)
    assert current_revision(database.url, engine=engine) == head_revision()
    assert differences(engine) == []


def test_ids_are_bigint_on_postgres_and_rowid_on_sqlite(
    database: TestDatabase, engine: Engine
) -> None:
    with transaction(engine) as session:
        views = {"a": "v", "b": "v"}
        outbox.enqueue(session, [(2**40, PacketRef("j", "d"), views)], now=NOW)
    columns = {
        table: {c["name"]: c for c in inspect(engine).get_columns(table)}
        for table in ("packet", "outbox", "inbound_refusal")
    }
    with engine.connect() as connection:
        if database.backend == "postgres":
            for table, cols in columns.items():
                assert isinstance(cols["id"]["type"], BIGINT), table
            kinds = connection.execute(
                text(
                    "SELECT data_type FROM information_schema.columns "
                    "WHERE table_schema = current_schema() "
                    "AND (column_name LIKE '%\\_at' OR column_name = 'lease_until')"
                )
            ).scalars()
            assert set(kinds) == {"timestamp with time zone"}
        else:
            for table in columns:
                info = connection.execute(text(f"PRAGMA table_info({table})")).all()
                assert [(r.name, r.type, r.pk) for r in info if r.pk] == [("id", "INTEGER", 1)]
            # INTEGER PRIMARY KEY is the rowid: SQLite numbers rows itself
            rows = connection.execute(text("SELECT id, rowid AS r, packet_id FROM outbox")).all()
            assert [(r.id, r.r) for r in rows] == [(1, 1), (2, 2)]
            assert rows[0].packet_id == 2**40


@pytest.mark.postgres
def test_concurrent_upgrades_wait_for_the_migration_lock(database: TestDatabase) -> None:
    """Upgraders queue on the advisory lock; then one migrates and the other finds head."""
    engine = database.engine()
    downgrade_to_base(engine)
    upgraders = [database.engine(), database.engine()]
    started = threading.Barrier(3)

    def run(e: Engine) -> None:
        started.wait()
        upgrade(database.url, engine=e)

    with engine.connect() as holder, ThreadPoolExecutor(2) as pool:
        holder.execute(select(func.pg_advisory_lock(MIGRATION_LOCK_ID)))
        holder.commit()
        futures = [pool.submit(run, e) for e in upgraders]
        started.wait()
        time.sleep(0.5)
        assert not any(f.done() for f in futures), "an upgrade ran without the lock"
        assert current_revision(database.url, engine=engine) is None
        holder.execute(select(func.pg_advisory_unlock(MIGRATION_LOCK_ID)))
        holder.commit()
        for future in futures:
            future.result(timeout=60)
    assert current_revision(database.url, engine=engine) == head_revision()
    assert differences(engine) == []


def test_an_unreachable_database_is_a_service_error() -> None:
    with pytest.raises(ServiceUnavailable, match="migration failed") as info:
        upgrade("postgresql://someone:secret@127.0.0.1:1/nothing")
    assert "secret" not in str(info.value) and "someone:***@127.0.0.1:1" in str(info.value)
    with pytest.raises(ServiceUnavailable):
        current_revision("postgres://someone:secret@127.0.0.1:1/nothing")


# clearinghouse db upgrade ----------------------------------------------------------------

runner = CliRunner()


def db_upgrade(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["db", "upgrade", *args])
    return result.exit_code, result.stdout, result.stderr


def revision_of(path: Path) -> str | None:
    return current_revision(f"sqlite:///{path}")


def test_cli_upgrades_the_given_database(tmp_path: Path) -> None:
    code, out, err = db_upgrade("--database-url", f"sqlite:///{tmp_path / 'a.db'}")
    assert (code, out, err) == (0, head_revision() + "\n", "")
    assert revision_of(tmp_path / "a.db") == head_revision()
    assert db_upgrade("--database-url", f"sqlite:///{tmp_path / 'a.db'}")[0] == 0


def test_cli_reads_the_config_file_relative_to_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf_dir, elsewhere = tmp_path / "conf", tmp_path / "elsewhere"
    conf_dir.mkdir()
    elsewhere.mkdir()
    config = conf_dir / "node.toml"
    config.write_text('participant = "dpa"\ndatabase_url = "sqlite:///node.db"\n')
    monkeypatch.chdir(elsewhere)
    monkeypatch.setenv("CLEARINGHOUSE_DATABASE_URL", f"sqlite:///{tmp_path / 'env.db'}")
    assert db_upgrade("--config", str(config))[0] == 0
    assert revision_of(conf_dir / "node.db") == head_revision()
    assert not (elsewhere / "node.db").exists() and not (tmp_path / "env.db").exists()
    # --database-url wins over the file
    code, _, _ = db_upgrade("--config", str(config), "--database-url", f"sqlite:///{tmp_path}/b.db")
    assert code == 0 and revision_of(tmp_path / "b.db") == head_revision()


def test_cli_falls_back_to_the_environment_then_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert db_upgrade()[0] == 0
    assert revision_of(tmp_path / "clearinghouse.db") == head_revision()
    monkeypatch.setenv("CLEARINGHOUSE_DATABASE_URL", f"sqlite:///{tmp_path / 'env.db'}")
    no_url = tmp_path / "no-url.toml"
    no_url.write_text('participant = "dpa"\n')
    assert db_upgrade("--config", str(no_url))[0] == 0
    assert revision_of(tmp_path / "env.db") == head_revision()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--database-url", "postgresql://u:pw@127.0.0.1:1/x"], "migration failed"),
        (["--config", "missing.toml"], "missing.toml"),
        (["--config", "bad.toml"], "not TOML"),
        (["--config", "number.toml"], "database_url must be a string"),
    ],
)
def test_cli_errors_exit_2_with_a_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.toml").write_text("database_url = \n")
    (tmp_path / "number.toml").write_text("database_url = 5\n")
    code, out, err = db_upgrade(*args)
    assert code == 2 and out == ""
    assert "error:" in err and message in err and "Traceback" not in err
    assert "pw@" not in err
