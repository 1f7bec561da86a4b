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
"""

from __future__ import annotations

import itertools
import json
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from clearinghouse.node.cli._common import fail, stderr
from clearinghouse.node.cli.ingest import post_batches
from clearinghouse.node.importers._errors import RowRejected
from clearinghouse.node.importers.records_file import read_records
from clearinghouse.node.keyfiles import write_secret
from clearinghouse.node.localfed import ROOT, LocalFederation
from clearinghouse.node.services.audit_bundle import AuditToolError, open_node, verify_log
from clearinghouse.protocol.manifest import parse_manifest
from clearinghouse.protocol.notes import parse_checkpoint, parse_note

__all__ = ["FEEDS", "Feed", "demo", "feed_items", "run_demo"]

DATA = ROOT / "deploy" / "examples" / "data"
EVENTS = DATA / "ucdp_ged_syria_2016_2019.csv"
COLUMNS = (
    "issued",
    "sent",
    "received",
    "accepted",
    "duplicates",
    "rejected",
    "quarantined",
    "analysed",
    "results_issued",
    "results_received",
)
#: The demo's nodes log every request (logs/<participant>.log), to show the request ids.
ACCESS_LOG = "access_log = true"
#: The staple basket of the WFP prices the demo feeds to UNDP (up to 2019, to match UCDP).
WFP_STAPLES = frozenset({"Bread (bakery)", "Wheat flour", "Rice", "Lentils", "Sugar", "Oil"})


@dataclass(frozen=True)
class Feed:
    """Real data of one kind, ingested at the body that owns it."""

    participant: str
    schema: str
    format: str
    path: Path
    label: str
    keep: Callable[[dict[str, Any]], bool] | None = None


FEEDS = (
    Feed("mission", "conflict-event/1", "ucdp-ged", EVENTS, "UCDP events at mission"),
    Feed(
        "unodc",
        "seizure/1",
        "unodc-seizures",
        DATA / "unodc_drug_seizures_2018_2022.csv",
        "UNODC seizures at unodc",
    ),
    Feed(
        "undp",
        "market-price/1",
        "wfp-prices",
        DATA / "wfp_food_prices_syr.csv.gz",
        "WFP prices at undp",
        keep=lambda r: r["date"] < "2020" and r["commodity"] in WFP_STAPLES,
    ),
)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description:<26}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=stderr,
    )


def feed_items(feed: Feed, limit: int | None) -> list[tuple[int, Any]]:
    """The first ``limit`` rows of ``feed`` the demo ingests: (line, record or RowRejected)."""
    items = (
        (line, item)
        for line, item in read_records(feed.path, feed.format, feed.schema)
        if feed.keep is None or isinstance(item, RowRejected) or feed.keep(item)
    )
    return list(itertools.islice(items, limit) if limit is not None else items)


def run_demo(
    federation: LocalFederation,
    *,
    records: int | None,
    feeds: tuple[Feed, ...] = FEEDS,
    batch: int = 500,
    timeout: float = 3600,
) -> dict[str, Any]:
    """Ingest each feed at its body, then wait until every view, analysis and result has
    reached every participant; return the exact counts."""
    feeds = tuple(f for f in feeds if f.participant in federation.nodes)
    loaded = [(feed, feed_items(feed, records)) for feed in feeds]
    started = time.monotonic()
    accepted_total = 0
    with _progress() as progress:
        tasks = {
            feed.label: progress.add_task(feed.label, total=len(items)) for feed, items in loaded
        }

        def ingest(feed: Feed, items: list[tuple[int, Any]]) -> int:
            with federation.nodes[feed.participant].client("submitter", timeout=600) as client:
                accepted, problems = post_batches(
                    client,
                    feed.schema,
                    iter(items),
                    batch=batch,
                    on_progress=lambda n: progress.advance(tasks[feed.label], n),
                )
            if problems:
                raise RuntimeError(f"{feed.label}: {len(problems)} refused; first: {problems[0]}")
            return accepted

        with ThreadPoolExecutor(len(loaded) or 1) as pool:
            accepted_total = sum(pool.map(lambda pair: ingest(*pair), loaded))
        settle = progress.add_task("delivery and analysis", total=None)
        deadline = time.monotonic() + timeout
        calm = 0  # settled twice in a row: nodes are read one after the other
        while True:
            stats = federation.all_stats()
            owed = sum(sum(s["pending"].values()) + s["analysis_queue"] for s in stats.values())
            progress.update(settle, description=f"settling: {owed:,} left")
            calm = calm + 1 if federation.settled(stats) else 0
            if calm >= 2:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"federation not settled after {timeout:.0f}s")
            time.sleep(0.5)
        progress.update(settle, total=1, completed=1, description="delivery and analysis")
    elapsed = time.monotonic() - started
    views = sum(s["sent"] for s in stats.values())
    result: dict[str, Any] = {
        "nodes": {p: {c: s[c] for c in COLUMNS} for p, s in stats.items()},
        "records": accepted_total,
        "feeds": {feed.label: len(items) for feed, items in loaded},
        "views": views,
        "elapsed_s": round(elapsed, 3),
        "records_per_s": round(accepted_total / elapsed, 1) if elapsed else None,
    }
    if "mission" in federation.nodes:
        with federation.nodes["mission"].client("analyst") as client:
            response = client.get("/v1/local/analyzer")
        if response.status_code == 200:
            result["top_hotspots"] = response.json()["summary"].get("hotspots", [])[:5]
        result["situation_url"] = federation.nodes["mission"].url + "/ui/situation"
    return result


def _witnessed(federation: LocalFederation) -> bool:
    """Whether every node's latest checkpoint covers its whole log, cosigned by every peer."""
    for node in federation.nodes.values():
        with node.client("auditor") as client:
            size = client.get("/v1/audit/entries", params={"start": 0, "end": 0}).json()["size"]
            answer = client.get("/v1/audit/checkpoint")
        if answer.status_code != 200:
            return False
        note = parse_note(answer.text)
        witnesses = {s.name for s in note.signatures} - {parse_checkpoint(note.text).origin}
        if parse_checkpoint(note.text).size != size or len(witnesses) < len(federation.nodes) - 1:
            return False
    return True


def audit_federation(federation: LocalFederation, *, timeout: float = 120) -> dict[str, Any]:
    """Wait for the witnesses, then verify every node's whole audit log over its API."""
    manifest = parse_manifest(federation.manifest_path.read_bytes())
    report: dict[str, Any] = {}
    with _progress() as progress:
        waiting = progress.add_task("witnesses cosigning the final checkpoints", total=None)
        deadline = time.monotonic() + timeout
        while not _witnessed(federation):
            if time.monotonic() > deadline:
                raise TimeoutError(f"checkpoints not all cosigned after {timeout:.0f}s")
            time.sleep(0.5)
        progress.update(waiting, total=1, completed=1)
        for p, node in federation.nodes.items():
            task = progress.add_task(f"verifying {p}'s audit log", total=None)
            try:
                with open_node(
                    node.url, node.tokens["auditor"], manifest=manifest, participant=p
                ) as log:
                    progress.update(task, total=log.header.size)
                    summary = verify_log(
                        log, on_progress=lambda n, t=task: progress.update(t, completed=n)
                    )
            except AuditToolError as exc:
                raise RuntimeError(f"{p}'s audit log does not verify: {exc}") from exc
            report[p] = {
                "entries": summary.entries,
                "checkpoints": summary.checkpoints,
                "cosignatures": summary.cosignatures,
                "uncosigned": summary.uncosigned,
            }
    return report


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
            result = run_demo(federation, records=records)
            console.print(_table(result))
            console.print(
                f"{result['records']:,} records, {result['views']:,} views delivered, "
                f"verified, stored and analysed in {result['elapsed_s']:.1f} s "
                f"({result['records_per_s']:,} records/s end to end)"
            )
            started = time.monotonic()
            result["audit"] = audit_federation(federation)
            result["audit_s"] = round(time.monotonic() - started, 1)
            console.print(_audit_table(result["audit"]))
            entries = sum(r["entries"] for r in result["audit"].values())
            console.print(
                f"{entries:,} audit entries recomputed and verified in {result['audit_s']:.1f} s"
            )
            if result.get("top_hotspots"):
                hot = Table(
                    "country",
                    "admin1",
                    "month",
                    "events",
                    "fatalities (best)",
                    "civilian deaths",
                    title="Top five hotspots (mission.security-risk)",
                )
                for h in result["top_hotspots"]:
                    hot.add_row(
                        h["country"],
                        h["admin1"] or "-",
                        h["month"],
                        f"{h['events']:,}",
                        f"{h['fatalities_best']:,}",
                        f"{h['civilian_deaths']:,}",
                    )
                console.print(hot)
            if result.get("situation_url"):
                console.print(
                    f"common situation: {result['situation_url']} "
                    f"(sign in with an analyst token; see federation.json with --dir)"
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
