"""Analysis: run this node's declared analyzer on every packet queued for it.

Packets are analysed in the order they were stored (own records and accepted
views alike), in batches. For each batch, in one transaction: the analyzer's
state changes, one ``analysis_run`` per packet, one ``analysis-result/1`` packet
per analysis that found something (signed by this node, referencing its input,
with a view for every participant the results policy grants), the heads of the
findings issued, and the queue entries removed.

Findings converge (DESIGN.md, "Analysis"; :mod:`analyzers.converge`): a finding
reported again, changed, or withdrawn names in ``supersedes`` the result of this
node that carried its previous version (``finding_head``). Within one batch only
the last version of each finding is issued. Which findings a batch reports, and the
result packets that carry them, are :mod:`node.services.analysis_results`'.

A crash before the commit leaves the queue as it was and the in-memory state is
rolled back with it, so no result is lost or doubled. An analyzer that raises on
one packet has that failure recorded; the rest go on.

On PostgreSQL, replicas of one node elect a single analyst with an advisory
lock, since an analyzer's state is sequential. The lock lives as long as its
connection: the analyst checks it before each batch and elects again if it was
lost; and a batch commits only if all its packets were still queued, so two
replicas that both believe they hold the lock never both keep an analysis.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypedDict

from sqlalchemy import Connection, text
from sqlmodel import Session

from clearinghouse.analyzers.base import Analyzer, Finding, View
from clearinghouse.analyzers.converge import finding_key
from clearinghouse.analyzers.state import State
from clearinghouse.node.clock import Clock
from clearinghouse.node.context import NodeContext
from clearinghouse.node.keyring import SigningKey
from clearinghouse.node.services import acts
from clearinghouse.node.services.analysis_results import (
    findings_to_report,
    issue_result,
    new_heads,
)
from clearinghouse.node.services.recipients import policy_recipients
from clearinghouse.node.storage import analysis, auditlog, outbox, packets
from clearinghouse.node.storage.db import is_postgres, transaction
from clearinghouse.protocol.audit import Act
from clearinghouse.protocol.errors import ProtocolError
from clearinghouse.protocol.manifest import AnalyzerDeclaration
from clearinghouse.protocol.packet import IssuedPacket
from clearinghouse.protocol.results import RESULT_SCHEMA
from clearinghouse.protocol.schemas import get_schema

__all__ = [
    "ANALYSIS_LOCK_ID",
    "AnalysedElsewhere",
    "analyse_batch",
    "reload_state",
    "results_due",
    "run_analysis",
]

log = logging.getLogger("clearinghouse.analyze")
BATCH = 200
#: PostgreSQL advisory lock held by the one replica that analyses (b"Analysis").
ANALYSIS_LOCK_ID = 0x416E616C79736973
#: Seconds between attempts to take the analysis lock (held by another replica, or the
#: database unreachable).
ELECTION_RETRY_S = 5.0


class AnalysedElsewhere(RuntimeError):
    """Another replica analysed (part of) this batch first: nothing of it is kept, and
    this replica's analyzer state, now behind the database's, must be reloaded."""


class _Run(TypedDict):
    """One ``analysis_run`` row: an analysis of one packet, and the result it issued."""

    packet_id: int
    analyzer_id: str
    analyzer_version: str
    findings: int
    result_packet_id: int | None
    error: str | None
    ran_at: datetime


@dataclass
class _Analysed:
    """A batch through its steps: the packets (queue id, packet), one run each, what each
    analysis found, the findings to report (by index of the analysis), and the results
    issued (index of the analysis, result)."""

    queued: Sequence[tuple[int, analysis.QueuedPacket]]
    runs: list[_Run] = field(default_factory=list)
    found: list[list[Finding]] = field(default_factory=list)
    reported: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    results: list[tuple[int, IssuedPacket]] = field(default_factory=list)


def analyse_batch(ctx: NodeContext, limit: int = BATCH) -> int:
    """Analyse up to ``limit`` queued packets in one transaction; return how many.

    Raises :class:`AnalysedElsewhere` if another replica analysed some of them first."""
    with ctx.analysis_lock:
        return _analyse_batch(ctx, limit)


def _analyse_batch(ctx: NodeContext, limit: int) -> int:
    """The steps: analyse each packet (in a savepoint of the state); choose the findings
    to report; sign a result per analysis that reports any; then in one transaction
    store results, views, runs, state and heads, dequeue, and audit."""
    analyzer, state, declaration = ctx.analyzer, ctx.analyzer_state, ctx.analyzer_declaration
    if analyzer is None or state is None or declaration is None:
        return 0
    with transaction(ctx.engine) as session:
        queued = analysis.next_batch(session, limit)
    if not queued:
        return 0
    now = ctx.clock.now()
    batch = _analyse(analyzer, state, queued, now)
    keys = {finding_key(f) for fs in batch.found for f in fs}
    with transaction(ctx.engine) as session:
        held = analysis.heads(session, analyzer.id, keys)
    batch.reported = findings_to_report(batch.found, held)
    signing = ctx.signing  # one key for the whole batch, even if it rotates meanwhile
    _issue_results(batch, declaration, issuer=ctx.participant, signing=signing, clock=ctx.clock)
    grants = policy_recipients(ctx.manifest, get_schema(RESULT_SCHEMA), issuer=ctx.participant)
    actor, policy = acts.node_actor(ctx.participant), acts.policy_digest(ctx.manifest)
    entries = _audit_entries(batch, analyzer, actor, grants, policy, kid=signing.kid)
    changed, deleted = state.changes()
    due = results_due(now, ctx.settings.delivery.result_batch_s, ctx.results_last_due)
    try:
        with transaction(ctx.engine) as session:
            _store_results(
                session,
                batch,
                grants,
                issuer=ctx.participant,
                kid=signing.kid,
                now=now,
                due=due,
            )
            analysis.add_runs(session, batch.runs)
            analysis.save_state(session, analyzer.id, changed, deleted)
            analysis.save_heads(session, analyzer.id, new_heads(batch.results, batch.reported))
            _dequeue(session, batch)
            auditlog.append(session, entries, now=now)  # last: see auditlog.append
    except BaseException:
        state.rollback()
        raise
    state.commit()
    ctx.metrics.analyses.inc(len(queued))
    ctx.metrics.results_issued.inc(len(batch.results))
    if batch.results:
        ctx.results_last_due = due
        ctx.outbox_signal.set()
    return len(queued)


def _analyse(
    analyzer: Analyzer,
    state: State,
    queued: Sequence[tuple[int, analysis.QueuedPacket]],
    now: datetime,
) -> _Analysed:
    """Run the analyzer on each packet, each in a savepoint of its state: a packet it
    fails on is recorded with the error (its partial changes undone), the rest go on."""
    batch = _Analysed(queued)
    for _, packet in queued:
        error, findings = None, []
        try:
            with state.savepoint():
                findings = analyzer.analyze(_view(packet), state)
        except Exception as exc:  # recorded; one bad packet never stops the analysis
            error = f"{type(exc).__name__}: {exc}"
            # the message stays in the analysis record: it may quote the packet's values
            log.warning("%s failed on packet %s: %s", analyzer.id, packet.jti, type(exc).__name__)
        batch.found.append(findings)
        batch.runs.append(
            {
                "packet_id": packet.id,
                "analyzer_id": analyzer.id,
                "analyzer_version": analyzer.version,
                "findings": len(findings),
                "result_packet_id": None,
                "error": error,
                "ran_at": now,
            }
        )
    return batch


def _view(packet: analysis.QueuedPacket) -> View:
    return View(
        schema=packet.schema_id,
        issuer=packet.issuer,
        jti=packet.jti,
        digest=packet.digest,
        issued_at=packet.issued_at,
        hc=packet.hc,
        claims=packet.claims,
    )


def _issue_results(
    batch: _Analysed,
    declaration: AnalyzerDeclaration,
    *,
    issuer: str,
    signing: SigningKey,
    clock: Clock,
) -> None:
    """Sign a result for each analysis with findings to report; one that cannot be issued
    is recorded as its run's error."""
    for run_index, items in sorted(batch.reported.items()):
        packet = batch.queued[run_index][1]
        try:
            result = issue_result(
                packet,
                items,
                declaration=declaration,
                issuer=issuer,
                signing=signing,
                now=clock.now(),
            )
        except ProtocolError as exc:
            batch.runs[run_index]["error"] = f"result not issued: {exc}"
            continue
        batch.results.append((run_index, result))


def _audit_entries(
    batch: _Analysed,
    analyzer: Analyzer,
    actor: str,
    grants: Mapping[str, frozenset[str]],
    policy: str,
    *,
    kid: str,
) -> list[Act]:
    """One ``analysis.run`` entry for the batch (each packet analysed in its ``views``),
    a ``result.issued`` per result, then one ``view.queued`` per recipient listing its
    views of the results."""
    entries = [_runs_entry(actor, analyzer, batch)] if batch.queued else []
    for run_index, result in batch.results:
        input_packet = batch.queued[run_index][1]
        fields = {"digest": result.ref.digest, "input": input_packet.jti, "hc": result.hc}
        entries.append(
            Act("result.issued", actor, jti=result.ref.jti, fields={**fields, "kid": kid})
        )
    if batch.results:
        entries += [
            acts.view_queued(
                actor, peer, [acts.queued_view(r, granted) for _, r in batch.results], policy
            )
            for peer, granted in grants.items()
        ]
    return entries


def _runs_entry(actor: str, analyzer: Analyzer, batch: _Analysed) -> Act:
    """The batch's ``analysis.run``: the analyzer, and per packet analysed its jti,
    digest, issuer, findings and error (the packet also at the top level when alone)."""
    views = []
    for (_, packet), run in zip(batch.queued, batch.runs, strict=True):
        error = run["error"]
        views.append(
            {
                "jti": packet.jti,
                "digest": packet.digest,
                "issuer": packet.issuer,
                "findings": run["findings"],
                **({"error": error[:300]} if error else {}),
            }
        )
    return Act(
        "analysis.run",
        actor,
        jti=views[0]["jti"] if len(views) == 1 else None,
        fields={"analyzer": f"{analyzer.id} {analyzer.version}", "views": views},
    )


def _store_results(
    session: Session,
    batch: _Analysed,
    grants: Mapping[str, frozenset[str]],
    *,
    issuer: str,
    kid: str,
    now: datetime,
    due: datetime,
) -> None:
    """Store the results and queue their views (due for delivery at ``due``), noting each
    in its analysis's run."""
    ids = packets.add_issued(
        session, [r for _, r in batch.results], issuer=issuer, kid=kid, now=now
    )
    entries = []
    for (run_index, result), result_id in zip(batch.results, ids, strict=True):
        batch.runs[run_index]["result_packet_id"] = result_id
        views = {peer: result.view(granted) for peer, granted in grants.items()}
        entries.append((result_id, result.ref, views))
    outbox.enqueue(session, entries, now=now, due=due)


def results_due(now: datetime, interval_s: float, previous: datetime | None) -> datetime:
    """When results issued at ``now`` fall due for delivery, given when this node's
    previous results did (``previous``; None: none since it started).

    At once if those fell due ``interval_s`` or more ago (or the interval is 0): a
    result that comes alone is not held back. With the previous results still waiting,
    with them. Otherwise one interval after them. So each peer gets at most one batch of
    this node's results per interval (one request, one receipt, one ``view.sent``), each
    at most one interval late; results that come fast go together."""
    if interval_s <= 0 or previous is None:
        return now
    if now <= previous:
        return previous
    return max(now, previous + timedelta(seconds=interval_s))


def _dequeue(session: Session, batch: _Analysed) -> None:
    """Take the batch off the queue; :class:`AnalysedElsewhere` (rolling the batch back)
    unless every packet of it was still queued."""
    if analysis.dequeue(session, [qid for qid, _ in batch.queued]) != len(batch.queued):
        raise AnalysedElsewhere(
            f"{len(batch.queued)} queued packets were analysed by another replica meanwhile"
        )


def reload_state(ctx: NodeContext) -> None:
    """Load the analyzer's state afresh from the database (as committed)."""
    if ctx.analyzer is None:
        return
    with ctx.analysis_lock, transaction(ctx.engine) as session:
        ctx.analyzer_state = State(analysis.load_state(session, ctx.analyzer.id))


def _try_analysis_lock(ctx: NodeContext) -> Connection | None:
    """A connection holding the session-level analysis lock, or None if another has it."""
    connection = ctx.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    got = connection.execute(
        # Advisory locks span the whole database: the key names this participant's schema,
        # so that participants sharing a database (in schemas) each elect their analyst.
        text(
            "SELECT pg_try_advisory_lock(:key # hashtext(current_schema() || '/' || :who)::bigint)"
        ),
        {"key": ANALYSIS_LOCK_ID, "who": ctx.participant},
    ).scalar()
    if got:
        return connection
    connection.close()
    return None


def _still_held(connection: Connection) -> bool:
    """Whether the connection holding the session-level analysis lock is still open (the
    server drops the lock with the connection: a restart, pg_terminate_backend)."""
    try:
        connection.execute(text("SELECT 1"))
    except Exception:  # any failure of that connection means the lock is gone
        return False
    return True


def _close_quietly(connection: Connection) -> None:
    with contextlib.suppress(Exception):  # a connection the server already dropped
        connection.close()


async def _elect(ctx: NodeContext) -> Connection:
    """On PostgreSQL, wait until this replica holds the analysis lock, then load the
    analyzer's state as committed (another replica may have analysed meanwhile).

    A database that cannot be reached (a restart, an outage) is tried again, never
    fatal: the analysis task must outlive it."""
    while True:
        connection = None
        try:
            connection = await asyncio.to_thread(_try_analysis_lock, ctx)
            if connection is not None:
                await asyncio.to_thread(reload_state, ctx)
                return connection
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning(
                "electing the analyst failed (%s); trying again in %g s",
                type(exc).__name__,
                ELECTION_RETRY_S,
            )
            if connection is not None:
                await asyncio.to_thread(_close_quietly, connection)
        await asyncio.sleep(ELECTION_RETRY_S)


async def run_analysis(ctx: NodeContext) -> None:
    """Analyse queued packets until cancelled."""
    if ctx.analyzer is None:
        return
    lock = await _elect(ctx) if is_postgres(ctx.engine) else None
    wake = ctx.analysis_signal.subscribe()
    poll = ctx.settings.delivery.poll_interval_s
    try:
        while True:
            wake.clear()
            if lock is not None and not await asyncio.to_thread(_still_held, lock):
                # Its connection was lost and with it the lock: another replica may be
                # analysing. Elect again, then start from the state as committed.
                log.warning("analysis lock lost (its database connection closed); electing again")
                await asyncio.to_thread(_close_quietly, lock)
                lock = await _elect(ctx)
            try:
                done = await asyncio.to_thread(analyse_batch, ctx)
            except asyncio.CancelledError:
                raise
            except AnalysedElsewhere as exc:
                log.warning("%s; reloading the analyzer state", exc)
                await asyncio.to_thread(reload_state, ctx)
                done = 0
            except Exception:
                log.exception("analysis batch failed; retrying")
                done = 0
                await asyncio.sleep(poll)
            if done >= BATCH:
                continue
            try:
                await asyncio.wait_for(wake.wait(), timeout=poll)
            except TimeoutError:
                pass
    finally:
        if lock is not None:
            await asyncio.to_thread(_close_quietly, lock)
