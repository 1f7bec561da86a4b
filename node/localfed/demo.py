"""The demo run on a running local federation: feed it, let it settle, audit every log.

:func:`run_demo` ingests each feed (:mod:`.feeds`) at its body, then waits until
every view, analysis and result has reached every participant and returns the
exact counts (:data:`COLUMNS` of each node's ``/v1/local/stats``).
:func:`audit_federation` waits until every node's latest checkpoint is cosigned by
each of its log's witnesses (all its peers up to four participants, else the k the
manifest assigns), then verifies each node's whole audit log from its API against the
manifest, as an outside auditor would (:mod:`node.audit_tool`). Both show their
progress on a console (standard error unless given). ``clearinghouse demo``, the
benchmarks and the tests drive the federation with them.

Both run under a :class:`~.supervisor.Supervisor` (one of their own unless given): a
node whose process goes down meanwhile is reported, restarted on the same config and
database, and caught up with, and the counts are the exact ones once it has. A feed is
posted in batches, each under an ``Idempotency-Key`` of this run, so that the batch a
dead node did not answer is sent again without being taken twice.
"""

from __future__ import annotations

import functools
import secrets
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from clearinghouse.node.audit_tool import AuditToolError, Summary, open_node_log, verify_log
from clearinghouse.node.importers.records_file import Item
from clearinghouse.node.localfed.federation import LocalFederation, NodeHandle
from clearinghouse.node.localfed.feeds import FEEDS, Feed, feed_items
from clearinghouse.node.localfed.supervisor import Supervisor
from clearinghouse.node.transport.local_api import NodeRefused
from clearinghouse.node.transport.records_upload import post_batches
from clearinghouse.protocol.audit import witness_name
from clearinghouse.protocol.manifest import Manifest, parse_manifest
from clearinghouse.protocol.notes import parse_checkpoint, parse_note
from clearinghouse.protocol.witnessing import witnesses_of

if TYPE_CHECKING:
    import httpx

__all__ = ["ACCESS_LOG", "COLUMNS", "audit_federation", "run_demo", "witnessed"]

#: The counts of each node's ``/v1/local/stats`` the demo reports.
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
#: Seconds between two looks at the nodes while waiting.
POLL = 0.5


@contextmanager
def _progress(console: Console) -> Iterator[Progress]:
    with Progress(
        TextColumn("{task.description:<26}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        yield progress


def _console(console: Console | None) -> Console:
    return console or Console(stderr=True, highlight=False)


def run_demo(
    federation: LocalFederation,
    *,
    records: int | None,
    feeds: tuple[Feed, ...] = FEEDS,
    batch: int = 500,
    timeout: float = 3600,
    console: Console | None = None,
    supervisor: Supervisor | None = None,
) -> dict[str, Any]:
    """Ingest each feed at its body, then wait until every view, analysis and result has
    reached every participant; return the exact counts (and ``restarts``: each node
    process that went down meanwhile and was restarted).

    Raises ``RuntimeError`` if a feed's record is refused or a node cannot be kept up,
    ``TimeoutError`` if the federation does not settle within ``timeout`` seconds, and
    what the node's API raises (:mod:`node.transport.local_api`)."""
    console = _console(console)
    supervisor = supervisor or Supervisor(federation, console=console)
    downs_before = len(supervisor.downs)
    feeds = tuple(f for f in feeds if f.participant in federation.nodes)
    loaded = [(feed, feed_items(feed, records)) for feed in feeds]
    started = time.monotonic()
    with _progress(console) as progress:
        accepted = _ingest(federation, loaded, progress, batch, supervisor)
        stats = _settle(federation, progress, timeout, supervisor)
    elapsed = time.monotonic() - started
    result: dict[str, Any] = {
        "nodes": {p: {c: s[c] for c in COLUMNS} for p, s in stats.items()},
        "records": accepted,
        "feeds": {feed.label: len(items) for feed, items in loaded},
        "views": sum(s["sent"] for s in stats.values()),
        "elapsed_s": round(elapsed, 3),
        "records_per_s": round(accepted / elapsed, 1) if elapsed else None,
        "restarts": [{"node": d.name, "how": d.how} for d in supervisor.downs[downs_before:]],
    }
    if "mission" in federation.nodes:
        mission = federation.nodes["mission"]
        summary = supervisor.call(functools.partial(_analyzer_summary, mission))
        if summary is not None:
            result["top_hotspots"] = summary.get("hotspots", [])[:5]
        result["situation_url"] = mission.url + "/ui/situation"
    return result


def _analyzer_summary(node: NodeHandle) -> dict[str, Any] | None:
    with node.api("analyst") as api:
        return api.analyzer_summary()


def _ingest(
    federation: LocalFederation,
    loaded: list[tuple[Feed, list[Item]]],
    progress: Progress,
    batch: int,
    supervisor: Supervisor,
) -> int:
    """Every feed posted at its body, all at once; how many records were accepted. A body
    with replicas gets its feed's batches spread over its processes, one stream each (a
    replica takes the batches the first process does not). Once one stream fails (or the
    run is interrupted), the others stop after their current batch."""
    tasks = {feed.label: progress.add_task(feed.label, total=len(items)) for feed, items in loaded}
    run = secrets.token_hex(6)  # this run's Idempotency-Keys: never met in an earlier run
    streams = [
        (feed, items, node, first, len(processes))
        for feed, items in loaded
        for processes in [federation.processes_of(feed.participant)]
        for first, node in enumerate(processes)
    ]

    def ingest(feed: Feed, items: list[Item], node: NodeHandle, first: int, step: int) -> int:
        task = tasks[feed.label]
        accepted, problems = 0, []
        with node.client("submitter", timeout=600) as client:
            for index in range(first, -(-len(items) // batch), step):
                if supervisor.stopping.is_set():
                    break
                chunk = items[index * batch : (index + 1) * batch]
                key = f"demo-{run}-{feed.participant}-{index}"
                n, refused = supervisor.call(
                    functools.partial(_post_batch, client, feed.schema, chunk, key)
                )
                accepted += n
                problems += refused
                progress.advance(task, len(chunk))
        if problems:
            raise RuntimeError(f"{feed.label}: {len(problems)} refused; first: {problems[0]}")
        return accepted

    with ThreadPoolExecutor(len(streams) or 1) as pool:
        futures = [pool.submit(ingest, *stream) for stream in streams]
        try:
            return sum(future.result() for future in futures)
        except BaseException:
            supervisor.stopping.set()
            raise


def _post_batch(
    client: httpx.Client, schema: str, chunk: list[Item], key: str
) -> tuple[int, list[str]]:
    """Post one batch under the Idempotency-Key ``key``; (accepted, refusals).

    Sent again after its node went down, the batch gets the answer the node kept if it
    had answered. If the node had claimed the key but died before keeping its answer
    (409, key in use for ten minutes), the batch goes again under a key of its own: the
    dead process's transaction was rolled back, unless it died in the instant between
    committing the records and keeping the answer, when records with a natural key
    (UCDP events) come back as duplicates and others would be taken a second time."""
    try:
        return post_batches(client, schema, iter(chunk), batch=len(chunk), idempotency_prefix=key)
    except NodeRefused as exc:
        if exc.status != 409:
            raise
    return post_batches(
        client, schema, iter(chunk), batch=len(chunk), idempotency_prefix=f"{key}-again"
    )


def _settle(
    federation: LocalFederation, progress: Progress, timeout: float, supervisor: Supervisor
) -> dict[str, dict[str, Any]]:
    """Wait until the federation has settled twice in a row (the nodes are read one after
    the other); the last stats. A node that went down is restarted and caught up with."""
    settle = progress.add_task("delivery and analysis", total=None)
    deadline = time.monotonic() + timeout
    calm = 0
    while True:
        calm = 0 if supervisor.check() else calm
        stats = supervisor.call(federation.all_stats)
        owed = sum(sum(s["pending"].values()) + s["analysis_queue"] for s in stats.values())
        progress.update(settle, description=f"settling: {owed:,} left")
        calm = calm + 1 if federation.settled(stats) else 0
        if calm >= 2:
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"federation not settled after {timeout:.0f}s")
        time.sleep(POLL)
    progress.update(settle, total=1, completed=1, description="delivery and analysis")
    return stats


def witnessed(federation: LocalFederation) -> bool:
    """Whether every node's latest checkpoint covers its whole log, cosigned by each of
    the witnesses the manifest assigns its log (:func:`protocol.witnessing.witnesses_of`)."""
    manifest = parse_manifest(federation.manifest_path.read_bytes())
    for p, node in federation.nodes.items():
        with node.api("auditor") as api:
            size = api.audit_size()
            try:
                note = parse_note(api.latest_checkpoint())
            except NodeRefused:
                return False
        checkpoint = parse_checkpoint(note.text)
        cosigners = {s.name for s in note.signatures} - {checkpoint.origin}
        assigned = {witness_name(manifest.federation, w) for w in witnesses_of(manifest, p)}
        if checkpoint.size != size or not assigned <= cosigners:
            return False
    return True


def audit_federation(
    federation: LocalFederation,
    *,
    timeout: float = 120,
    console: Console | None = None,
    supervisor: Supervisor | None = None,
) -> dict[str, Any]:
    """Wait for the witnesses, then verify every node's whole audit log over its API.

    Raises ``TimeoutError`` if the checkpoints are not all cosigned within ``timeout``
    seconds, ``RuntimeError`` naming a node whose log does not verify (or one that
    cannot be kept up)."""
    console = _console(console)
    supervisor = supervisor or Supervisor(federation, console=console)
    manifest = parse_manifest(federation.manifest_path.read_bytes())
    report: dict[str, Any] = {}
    with _progress(console) as progress:
        waiting = progress.add_task("witnesses cosigning the final checkpoints", total=None)
        deadline = time.monotonic() + timeout
        while not supervisor.call(functools.partial(witnessed, federation)):
            if time.monotonic() > deadline:
                raise TimeoutError(f"checkpoints not all cosigned after {timeout:.0f}s")
            supervisor.check()
            time.sleep(POLL)
        progress.update(waiting, total=1, completed=1)
        for p, node in federation.nodes.items():
            task = progress.add_task(f"verifying {p}'s audit log", total=None)
            verify = functools.partial(_verify_node_log, node, manifest, progress, task)
            try:
                summary = supervisor.call(verify)
            except AuditToolError as exc:
                raise RuntimeError(f"{p}'s audit log does not verify: {exc}") from exc
            report[p] = {
                "entries": summary.entries,
                "checkpoints": summary.checkpoints,
                "cosignatures": summary.cosignatures,
                "uncosigned": summary.uncosigned,
            }
    return report


def _verify_node_log(
    node: NodeHandle, manifest: Manifest, progress: Progress, task: TaskID
) -> Summary:
    """``node``'s whole audit log read over its API and verified (see :func:`verify_log`)."""
    with open_node_log(
        node.url, node.tokens["auditor"], manifest=manifest, participant=node.participant
    ) as log:
        progress.update(task, total=log.header.size, completed=0)
        return verify_log(log, on_progress=_completed(progress, task))


def _completed(progress: Progress, task: TaskID) -> Callable[[int], None]:
    """A progress callback that sets how much of ``task`` is done."""

    def update(done: int) -> None:
        progress.update(task, completed=done)

    return update
