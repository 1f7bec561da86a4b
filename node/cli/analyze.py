"""``clearinghouse analyze``: run one analyzer offline over a file of records.

Each record is issued as a real packet and cut to the view the analyzer's
participant is granted under the federation policy, exactly as it would arrive.
By default the output is the analyzer's **final findings**, those that hold once
every record has been analysed (:meth:`OfflineRun.findings`), one JSON object a
line, sorted by finding identity (kind, subject, period): for a converging
analyzer the same set of records gives byte-identical output in any order, and
every run gives the same output (pseudonyms use a fixed offline key; findings
never carry packet ids). ``--stream`` prints instead what the analyzer reported
after each record (new, changed and withdrawn findings, with the record's line),
which depends on the order of the file.

Standard error ends with what became of the file's rows: rows read, accepted and
refused by reason (:class:`~node.importers.ImportCounts`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from clearinghouse.analyzers.base import Analyzer
from clearinghouse.analyzers.converge import finding_key
from clearinghouse.analyzers.offline import OfflineRun
from clearinghouse.analyzers.registry import AnalyzerNotFound, available, load
from clearinghouse.node.cli._common import (
    CountryOption,
    fail,
    records_country,
    reporting,
    stderr,
)
from clearinghouse.node.importers import ImportCounts, ImportFailed, RowRejected
from clearinghouse.node.importers.records_file import FORMATS, Item, read_records
from clearinghouse.node.localfed.config import FEDERATION_YAML
from clearinghouse.protocol.errors import ProtocolError

__all__ = ["analyze", "final_lines"]

DEFAULT_SCHEMA = {
    "ucdp-ged": "conflict-event/1",
    "wfp-prices": "market-price/1",
    "unodc-seizures": "seizure/1",
}


def analyze(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="The records to analyse.")],
    analyzer: Annotated[
        str, typer.Option("--analyzer", help="Analyzer id, e.g. mission.security-risk.")
    ],
    format: Annotated[
        str, typer.Option("--format", help=f"One of: {', '.join(FORMATS)}.")
    ] = "jsonl",
    schema: Annotated[
        str | None, typer.Option(help="Schema of the records (default by format).")
    ] = None,
    summary: Annotated[
        Path | None, typer.Option(help="Write the analyzer's final summary here.")
    ] = None,
    federation: Annotated[
        Path, typer.Option(help="Federation config whose policy applies.")
    ] = FEDERATION_YAML,
    participant: Annotated[
        str | None, typer.Option("--as", help="Whose views (default: the id's prefix).")
    ] = None,
    issuer: Annotated[
        str | None, typer.Option(help="Who issued the records (default: another participant).")
    ] = None,
    stream: Annotated[
        bool,
        typer.Option(
            "--stream",
            help="Print what the analyzer reports after each record (with its line) "
            "instead of the final findings; depends on the order of FILE.",
        ),
    ] = False,
    country: CountryOption = None,
) -> None:
    """Print the final findings of ANALYZER on FILE as sorted JSON lines (the same for any
    order of FILE's records); with --stream, one line per record that changed findings.
    Standard error ends with rows read, accepted and refused by reason."""
    instance, schema = _analyzer(analyzer, format, schema)
    country = records_country(file, format, country)
    config = yaml.safe_load(federation.read_text())
    run = OfflineRun.start(instance, config, participant=participant, issuer=issuer)
    counts = ImportCounts()
    with reporting():
        try:
            with_findings = _analyse(
                run, read_records(file, format, schema, country=country), schema, counts, stream
            )
        except ImportFailed as exc:
            fail(exc.message)
    final = run.findings()
    if not stream:
        for text in final_lines(final):
            typer.echo(text)
    if summary:
        summary.write_text(
            json.dumps(run.summary(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        )
    stderr.print(
        f"{analyzer}: {counts.accepted} record(s) analysed as {run.participant} sees them, "
        f"{with_findings} changed the findings; {len(final)} finding(s) hold at the end",
        markup=False,
        soft_wrap=True,
    )
    for text in counts.lines():
        stderr.print(text, markup=False, soft_wrap=True)


def _analyzer(analyzer: str, format: str, schema: str | None) -> tuple[Analyzer, str]:
    """The installed analyzer ``analyzer`` and the schema of the records it gets; exit 2
    for an unknown format or analyzer, or a schema it does not take."""
    if format not in FORMATS:
        fail(f"--format must be one of {', '.join(FORMATS)}")
    schema = schema or DEFAULT_SCHEMA.get(format)
    if schema is None:
        fail(f"--schema is needed with --format {format}")
    try:
        instance = load(analyzer)
    except AnalyzerNotFound as exc:
        fail(f"{exc}; installed: {', '.join(sorted(available()))}")
    if schema not in instance.schemas:
        fail(
            f"{analyzer} does not analyse {schema} (it takes {', '.join(sorted(instance.schemas))})"
        )
    return instance, schema


def _analyse(
    run: OfflineRun, items: Iterator[Item], schema: str, counts: ImportCounts, stream: bool
) -> int:
    """Each record through the analyzer, counted; with ``stream``, what each changed
    printed. How many records changed the findings."""
    with_findings = 0
    for line, item in items:
        if isinstance(item, RowRejected):
            counts.row(item)
            stderr.print(f"refused: {item.message}", markup=False, soft_wrap=True)
            continue
        try:
            findings = next(run.run(schema, [item]))
        except ProtocolError as exc:  # e.g. a JSON record that breaks the schema
            refused = RowRejected(line, exc.message, rule=exc.code)
            counts.row(refused)
            stderr.print(f"refused: {refused.message}", markup=False, soft_wrap=True)
            continue
        counts.row(item)
        if findings:
            with_findings += 1
        if stream and findings:
            typer.echo(
                json.dumps(
                    {"line": line, "findings": [f.as_json() for f in findings]},
                    sort_keys=True,
                    ensure_ascii=False,
                )
            )
    return with_findings


def final_lines(findings: list[dict[str, Any]]) -> list[str]:
    """The findings as JSON lines, sorted by identity (kind, subject, period), then text."""
    lines = [(finding_key(f), json.dumps(f, sort_keys=True, ensure_ascii=False)) for f in findings]
    return [text for _, text in sorted(lines)]
