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
the last version of each finding is issued (see :func:`_to_report`).

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
from collections.abc import Mapping
from typing import Any

from sqlalchemy import text

from clearinghouse.analyzers.base import WITHDRAWN, Analyzer, Finding, View
from clearinghouse.analyzers.converge import finding_key
from clearinghouse.analyzers.state import State
from clearinghouse.node.context import NodeContext
from clearinghouse.node.keyring import SigningKey
from clearinghouse.node.services import acts
from clearinghouse.node.storage import analysis, auditlog, outbox, packets
from clearinghouse.node.storage.db import is_postgres, transaction
from clearinghouse.protocol.audit import Act
from clearinghouse.protocol.errors import ProtocolError
from clearinghouse.protocol.manifest import AnalyzerDeclaration
from clearinghouse.protocol.packet import IssuedPacket, issue_packet
from clearinghouse.protocol.results import RESULT_SCHEMA, result_record
from clearinghouse.protocol.schemas import get_schema

__all__ = ["ANALYSIS_LOCK_ID", "analyse_batch", "reload_state", "run_analysis"]

log = logging.getLogger("clearinghouse.analyze")
BATCH = 200
#: PostgreSQL advisory lock held by the one replica that analyses (b"Analysis").
ANALYSIS_LOCK_ID = 0x416E616C79736973
#: Seconds between attempts to take the analysis lock (held by another replica, or the
#: database unreachable).
ELECTION_RETRY_S = 5.0


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


def _result(
    ctx: NodeContext,
    signing: SigningKey,
    declaration: AnalyzerDeclaration,
    packet: analysis.QueuedPacket,
    findings: list[dict[str, Any]],
) -> IssuedPacket:
    kinds = sorted({f["kind"] for f in findings})
    withdrawn = sum(1 for f in findings if f.get("status") == WITHDRAWN)
    also = f", {withdrawn} withdrawn" if withdrawn else ""
    record = result_record(
        analyzer=declaration,
        input_jti=packet.jti,
        input_digest=packet.digest,
        input_schema=packet.schema_id,
        input_issuer=packet.issuer,
        findings=findings,
        explanation=(
            f"{declaration.id} {declaration.version} found {len(findings)} thing(s){also} "
            f"({', '.join(kinds)}) in {packet.schema_id} packet {packet.jti} from {packet.issuer}"
        ),
    )
    return issue_packet(
        record,
        schema=RESULT_SCHEMA,
        issuer=ctx.participant,
        key=signing.key,
        kid=signing.kid,
        now=ctx.clock.now(),
        hc=packet.hc,
        hc_restriction=packet.hcr,
    )


def _to_report(
    found: list[list[Finding]], held: Mapping[str, analysis.Head]
) -> dict[int, list[dict[str, Any]]]:
    """Per analysis (index into ``found``), the findings to issue, each naming the result it
    supersedes.

    A finding is issued once per batch: when a later analysis of the batch reports the
    same identity (kind, subject, period) again, only that later version is issued, by
    the later analysis's result; the earlier one was superseded before it left the node.
    A withdrawal of a finding that no result of this node carries (it was never issued,
    or is withdrawn already) is not issued at all.
    """
    last: dict[str, int] = {}
    for index, findings in enumerate(found):
        for finding in findings:
            last[finding_key(finding)] = index
    out: dict[int, list[dict[str, Any]]] = {}
    for index, findings in enumerate(found):
        for finding in findings:
            key = finding_key(finding)
            if last[key] != index:
                continue
            head = held.get(key)
            if finding.status == WITHDRAWN and (head is None or head.withdrawn):
                continue
            item = finding.as_json()
            if head is not None:
                item["supersedes"] = {"jti": head.result_jti, "digest": head.result_digest}
            out.setdefault(index, []).append(item)
            last[key] = -1  # a second finding with the same key in one analysis: the first wins
    return out


def _new_heads(
    results: list[tuple[int, IssuedPacket]], reported: Mapping[int, list[dict[str, Any]]]
) -> dict[str, analysis.Head]:
    """The head of every finding the batch's results carry."""
    out: dict[str, analysis.Head] = {}
    for run_index, result in results:
        for finding in reported[run_index]:
            out[finding_key(finding)] = analysis.Head(
                result.ref.jti, result.ref.digest, finding.get("status") == WITHDRAWN
            )
    return out


class AnalysedElsewhere(RuntimeError):
    """Another replica analysed (part of) this batch first: nothing of it is kept, and
    this replica's analyzer state, now behind the database's, must be reloaded."""


def analyse_batch(ctx: NodeContext, limit: int = BATCH) -> int:
    """Analyse up to ``limit`` queued packets in one transaction; return how many."""
    with ctx.analysis_lock:
        return _analyse_batch(ctx, limit)


def _analyse_batch(ctx: NodeContext, limit: int) -> int:
    analyzer: Analyzer | None = ctx.analyzer
    state: State | None = ctx.analyzer_state
    declaration = ctx.analyzer_declaration
    if analyzer is None or state is None or declaration is None:
        return 0
    with transaction(ctx.engine) as session:
        batch = analysis.next_batch(session, limit)
    if not batch:
        return 0
    now = ctx.clock.now()
    runs: list[dict[str, Any]] = []
    found: list[list[Finding]] = []
    for _, packet in batch:
        error, findings = None, []
        try:
            with state.savepoint():
                findings = analyzer.analyze(_view(packet), state)
        except Exception as exc:  # recorded; one bad packet never stops the analysis
            error = f"{type(exc).__name__}: {exc}"
            # the message stays in the analysis record: it may quote the packet's values
            log.warning("%s failed on packet %s: %s", analyzer.id, packet.jti, type(exc).__name__)
        found.append(findings)
        runs.append(
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
    with transaction(ctx.engine) as session:
        held = analysis.heads(session, analyzer.id, {finding_key(f) for fs in found for f in fs})
    reported = _to_report(found, held)
    results: list[tuple[int, IssuedPacket]] = []  # (index into runs, result)
    signing = ctx.signing  # one key for the whole batch, even if it rotates meanwhile
    for run_index, items in sorted(reported.items()):
        packet = batch[run_index][1]
        try:
            results.append((run_index, _result(ctx, signing, declaration, packet, items)))
        except ProtocolError as exc:
            runs[run_index]["error"] = f"result not issued: {exc}"
    spec = get_schema(RESULT_SCHEMA)
    grants = {
        peer.id: ctx.manifest.sharing.granted_claims(spec, peer.id)
        for peer in ctx.peers
        if ctx.manifest.sharing.granted_claims(spec, peer.id)
    }
    changed, deleted = state.changes()
    actor, policy = acts.node_actor(ctx.participant), acts.policy_digest(ctx.manifest)
    audit_entries = [
        Act(
            "analysis.run",
            actor,
            jti=packet.jti,
            fields={
                "digest": packet.digest,
                "issuer": packet.issuer,
                "analyzer": f"{analyzer.id} {analyzer.version}",
                "findings": run["findings"],
                **({"error": run["error"][:300]} if run["error"] else {}),
            },
        )
        for (_, packet), run in zip(batch, runs, strict=True)
    ]
    for run_index, result in results:
        input_packet = batch[run_index][1]
        audit_entries.append(
            Act(
                "result.issued",
                actor,
                jti=result.ref.jti,
                fields={
                    "digest": result.ref.digest,
                    "input": input_packet.jti,
                    "hc": result.hc,
                    "kid": signing.kid,
                },
            )
        )
        audit_entries += [
            acts.view_queued(actor, result, peer, granted, policy)
            for peer, granted in grants.items()
        ]
    try:
        with transaction(ctx.engine) as session:
            ids = packets.add_issued(
                session, [r for _, r in results], issuer=ctx.participant, kid=signing.kid, now=now
            )
            entries = []
            for (run_index, result), result_id in zip(results, ids, strict=True):
                runs[run_index]["result_packet_id"] = result_id
                views = {peer: result.view(granted) for peer, granted in grants.items()}
                entries.append((result_id, result.ref, views))
            outbox.enqueue(session, entries, now=now)
            analysis.add_runs(session, runs)
            analysis.save_state(session, analyzer.id, changed, deleted)
            analysis.save_heads(session, analyzer.id, _new_heads(results, reported))
            if analysis.dequeue(session, [qid for qid, _ in batch]) != len(batch):
                raise AnalysedElsewhere(
                    f"{len(batch)} queued packets were analysed by another replica meanwhile"
                )
            auditlog.append(session, audit_entries, now=now)  # last: see auditlog.append
    except BaseException:
        state.rollback()
        raise
    state.commit()
    ctx.metrics.analyses.inc(len(batch))
    ctx.metrics.results_issued.inc(len(results))
    if results:
        ctx.outbox_signal.set()
    return len(batch)


def reload_state(ctx: NodeContext) -> None:
    """Load the analyzer's state afresh from the database (as committed)."""
    if ctx.analyzer is None:
        return
    with ctx.analysis_lock, transaction(ctx.engine) as session:
        ctx.analyzer_state = State(analysis.load_state(session, ctx.analyzer.id))


def _try_analysis_lock(ctx: NodeContext) -> Any:
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


def _still_held(connection: Any) -> bool:
    """Whether the connection holding the session-level analysis lock is still open (the
    server drops the lock with the connection: a restart, pg_terminate_backend)."""
    try:
        connection.execute(text("SELECT 1"))
    except Exception:  # any failure of that connection means the lock is gone
        return False
    return True


def _close_quietly(connection: Any) -> None:
    with contextlib.suppress(Exception):  # a connection the server already dropped
        connection.close()


async def _elect(ctx: NodeContext) -> Any:
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
