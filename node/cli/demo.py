"""``clearinghouse demo``: a whole federation on this machine, fed with real data.

Builds keys, a quorum-signed manifest and configs for mission, unodc, dpa, undp and
sanctions, starts each node as its own process on a free loopback port with its
own SQLite database, and feeds each body real data of its kind: the UCDP GED
events at ``mission``, the UNODC seizure figures at ``unodc``, the WFP Syria
staple prices at ``undp``. Every body runs its declared analyzer on what it
holds and broadcasts its results; the demo waits until every view, analysis and
result has reached every participant, and prints what each node did. Then it
waits until every node's latest audit checkpoint is cosigned by all its peers, and
verifies each node's whole audit log from its API against the manifest, as an
outside auditor would (``clearinghouse audit verify --node``). Each node logs JSON lines,
one per request included, to ``logs/<participant>.log`` in the federation's folder.

The work is the local federation library's (:mod:`node.localfed`: :func:`run_demo`,
:func:`audit_federation`); this command starts the federation and prints the tables.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from clearinghouse.node.cli._common import fail, stderr
from clearinghouse.node.keyfiles import write_secret
from clearinghouse.node.localfed import (
    ACCESS_LOG,
    COLUMNS,
    LocalFederation,
    audit_federation,
    run_demo,
)
from clearinghouse.node.transport.local_api import NodeApiError

__all__ = ["demo"]


def _audit_table(report: dict[str, Any]) -> Table:
    table = Table(
        "node",
        "entries",
        "checkpoints",
        "witnesses",
        "uncosigned",
        title="Audit logs, each recomputed and verified against its signed checkpoints",
    )
    for p, r in report.items():
        witnesses = ", ".join(f"{w} {n:,}" for w, n in r["cosignatures"].items())
        table.add_row(
            p, f"{r['entries']:,}", f"{r['checkpoints']:,}", witnesses, f"{r['uncosigned']:,}"
        )
    return table


def _table(summary: dict[str, Any]) -> Table:
    table = Table(
        "node", *(c.replace("_", " ") for c in COLUMNS), title="Clearinghouse demo federation"
    )
    for p, counts in summary["nodes"].items():
        table.add_row(p, *(f"{counts[c]:,}" for c in COLUMNS))
    totals = {c: sum(n[c] for n in summary["nodes"].values()) for c in COLUMNS}
    table.add_row("[bold]total", *(f"[bold]{totals[c]:,}" for c in COLUMNS))
    return table


def _hotspots_table(hotspots: list[dict[str, Any]]) -> Table:
    table = Table(
        "country",
        "admin1",
        "month",
        "events",
        "fatalities (best)",
        "civilian deaths",
        title="Top five hotspots (mission.security-risk)",
    )
    for h in hotspots:
        table.add_row(
            h["country"],
            h["admin1"] or "-",
            h["month"],
            f"{h['events']:,}",
            f"{h['fatalities_best']:,}",
            f"{h['civilian_deaths']:,}",
        )
    return table


def _run(federation: LocalFederation, console: Console, records: int | None) -> dict[str, Any]:
    """Feed the running federation, audit every log; print what happened; the summary."""
    result = run_demo(federation, records=records, console=stderr)
    console.print(_table(result))
    console.print(
        f"{result['records']:,} records, {result['views']:,} views delivered, "
        f"verified, stored and analysed in {result['elapsed_s']:.1f} s "
        f"({result['records_per_s']:,} records/s end to end)"
    )
    started = time.monotonic()
    result["audit"] = audit_federation(federation, console=stderr)
    result["audit_s"] = round(time.monotonic() - started, 1)
    console.print(_audit_table(result["audit"]))
    entries = sum(r["entries"] for r in result["audit"].values())
    console.print(f"{entries:,} audit entries recomputed and verified in {result['audit_s']:.1f} s")
    if result.get("top_hotspots"):
        console.print(_hotspots_table(result["top_hotspots"]))
    if result.get("situation_url"):
        console.print(
            f"common situation: {result['situation_url']} "
            f"(sign in with an analyst token; see federation.json with --dir)"
        )
    return result


def _serve(federation: LocalFederation, console: Console) -> None:
    """Keep the nodes serving until one stops or the user interrupts."""
    for p, node in federation.nodes.items():
        console.print(f"{p:10} {node.url}  (API docs: {node.url}/docs)")
    console.print("serving; press Ctrl+C to stop")
    while all(n.running for n in federation.nodes.values()):
        time.sleep(1)


def demo(
    records: Annotated[
        int | None,
        typer.Option(min=1, help="Ingest only the first N records of each feed (default: all)."),
    ] = None,
    summary: Annotated[Path | None, typer.Option(help="Write the summary JSON here.")] = None,
    dir: Annotated[
        Path | None, typer.Option("--dir", help="Build (or reuse) the federation here and keep it.")
    ] = None,
    keep_running: Annotated[
        bool, typer.Option(help="Keep the nodes serving until interrupted.")
    ] = False,
) -> None:
    """Run a whole federation on this machine with real data, analysis and results."""
    console = Console()
    if not console.is_terminal:
        console = Console(width=120)
    with tempfile.TemporaryDirectory(prefix="clearinghouse-demo-") as tmp:
        root = dir.resolve() if dir else Path(tmp)
        federation = LocalFederation(root, config_extra=ACCESS_LOG)
        federation.build()
        stderr.print(f"federation in {root}: {', '.join(federation.nodes)}")
        try:
            federation.start()
            federation.wait_ready()
            if dir:
                write_secret(
                    root / "federation.json",
                    json.dumps(federation.describe(), indent=2).encode(),
                    replace=True,
                )
                stderr.print(f"wrote {root / 'federation.json'} (0600: it holds every token)")
            result = _run(federation, console, records)
            if summary:
                summary.write_text(json.dumps(result, indent=2) + "\n")
            if keep_running:
                _serve(federation, console)
        except KeyboardInterrupt:
            stderr.print("interrupted")
        except (RuntimeError, TimeoutError) as exc:
            fail(str(exc), 1)
        except NodeApiError as exc:
            fail(exc.message, 1)
        finally:
            federation.stop()
