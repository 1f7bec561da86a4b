"""What every command shares: turning errors into a message and an exit code.

Exit codes: 0 success, 1 the input was refused (a protocol error: bad signature,
schema violation, rejected manifest, ...), 2 a usage or file problem.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
import yaml
from rich.console import Console

from clearinghouse.node.keyfiles import read_token_file
from clearinghouse.protocol.errors import ProtocolError

__all__ = [
    "TOKEN_FILE_ENV",
    "TokenFileOption",
    "bearer_token",
    "fail",
    "now",
    "read_json_file",
    "read_text_arg",
    "read_yaml_file",
    "reporting",
    "stderr",
]

stderr = Console(stderr=True, highlight=False)

TOKEN_FILE_ENV = "CLEARINGHOUSE_TOKEN_FILE"

TokenFileOption = Annotated[
    Path | None,
    typer.Option(
        "--token-file",
        envvar=TOKEN_FILE_ENV,
        show_envvar=True,
        help="A file holding the bearer token (one line, or node init's tokens.json); "
        "kept off the command line; refused if every local account may read it.",
    ),
]


def now() -> datetime:
    return datetime.now(UTC)


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


def bearer_token(token: str | None, token_file: Path | None, role: str) -> str | None:
    """The token given with ``--token`` or read from ``--token-file`` (not both)."""
    if token_file is None:
        return token
    if token:
        fail("give --token or --token-file, not both")
    try:
        return read_token_file(token_file, role)
    except ProtocolError as exc:
        fail(exc.message)
