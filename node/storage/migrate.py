"""Schema migrations: bring a node's database to the schema of this code (Alembic).

The schema is made only by the migrations in ``node/storage/migrations/``
(shipped as package data), never by ``metadata.create_all``. The Alembic
configuration is built here, so no ``alembic.ini`` is needed.

Several node processes may start at once on one PostgreSQL database: the whole
upgrade runs in one transaction that first takes a transaction-level advisory
lock (``pg_advisory_xact_lock``), so one process migrates while the others wait
and then find the database at head. The lock is released by the commit or
rollback, also when the process dies. PostgreSQL's DDL is transactional, so a
failed upgrade leaves nothing half done. SQLite is meant for one node process
(see :mod:`node.storage.db`) and takes no lock.

Errors: :class:`node.errors.ServiceUnavailable` when the database cannot be
reached or migrated (unknown revision, failed DDL); the cause is chained.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Engine, func, make_url, select
from sqlalchemy.exc import SQLAlchemyError

from clearinghouse.node.errors import ServiceUnavailable
from clearinghouse.node.storage.db import is_postgres, make_engine, normalise_database_url

__all__ = ["MIGRATION_LOCK_ID", "current_revision", "head_revision", "upgrade"]

#: The PostgreSQL advisory lock key held while migrating (b"Clearing" as a bigint).
MIGRATION_LOCK_ID = 0x436C656172696E67

_SCRIPT_LOCATION = Path(__file__).resolve().parent / "migrations"


def _config(database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_SCRIPT_LOCATION))
    cfg.set_main_option("path_separator", "os")
    # ConfigParser interpolates '%': escape it (URL-encoded passwords contain it).
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


def _safe(database_url: str) -> str:
    try:
        return make_url(database_url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL: say so without echoing a secret
        return "<unparsable database URL>"


@contextmanager
def _engine_for(database_url: str, engine: Engine | None) -> Iterator[Engine]:
    if engine is not None:
        yield engine
        return
    own = make_engine(database_url)
    try:
        yield own
    finally:
        own.dispose()


def upgrade(database_url: str, *, engine: Engine | None = None) -> None:
    """Migrate the database at ``database_url`` to the head revision.

    ``engine``, if given, is used instead of one made from the URL (for example
    one whose connections set a PostgreSQL ``search_path``); it is not disposed.
    Idempotent, and safe when several processes call it at once on PostgreSQL.

    Raises :class:`ServiceUnavailable` if the database cannot be reached or migrated.
    """
    url = normalise_database_url(database_url)
    cfg = _config(url)
    try:
        with _engine_for(url, engine) as eng, eng.begin() as connection:
            if is_postgres(eng):
                # Held until this transaction ends: concurrent upgrades queue here.
                connection.execute(select(func.pg_advisory_xact_lock(MIGRATION_LOCK_ID)))
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, "head")
    except (SQLAlchemyError, CommandError) as exc:
        raise ServiceUnavailable(f"database {_safe(url)}: migration failed: {exc}") from exc


def current_revision(database_url: str, *, engine: Engine | None = None) -> str | None:
    """The revision the database is at; ``None`` for a database never migrated.

    Raises :class:`ServiceUnavailable` if the database cannot be reached.
    """
    url = normalise_database_url(database_url)
    try:
        with _engine_for(url, engine) as eng, eng.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    except SQLAlchemyError as exc:
        raise ServiceUnavailable(f"database {_safe(url)}: {exc}") from exc


def head_revision() -> str:
    """The newest revision shipped with this code (what :func:`upgrade` reaches)."""
    head = ScriptDirectory.from_config(_config("sqlite://")).get_current_head()
    if head is None:  # pragma: no cover - the package ships its migrations
        raise RuntimeError("no migrations found in " + str(_SCRIPT_LOCATION))
    return head
