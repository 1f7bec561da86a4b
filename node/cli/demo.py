"""``clearinghouse demo``: a whole federation on this machine, fed with real data.

Builds keys, a quorum-signed manifest and configs for mission, unodc, dpa, undp and
sanctions, starts each node as its own process on a free loopback port with its
own SQLite database, and feeds each body real data of its kind: the UCDP GED
events at ``mission``, the UNODC seizure figures at ``unodc``, the WFP Syria
staple prices at ``undp``. Every body runs its declared analyzer on what it
holds and broadcasts its results; the demo waits until every view, analysis and
result has reached every participant, and prints what each node did. Then it
waits until every node's latest audit checkpoint is cosigned by its log's witnesses, and
verifies each node's whole audit log from its API against the manifest, as an
outside auditor would (``clearinghouse audit verify --node``). Each node logs JSON lines,
one per request included, to ``logs/<participant>.log`` in the federation's folder,
and ``federation.json`` there (0600) holds each node's URL and tokens.

A node whose process goes down meanwhile is named, restarted on the same config and
database, and caught up with (:class:`~node.localfed.Supervisor`); the counts printed
are the exact ones once it has. Without ``--keep-running`` the nodes stop when the work
is done (for scripts and tests). With it (``make demo`` passes it) they keep serving
until Ctrl+C or SIGTERM, and the demo prints the folder, where the tokens are, the
situation page's URL and a one-click sign-in to it as the analyst: a single-use link,
valid for minutes, that the demo asks mission for with its admin token
(``POST /v1/local/sign-in-links``). Ctrl+C stops every node, with no traceback.

The work is the local federation library's (:mod:`node.localfed`: :func:`run_demo`,
:func:`audit_federation`); this command starts the federation and prints the tables.
"""

from __future__ import annotations

import json
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
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
    Supervisor,
    audit_federation,
    run_demo,
    serve_until_stopped,
    sign_in_link,
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


def _run(
    federation: LocalFederation, console: Console, records: int | None, supervisor: Supervisor
) -> dict[str, Any]:
    """Feed the running federation, audit every log; print what happened; the summary."""
    result = run_demo(federation, records=records, console=stderr, supervisor=supervisor)
    console.print(_table(result))
    console.print(
        f"{result['records']:,} records, {result['views']:,} views delivered, "
        f"verified, stored and analysed in {result['elapsed_s']:.1f} s "
        f"({result['records_per_s']:,} records/s end to end)"
    )
    for restart in result["restarts"]:
        console.print(f"node {restart['node']} went down ({restart['how']}) and was restarted")
    started = time.monotonic()
    result["audit"] = audit_federation(federation, console=stderr, supervisor=supervisor)
    result["audit_s"] = round(time.monotonic() - started, 1)
    console.print(_audit_table(result["audit"]))
    entries = sum(r["entries"] for r in result["audit"].values())
    console.print(f"{entries:,} audit entries recomputed and verified in {result['audit_s']:.1f} s")
    if result.get("top_hotspots"):
        console.print(_hotspots_table(result["top_hotspots"]))
    return result


def _serve(
    federation: LocalFederation, supervisor: Supervisor, console: Console, *, temporary: bool
) -> None:
    """Print where everything is and a one-click sign-in, then keep the nodes serving
    (restarting any that goes down) until Ctrl+C."""
    console.print()
    for p, node in federation.nodes.items():
        console.print(f"{p:10} {node.url}  (API docs: {node.url}/docs)")
    root = federation.root
    console.print(
        f"federation folder: {root}"
        + (" (a temporary folder, removed when the demo stops)" if temporary else ""),
        soft_wrap=True,
    )
    console.print(
        f"tokens: {root / 'federation.json'} (each node's URL and its token for each role)",
        soft_wrap=True,
    )
    if "mission" in federation.nodes:
        mission = federation.nodes["mission"]
        link = sign_in_link(mission, "analyst")
        until = link.expires_at.astimezone().strftime("%H:%M:%S")
        console.print(f"[bold]common situation:[/] {mission.url}/ui/situation")
        console.print(
            f"[bold]sign in as {link.token} with one click[/] (the link works once, "
            f"until {until}; later, sign in there with the {link.token} token): {link.url}",
            soft_wrap=True,
        )
    console.print("[bold]serving; press Ctrl+C to stop[/]")
    try:
        serve_until_stopped(supervisor, threading.Event())
    except KeyboardInterrupt:  # Ctrl+C or SIGTERM: the end this mode waits for
        return


@contextmanager
def _interruptible() -> Iterator[None]:
    """Ctrl+C (SIGINT) and SIGTERM end the demo alike: the nodes are stopped, none is left
    running. SIGINT is taken even where it was ignored (a shell's background job), since
    ``--keep-running`` serves until it comes."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = {s: signal.signal(s, interrupt) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _stop(federation: LocalFederation) -> None:
    """Stop every node (each has a few seconds to finish); a second Ctrl+C meanwhile is
    ignored, so that no node is left half stopped."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        running = any(node.running for node in federation.processes())
        if running:
            stderr.print("stopping the nodes")
        federation.stop()
        if running:
            stderr.print("every node stopped")
    finally:
        signal.signal(signal.SIGINT, previous)


def _describe(federation: LocalFederation) -> None:
    path = federation.root / "federation.json"
    write_secret(path, json.dumps(federation.describe(), indent=2).encode(), replace=True)
    stderr.print(f"wrote {path} (0600: it holds every token)")


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
        bool,
        typer.Option(
            help="After the work, keep the nodes serving until Ctrl+C, with a one-click "
            "sign-in to the situation page."
        ),
    ] = False,
) -> None:
    """Run a whole federation on this machine with real data, analysis and results."""
    console = Console()
    if not console.is_terminal:
        console = Console(width=120)
    with tempfile.TemporaryDirectory(prefix="clearinghouse-demo-") as tmp:
        root = dir.resolve() if dir else Path(tmp)
        federation = LocalFederation(root, config_extra=ACCESS_LOG)
        supervisor = Supervisor(federation, console=stderr)
        try:
            with _interruptible():
                federation.build()
                stderr.print(f"federation in {root}: {', '.join(federation.nodes)}")
                federation.start()
                supervisor.wait_ready()
                _describe(federation)
                result = _run(federation, console, records, supervisor)
                if summary:
                    summary.write_text(json.dumps(result, indent=2) + "\n")
                if keep_running:
                    _serve(federation, supervisor, console, temporary=dir is None)
                elif result.get("situation_url"):
                    console.print(
                        f"common situation: {result['situation_url']} (the nodes stop now; "
                        "--keep-running keeps them serving, with a one-click sign-in)",
                        soft_wrap=True,
                    )
        except KeyboardInterrupt:
            stderr.print("interrupted")
        except (RuntimeError, TimeoutError) as exc:
            fail(str(exc), 1)
        except NodeApiError as exc:
            fail(exc.message, 1)
        finally:
            supervisor.stopping.set()
            _stop(federation)
