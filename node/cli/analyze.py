"""``clearinghouse analyze``: run one analyzer offline over a file of records.

Each record is issued as a real packet and cut to the view the analyzer's
participant is granted under the federation policy, exactly as it would arrive;
the findings print as JSON lines. The same file gives byte-identical output on
every run (pseudonyms use a fixed offline key; findings never carry packet ids).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
import yaml

from analyzers.offline import OfflineRun
from analyzers.registry import AnalyzerNotFound, available, load
from node.cli._common import fail, reporting, stderr
from node.importers._errors import ImportFailed, RowRejected
from node.importers.records_file import FORMATS, read_records
from node.localfed import FEDERATION_YAML

__all__ = ["analyze"]

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
) -> None:
    """Print the findings of ANALYZER on FILE as JSON lines (one line per record with findings)."""
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
    config = yaml.safe_load(federation.read_text())
    run = OfflineRun.start(instance, config, participant=participant, issuer=issuer)
    analysed = with_findings = rejected = 0
    with reporting():
        try:
            for line, item in read_records(file, format, schema):
                if isinstance(item, RowRejected):
                    rejected += 1
                    stderr.print(f"skipped: {item.message}", markup=False)
                    continue
                findings = next(run.run(schema, [item]))
                analysed += 1
                if findings:
                    with_findings += 1
                    typer.echo(
                        json.dumps(
                            {"line": line, "findings": [f.as_json() for f in findings]},
                            sort_keys=True,
                            ensure_ascii=False,
                        )
                    )
        except ImportFailed as exc:
            fail(exc.message)
    if summary:
        summary.write_text(
            json.dumps(run.summary(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        )
    stderr.print(
        f"{analyzer}: {analysed} record(s) analysed as {run.participant} sees them, "
        f"{with_findings} with findings, {rejected} skipped"
    )
