"""``clearinghouse db upgrade``: migrate a node's database to this code's schema.

Which database: ``--database-url``; else the ``database_url`` key of the
``--config`` TOML file; else ``CLEARINGHOUSE_DATABASE_URL``; else
``sqlite:///clearinghouse.db``. As in ``clearinghouse run``, a relative SQLite
path is taken relative to the config file's folder when ``--config`` is given.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Annotated

import typer

from clearinghouse.node.cli._common import fail
from clearinghouse.node.errors import NodeError
from clearinghouse.node.storage import migrate

__all__ = ["app"]

DEFAULT_DATABASE_URL = "sqlite:///clearinghouse.db"

app = typer.Typer(help="Manage the node's database schema.", no_args_is_help=True)


def _url_from_config(config: Path) -> str | None:
    try:
        with config.open("rb") as f:
            data = tomllib.load(f)
    except OSError as exc:
        fail(f"{config}: {exc.strerror or exc}")
    except tomllib.TOMLDecodeError as exc:
        fail(f"{config} is not TOML: {exc}")
    value = data.get("database_url")
    if value is not None and not isinstance(value, str):
        fail(f"{config}: database_url must be a string")
    return value


def _rebase_sqlite(url: str, base: Path) -> str:
    """``sqlite:///rel.db`` relative to ``base`` (as ``node.settings.load_settings`` does)."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/"):
        path = url[len(prefix) :]
        if path and path != ":memory:":
            return prefix + str(base / path)
    return url


def resolve_database_url(database_url: str | None, config: Path | None) -> str:
    """The URL to migrate, by the precedence in this module's docstring."""
    if database_url:
        return database_url
    url = (_url_from_config(config) if config else None) or os.environ.get(
        "CLEARINGHOUSE_DATABASE_URL", DEFAULT_DATABASE_URL
    )
    return _rebase_sqlite(url, config.resolve().parent) if config else url


@app.command()
def upgrade(
    database_url: Annotated[
        str | None, typer.Option("--database-url", help="SQLAlchemy URL (wins over --config).")
    ] = None,
    config: Annotated[
        Path | None, typer.Option(help="Node TOML config file; its database_url key is used.")
    ] = None,
) -> None:
    """Migrate the database to the newest schema; print the revision reached."""
    url = resolve_database_url(database_url, config)
    try:
        migrate.upgrade(url)
        revision = migrate.current_revision(url)
    except NodeError as exc:
        fail(exc.detail)
    typer.echo(revision)
