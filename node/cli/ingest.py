"""``clearinghouse ingest``: send a file of records to a node's local API, in batches.

At the end it prints what became of the file's rows (:class:`ImportCounts`): rows
read, accepted by the node, and refused by reason, whether the importer refused a
row (line, column and the codebook's reason on standard error) or the node refused
the record.

Each batch carries an ``Idempotency-Key`` derived from the file's content, the
schema, the format, the batch size and the batch's index (:func:`batch_keys`): a
re-run of the same file gets the node's first answers back (within the node's
``idempotency_retention_s``) instead of issuing the records again; after that the
node still answers records with a natural key (a UCDP event id) as duplicates.
The requests are :mod:`node.transport.records_upload`'s.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from clearinghouse.node.cli._common import (
    CountryOption,
    TokenFileOption,
    fail,
    records_country,
    require_token,
    stderr,
    token_option,
)
from clearinghouse.node.importers import ImportCounts, ImportFailed
from clearinghouse.node.importers.records_file import FORMATS, read_records
from clearinghouse.node.transport.local_api import NodeApiError, NodeUnreachable, open_client
from clearinghouse.node.transport.records_upload import post_batches

__all__ = ["TOKEN_ENV", "batch_keys", "ingest"]

#: The variable ``ingest`` reads the submitter's token from (or the file ``…_FILE`` names)
#: when neither ``--token`` nor ``--token-file`` is given.
TOKEN_ENV = "CLEARINGHOUSE_INGEST_TOKEN"


def batch_keys(file: Path, *, schema: str, format: str, batch: int) -> str:
    """The prefix of the Idempotency-Key of each batch sent from ``file``: the same for
    the same content sent the same way, so that a re-run repeats the same requests."""
    digest = hashlib.sha256(f"{schema}\n{format}\n{batch}\n".encode())
    with file.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return f"ingest-{digest.hexdigest()[:40]}"


def ingest(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="The records to ingest.")],
    node: Annotated[str, typer.Option(help="The node's base URL, e.g. http://127.0.0.1:8101.")],
    schema: Annotated[str, typer.Option(help="Schema of the records, e.g. conflict-event/1.")],
    format: Annotated[
        str, typer.Option("--format", help=f"One of: {', '.join(FORMATS)}.")
    ] = "jsonl",
    batch: Annotated[int, typer.Option(min=1, max=5000, help="Records per request.")] = 500,
    token: Annotated[str | None, token_option(TOKEN_ENV, "submitter")] = None,
    token_file: TokenFileOption = None,
    country: CountryOption = None,
) -> None:
    """Send FILE's records to a node; show progress; print rows read, accepted and
    refused by reason (exit code 1 if any row was refused)."""
    if format not in FORMATS:
        fail(f"--format must be one of {', '.join(FORMATS)}")
    if not file.is_file():
        fail(f"{file} is not a file")
    country = records_country(file, format, country)
    bearer = require_token(token, token_file, "submitter", TOKEN_ENV)
    with open_client(node.rstrip("/"), bearer, timeout=300) as client:
        columns = (
            TextColumn("[bold]ingest"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("rows"),
            TimeElapsedColumn(),
        )
        counts = ImportCounts()
        with Progress(*columns, console=stderr, transient=False) as progress:
            task = progress.add_task("ingest", total=None)
            try:
                _, problems = post_batches(
                    client,
                    schema,
                    read_records(file, format, schema, country=country),
                    batch=batch,
                    on_progress=lambda n: progress.advance(task, n),
                    counts=counts,
                    idempotency_prefix=batch_keys(file, schema=schema, format=format, batch=batch),
                )
            except ImportFailed as exc:
                fail(exc.message)
            except NodeUnreachable as exc:
                fail(f"cannot reach {node}: {exc.reason}")
            except NodeApiError as exc:  # refused, or an answer without its counts
                fail(exc.message)
    for message in problems[:20]:
        stderr.print(f"refused: {message}", markup=False, soft_wrap=True)
    if len(problems) > 20:
        stderr.print(f"... and {len(problems) - 20} more")
    for text in counts.lines():
        typer.echo(text)
    if problems:
        raise typer.Exit(1)
