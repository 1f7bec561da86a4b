"""Database engines: a new SQLite file (and its WAL files) is readable by its owner only."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from sqlalchemy import text

from clearinghouse.node.storage.db import make_engine


def test_a_new_sqlite_database_is_created_0600_with_its_wal_files(tmp_path: Path) -> None:
    old_umask = os.umask(0o022)  # the usual default, which would make it 0644
    try:
        engine = make_engine(f"sqlite:///{tmp_path / 'node.db'}")
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE t (a INTEGER)"))
            connection.execute(text("INSERT INTO t VALUES (1)"))
            modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}
        engine.dispose()
    finally:
        os.umask(old_umask)
    assert modes["node.db"] == 0o600
    assert modes.get("node.db-wal", 0o600) == 0o600 and modes.get("node.db-shm", 0o600) == 0o600
    assert "node.db-wal" in modes  # WAL was used, so its mode was checked too


def test_an_existing_database_keeps_its_mode_and_content(tmp_path: Path) -> None:
    path = tmp_path / "node.db"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (a INTEGER)"))
        connection.execute(text("INSERT INTO t VALUES (7)"))
    engine.dispose()
    path.chmod(0o640)
    again = make_engine(f"sqlite:///{path}")
    with again.connect() as connection:
        assert connection.execute(text("SELECT a FROM t")).scalar_one() == 7
    again.dispose()
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
