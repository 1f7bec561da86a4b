"""``clearinghouse db upgrade``: migrate a node's database to this code's schema.

Which database: ``--database-url``; else the ``database_url`` key of the
``--config`` TOML file; else ``CLEARINGHOUSE_DATABASE_URL`` (or the file that
``CLEARINGHOUSE_DATABASE_URL_FILE`` names); else ``sqlite:///clearinghouse.db``. As in
``clearinghouse run``, a relative SQLite path is taken relative to the config file's
folder when ``--config`` is given, and the password kept apart from the URL
(``CLEARINGHOUSE_DATABASE_PASSWORD`` or ``_FILE``; else the config file's
``database_password`` or ``database_password_file``) is put into it
(:mod:`node.settings_files`).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated

import typer

from clearinghouse.node.cli._common import fail
from clearinghouse.node.errors import NodeError
from clearinghouse.node.keyfiles import secret_from_env
from clearinghouse.node.settings import Settings
from clearinghouse.node.settings_files import SettingsFileError, toml_values
from clearinghouse.node.storage import migrate
from clearinghouse.node.storage.db import url_with_password
from clearinghouse.protocol.errors import KeyUnusable

__all__ = ["app"]

DEFAULT_DATABASE_URL = "sqlite:///clearinghouse.db"

app = typer.Typer(help="Manage the node's database schema.", no_args_is_help=True)


def _from_config(config: Path) -> tuple[str | None, str | None]:
    """The config file's ``database_url`` and ``database_password`` (either from a file)."""
    try:
        with config.open("rb") as f:
            data = toml_values(tomllib.load(f), Settings, config)
    except OSError as exc:
        fail(f"{config}: {exc.strerror or exc}")
    except tomllib.TOMLDecodeError as exc:
        fail(f"{config} is not TOML: {exc}")
    except SettingsFileError as exc:
        fail(str(exc))
    url, password = data.get("database_url"), data.get("database_password")
    for name, value in (("database_url", url), ("database_password", password)):
        if value is not None and not isinstance(value, str):
            fail(f"{config}: {name} must be a string")
    return url, password


def _from_environment(variable: str) -> str | None:
    try:
        return secret_from_env(variable)
    except KeyUnusable as exc:
        fail(exc.message)


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
    url, password = _from_config(config) if config else (None, None)
    url = url or _from_environment("CLEARINGHOUSE_DATABASE_URL") or DEFAULT_DATABASE_URL
    password = _from_environment("CLEARINGHOUSE_DATABASE_PASSWORD") or password
    if password:
        try:
            url = url_with_password(url, password)
        except ValueError as exc:
            fail(f"database_password: {exc}")
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
