"""Local ingest: a body's own records become packets and per-recipient views.

Each good record is issued as a packet; the packet and one view per recipient
granted anything by the policy are written in one transaction, before any network
I/O (DESIGN.md, "Outbox"). A bad record is reported with its index and reason and
never stops the good ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from node.context import NodeContext
from node.services import acts
from node.storage import analysis, auditlog, outbox, packets, peers
from node.storage.db import transaction
from protocol.audit import Act
from protocol.errors import ProtocolError
from protocol.packet import IssuedPacket, issue_packet
from protocol.schemas import get_schema

__all__ = ["IngestResult", "RecordRejected", "ingest_records"]


@dataclass(frozen=True)
class RecordRejected:
    index: int
    code: str
    detail: str


@dataclass
class IngestResult:
    accepted: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[RecordRejected] = field(default_factory=list)


def ingest_records(
    ctx: NodeContext,
    schema: str,
    records: Sequence[Mapping[str, Any]],
    *,
    hc: str = "H0",
    hc_restriction: str | None = None,
    actor: str | None = None,
) -> IngestResult:
    """Issue ``records`` as packets of ``schema`` and queue their views, recording each
    act in the audit log (as ``actor``: the calling token, or this node).

    Raises :class:`UnknownSchema` if the schema is unknown; per-record problems
    are in the result.
    """
    spec = get_schema(schema)
    sharing = ctx.manifest.sharing
    recipients = {
        peer.id: sharing.granted_claims(spec, peer.id)
        for peer in ctx.peers
        if sharing.granted_claims(spec, peer.id)
    }
    now = ctx.clock.now()
    actor = actor or acts.node_actor(ctx.participant)
    policy = acts.policy_digest(ctx.manifest)
    result = IngestResult()
    issued: list[tuple[int, IssuedPacket]] = []
    for index, record in enumerate(records):
        try:
            if not isinstance(record, Mapping):
                raise ProtocolError(f"record {index} is not a JSON object")
            packet = issue_packet(
                record,
                schema=schema,
                issuer=ctx.participant,
                key=ctx.key,
                kid=ctx.kid,
                now=now,
                pseudonym_key=ctx.pseudonym_key,
                hc=hc,
                hc_restriction=hc_restriction,
            )
        except ProtocolError as exc:
            result.rejected.append(RecordRejected(index, exc.code, exc.message))
            continue
        issued.append((index, packet))
    if issued:
        views = [
            {r: packet.view(granted) for r, granted in recipients.items()} for _, packet in issued
        ]
        with transaction(ctx.engine) as session:
            ids = packets.add_issued(
                session, [p for _, p in issued], issuer=ctx.participant, kid=ctx.kid, now=now
            )
            outbox.enqueue(
                session,
                [(i, p.ref, v) for i, (_, p), v in zip(ids, issued, views, strict=True)],
                now=now,
            )
            if ctx.wants_analysis(schema):
                analysis.enqueue(session, ids, now=now)
            entries: list[Act] = []
            for index, packet in issued:
                entries.append(acts.packet_issued(actor, packet, record=index))
                entries += [
                    acts.view_queued(actor, packet, r, granted, policy)
                    for r, granted in recipients.items()
                ]
            auditlog.append(session, entries, now=now)
        result.accepted = [
            {
                "index": index,
                "jti": packet.ref.jti,
                "sha256": packet.ref.digest,
                "recipients": sorted(v),
            }
            for (index, packet), v in zip(issued, views, strict=True)
        ]
    if result.rejected:
        with transaction(ctx.engine) as session:
            peers.add_to_counter(session, "records_rejected", len(result.rejected))
            auditlog.append(
                session,
                [
                    Act(
                        "record.rejected",
                        actor,
                        # the code only: a reason may quote the record's values
                        fields={"record": r.index, "schema": schema, "code": r.code},
                    )
                    for r in result.rejected
                ],
                now=now,
            )
    ctx.metrics.packets_issued.inc(len(issued))
    ctx.metrics.records_rejected.inc(len(result.rejected))
    if issued:
        ctx.outbox_signal.set()
        if ctx.wants_analysis(schema):
            ctx.analysis_signal.set()
    return result
