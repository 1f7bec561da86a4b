"""Alembic environment for the node's database (SQLite or PostgreSQL).

Run through :mod:`node.storage.migrate`, which sets ``sqlalchemy.url`` and,
usually, hands over an open connection in ``config.attributes["connection"]``
(the one holding PostgreSQL's migration lock). The target metadata is the
SQLModel tables of :mod:`node.storage.models`; SQLite gets batch mode, since it
cannot alter most of a table in place.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection
from sqlmodel import SQLModel

import clearinghouse.node.storage.access_models
import clearinghouse.node.storage.models  # noqa: F401  (registers the tables on SQLModel.metadata)
from clearinghouse.node.storage.db import make_engine

config = context.config
target_metadata = SQLModel.metadata


def _configure_and_run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    """Emit the SQL for the URL's dialect instead of running it (``--sql``)."""
    url = config.get_main_option("sqlalchemy.url")
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=bool(url and url.startswith("sqlite")),
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure_and_run(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("sqlalchemy.url is not set on the Alembic config")
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            _configure_and_run(connection)
            connection.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
