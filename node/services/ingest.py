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
from node.services.authorisations import authorised_unlocks
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
    signing = ctx.signing  # one key for the whole batch, even if it rotates meanwhile
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
                key=signing.key,
                kid=signing.kid,
                now=now,
                pseudonym_key=ctx.pseudonym_key.key if ctx.pseudonym_key else None,
                pseudonym_epoch=ctx.pseudonym_key.epoch if ctx.pseudonym_key else None,
                hc=hc,
                hc_restriction=hc_restriction,
            )
        except ProtocolError as exc:
            result.rejected.append(RecordRejected(index, exc.code, exc.message))
            continue
        issued.append((index, packet))
    if issued:
        # An oversight authorisation in force may add fields for one recipient.
        unlocks = [authorised_unlocks(ctx, packet, now) for _, packet in issued]
        views = [
            {r: packet.view(granted) for r, granted in recipients.items() if r not in unlocked}
            for (_, packet), unlocked in zip(issued, unlocks, strict=True)
        ]
        with transaction(ctx.engine) as session:
            ids = packets.add_issued(
                session, [p for _, p in issued], issuer=ctx.participant, kid=signing.kid, now=now
            )
            outbox.enqueue(
                session,
                [(i, p.ref, v) for i, (_, p), v in zip(ids, issued, views, strict=True)],
                now=now,
            )
            if ctx.wants_analysis(schema):
                analysis.enqueue(session, ids, now=now)
            entries: list[Act] = []
            for row_id, (index, packet), unlocked in zip(ids, issued, unlocks, strict=True):
                entries.append(acts.packet_issued(actor, packet, signing.kid, record=index))
                entries += [
                    acts.view_queued(actor, packet, r, granted, policy)
                    for r, granted in recipients.items()
                    if r not in unlocked
                ]
                for r, unlock in unlocked.items():
                    allowed = recipients.get(r, frozenset()) | unlock.claims
                    outbox.enqueue(
                        session,
                        [(row_id, packet.ref, {r: packet.view(allowed)})],
                        now=now,
                        authorisation_id=unlock.authorisation.id,
                    )
                    entries.append(acts.view_queued(actor, packet, r, allowed, policy))
                    entries.append(
                        acts.authorisation_used(
                            acts.node_actor(ctx.participant),
                            unlock.authorisation,
                            peer=r,
                            jti=packet.ref.jti,
                            digest=packet.ref.digest,
                            fields=sorted(unlock.claims),
                        )
                    )
            auditlog.append(session, entries, now=now)
        result.accepted = [
            {
                "index": index,
                "jti": packet.ref.jti,
                "sha256": packet.ref.digest,
                "recipients": sorted({*v, *unlocked}),
            }
            for (index, packet), v, unlocked in zip(issued, views, unlocks, strict=True)
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
