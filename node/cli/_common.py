"""What every command shares: turning errors into a message and an exit code, and
reading a bearer token.

Exit codes: 0 success, 1 the input was refused (a protocol error: bad signature,
schema violation, rejected manifest, ...), 2 a usage or file problem.

A command that calls a node's API takes its bearer token (:func:`bearer_token`) from
the first of these that gives one:

1. ``--token-file FILE`` or ``--token TOKEN`` (not both; a token on the command line
   shows in ``ps`` and in shell history);
2. the command's own variable (``CLEARINGHOUSE_INGEST_TOKEN``, ``…_AUDIT_TOKEN``,
   ``…_ADMIN_TOKEN``, ``…_AUTHORISE_TOKEN``) or the file its ``_FILE`` form names
   (``CLEARINGHOUSE_INGEST_TOKEN_FILE``; not both);
3. the file ``CLEARINGHOUSE_TOKEN_FILE`` names, for every command.

A token file holds one line, the token, or is the ``tokens.json`` of ``clearinghouse
init`` (one token per role: the command takes its role's); it is refused if every local
account may read it (:func:`node.keyfiles.read_token_file`).
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
import yaml
from pydantic import ValidationError
from rich.console import Console

from clearinghouse.node.importers import ImportFailed, wfp
from clearinghouse.node.keyfiles import read_token_file
from clearinghouse.protocol.errors import ProtocolError

__all__ = [
    "TOKEN_FILE_ENV",
    "CountryOption",
    "TokenFileOption",
    "bearer_token",
    "fail",
    "now",
    "read_json_file",
    "read_text_arg",
    "read_yaml_file",
    "records_country",
    "reporting",
    "require_token",
    "stderr",
    "token_option",
    "token_sources",
    "validation_problems",
]

stderr = Console(stderr=True, highlight=False)

TOKEN_FILE_ENV = "CLEARINGHOUSE_TOKEN_FILE"

CountryOption = Annotated[
    str | None,
    typer.Option(
        "--country",
        metavar="ISO3",
        help="The country of a wfp-prices file that does not say it (HDX names its files "
        "wfp_food_prices_<iso3>.csv; a renamed file's prices would carry no country).",
    ),
]

TokenFileOption = Annotated[
    Path | None,
    typer.Option(
        "--token-file",
        help="A file holding the bearer token (one line, or node init's tokens.json); "
        f"refused if every local account may read it. Else ${TOKEN_FILE_ENV} names one, "
        "after the command's own variable.",
    ),
]


def token_option(env: str, role: str) -> Any:
    """The ``--token`` option of a command whose token has role ``role`` and whose own
    variable is ``env`` (read by :func:`bearer_token`, not by the option, so that the
    command line wins over the environment)."""
    return typer.Option(
        "--token",
        help=f"A bearer token of role {role}. Visible to every local account in ps and "
        f"kept in shell history: prefer --token-file, ${env}_FILE or ${env}.",
    )


def now() -> datetime:
    return datetime.now(UTC)


def validation_problems(exc: ValidationError) -> str:
    """Each field a pydantic model refused, dotted, with why: ``a.b: msg; c: msg``."""
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors(include_url=False)
    )


def records_country(file: Path, format: str, country: str | None) -> str | None:
    """``--country`` checked (ISO3, wfp-prices only), upper-cased; warns on standard error
    when a wfp-prices file's prices would carry no country (:func:`wfp.unplaced`)."""
    if country is not None:
        if format != "wfp-prices":
            fail(f"--country is for wfp-prices files, not {format}")
        if not re.fullmatch(r"[A-Za-z]{3}", country):
            fail(f"--country takes an ISO 3166-1 alpha-3 code such as SYR, not {country!r}")
        return country.upper()
    if format == "wfp-prices" and file.is_file():
        try:
            problem = wfp.unplaced(file)
        except ImportFailed as exc:
            fail(exc.message)
        if problem:
            stderr.print(f"[bold yellow]warning:[/] {problem}", markup=True, soft_wrap=True)
    return None


def fail(message: str, code: int = 2) -> NoReturn:
    stderr.print(f"[bold red]error:[/] {message}", markup=True, soft_wrap=True)
    raise typer.Exit(code)


@contextmanager
def reporting() -> Iterator[None]:
    """Map the protocol's error tree (and file errors) to a message and exit code."""
    try:
        yield
    except ProtocolError as exc:
        fail(f"{exc.code}: {exc.message}", 1)
    except OSError as exc:
        fail(f"{exc.filename or ''}: {exc.strerror or exc}", 2)


def read_text_arg(path: Path) -> str:
    """A file's text, or standard input for ``-``."""
    if str(path) == "-":
        return sys.stdin.read()
    return path.read_text()


def read_json_file(path: Path) -> Any:
    try:
        return json.loads(read_text_arg(path))
    except ValueError as exc:
        fail(f"{path} is not JSON: {exc}")


def read_yaml_file(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        fail(f"{path} is not YAML: {exc}")


def _token_from_file(path: Path, role: str, named_by: str | None = None) -> str:
    try:
        return read_token_file(path, role)
    except ProtocolError as exc:
        fail(f"{named_by}: {exc.message}" if named_by else exc.message)


def bearer_token(
    token: str | None, token_file: Path | None, role: str, env: str | None = None
) -> str | None:
    """The bearer token of ``role``: from ``--token`` or ``--token-file``, else from the
    command's variable ``env`` or the file ``{env}_FILE`` names, else from the file
    ``CLEARINGHOUSE_TOKEN_FILE`` names (the order of the module docstring); None if none
    gives one. Two places of one rank given together end the command (exit 2)."""
    if token and token_file:
        fail("give --token or --token-file, not both")
    if token:
        return token
    if token_file is not None:
        return _token_from_file(token_file, role)
    if env is not None:
        value, file = os.environ.get(env), os.environ.get(f"{env}_FILE")
        if value and file:
            fail(f"both ${env} and ${env}_FILE are set; set only one")
        if value:
            return value
        if file:
            return _token_from_file(Path(file), role, f"${env}_FILE")
    shared = os.environ.get(TOKEN_FILE_ENV)
    return _token_from_file(Path(shared), role, f"${TOKEN_FILE_ENV}") if shared else None


def token_sources(env: str) -> str:
    """Where a command whose own variable is ``env`` takes its token, for messages."""
    return (
        f"--token-file FILE, ${env}_FILE, ${env} or ${TOKEN_FILE_ENV} (or --token, which ps shows)"
    )


def require_token(token: str | None, token_file: Path | None, role: str, env: str) -> str:
    """:func:`bearer_token`, ending the command (exit 2) if no place gives one."""
    found = bearer_token(token, token_file, role, env)
    if not found:
        fail(f"give a token of role {role}: {token_sources(env)}")
    return found
