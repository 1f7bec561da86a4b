"""``clearinghouse demo``: a whole federation on this machine, fed with real UCDP events.

Builds keys, a quorum-signed manifest and configs for mission, unodc, dpa and undp,
starts each node as its own process on a free loopback port with its own SQLite
database, ingests the real UCDP GED events at ``mission``, waits until every view
is delivered, verified and stored, and prints what each node did.
"""

from __future__ import annotations

import itertools
import json
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from node.cli._common import fail, stderr
from node.cli.ingest import post_batches
from node.importers.records_file import read_records
from node.localfed import ROOT, LocalFederation

__all__ = ["demo", "run_demo"]

EVENTS = ROOT / "deploy" / "examples" / "data" / "ucdp_ged_syria_2016_2019.csv"
COLUMNS = ("issued", "sent", "received", "accepted", "duplicates", "rejected", "quarantined")


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description:<24}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=stderr,
    )


def run_demo(
    federation: LocalFederation, *, records: int | None, batch: int = 500, timeout: float = 1800
) -> dict[str, Any]:
    """Ingest real events at mission and wait until the federation has settled."""
    mission = federation.nodes["mission"]
    items = read_records(EVENTS, "ucdp-ged", "conflict-event/1")
    if records is not None:
        items = itertools.islice(items, records)
    items = list(items)
    started = time.monotonic()
    expected_views = 0

    def count_views(packets: list[dict[str, Any]]) -> None:
        nonlocal expected_views
        expected_views += sum(len(p["recipients"]) for p in packets)

    with _progress() as progress:
        ingest = progress.add_task("ingest at mission", total=len(items))
        with mission.client("submitter", timeout=600) as client:
            accepted, problems = post_batches(
                client,
                "conflict-event/1",
                iter(items),
                batch=batch,
                on_progress=lambda n: progress.advance(ingest, n),
                on_accepted=count_views,
            )
        if problems:
            raise RuntimeError(f"{len(problems)} records refused at ingest; first: {problems[0]}")
        deliver = progress.add_task("views delivered", total=expected_views)
        deadline = time.monotonic() + timeout
        while True:
            stats = federation.all_stats()
            delivered = stats["mission"]["sent"] + stats["mission"]["refused_by_peers"]
            progress.update(deliver, completed=delivered)
            if federation.settled(stats):
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"federation not settled after {timeout:.0f}s")
            time.sleep(0.5)
    elapsed = time.monotonic() - started
    return {
        "nodes": {p: {c: s[c] for c in COLUMNS} for p, s in stats.items()},
        "records": accepted,
        "views": expected_views,
        "elapsed_s": round(elapsed, 3),
        "records_per_s": round(accepted / elapsed, 1) if elapsed else None,
    }


def _table(summary: dict[str, Any]) -> Table:
    table = Table("node", *COLUMNS, title="Clearinghouse demo federation")
    for p, counts in summary["nodes"].items():
        table.add_row(p, *(f"{counts[c]:,}" for c in COLUMNS))
    totals = {c: sum(n[c] for n in summary["nodes"].values()) for c in COLUMNS}
    table.add_row("[bold]total", *(f"[bold]{totals[c]:,}" for c in COLUMNS))
    return table


def demo(
    records: Annotated[
        int | None, typer.Option(min=1, help="Ingest only the first N events (default: all).")
    ] = None,
    summary: Annotated[Path | None, typer.Option(help="Write the summary JSON here.")] = None,
    dir: Annotated[
        Path | None, typer.Option("--dir", help="Build (or reuse) the federation here and keep it.")
    ] = None,
    keep_running: Annotated[
        bool, typer.Option(help="Keep the nodes serving until interrupted.")
    ] = False,
) -> None:
    """Run a whole federation on this machine with the real UCDP GED events."""
    console = Console()
    if not console.is_terminal:
        console = Console(width=120)
    with tempfile.TemporaryDirectory(prefix="clearinghouse-demo-") as tmp:
        root = dir.resolve() if dir else Path(tmp)
        federation = LocalFederation(root)
        federation.build()
        stderr.print(f"federation in {root}: {', '.join(federation.nodes)}")
        try:
            federation.start()
            federation.wait_ready()
            if dir:
                (root / "federation.json").write_text(json.dumps(federation.describe(), indent=2))
                stderr.print(f"wrote {root / 'federation.json'}")
            result = run_demo(federation, records=records)
            console.print(_table(result))
            console.print(
                f"{result['records']:,} records, {result['views']:,} views delivered, "
                f"verified and stored in {result['elapsed_s']:.1f} s "
                f"({result['records_per_s']:,} records/s end to end)"
            )
            if summary:
                summary.write_text(json.dumps(result, indent=2) + "\n")
            if keep_running:
                for p, node in federation.nodes.items():
                    console.print(f"{p:10} {node.url}  (API docs: {node.url}/docs)")
                console.print("serving; press Ctrl+C to stop")
                while all(n.running for n in federation.nodes.values()):
                    time.sleep(1)
        except KeyboardInterrupt:
            stderr.print("interrupted")
        except (RuntimeError, TimeoutError) as exc:
            fail(str(exc), 1)
        finally:
            federation.stop()
