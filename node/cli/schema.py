"""``clearinghouse schema list|export``: the record schemas this code accepts."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from clearinghouse.node.cli._common import reporting
from clearinghouse.protocol.schemas import SCHEMAS, get_schema

__all__ = ["app"]

app = typer.Typer(help="List and export the record schemas (JSON Schema).", no_args_is_help=True)


@app.command("list")
def list_schemas() -> None:
    """Print each schema id and title."""
    for schema_id, spec in sorted(SCHEMAS.items()):
        typer.echo(f"{schema_id}\t{spec.title}")


@app.command()
def export(
    schema_id: Annotated[str, typer.Argument(metavar="SCHEMA", help="e.g. conflict-event/1")],
) -> None:
    """Print the JSON Schema (2020-12) of SCHEMA, with its derived claims."""
    with reporting():
        schema = get_schema(schema_id).json_schema()
    typer.echo(json.dumps(schema, indent=2, ensure_ascii=False))
