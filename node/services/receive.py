"""Receiving views from peers: verify each, store once, quarantine over-disclosure.

Used for pushed batches (``POST /v1/packets``) and for pulled catch-up pages alike.
Each view is verified on its own (issuer signature against the manifest, every
disclosure, schema, and that nothing the policy withholds from this node is
disclosed); one bad view never costs the good ones. Outcomes:

* ``accepted``: new, stored with its exact text;
* ``duplicate``: already held (as any view), acknowledged, stored once;
* ``quarantined``: over-disclosure — kept aside with the reason, never processed;
* ``rejected``: anything else wrong, kept aside with the reason — among them an H2
  view (no onward dissemination) relayed by anyone but its issuer, and a result whose
  input contradicts what this node holds: a packet it issued but never sent to the
  result's issuer, or one held with another digest, issuer or schema
  (:func:`protocol.results.check_result_input`; one query per batch), and a record
  of a schema the manifest does not let its issuer originate (``originates``,
  :func:`protocol.manifest.check_origination`: ``schema-not-originated``);
* ``deferred``: issued in the future by this node's clock (beyond the allowed skew,
  ``signature_window_s``): not now, but clocks converge, so the receipt is retryable
  and says after how many seconds the view would be in the window (``retry_after``).

A refused view (rejected, quarantined or deferred) is recorded without its text, which
may hold values the policy withholds: its SHA-256, length and JWS header
(:func:`node.storage.packets.refusal_prefix`), the reason (at most
:data:`protocol.receipts.MAX_REASON` characters, as in the receipt), and its ``jti``
only if that is a packet id at all (a canonical UUID). At most
``refusal_max_per_peer`` rows are kept per peer; housekeeping purges them after
``refusal_retention_days``.

A view may disclose more than the policy grants this node only under an oversight
authorisation sent along with it (:mod:`node.services.authorisations`); a duplicate
that does replaces the narrower view held.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session

from clearinghouse.node.context import NodeContext
from clearinghouse.node.services import acts
from clearinghouse.node.services.authorisations import (
    check_disclosure,
    offered_authorisations,
    store,
)
from clearinghouse.node.storage import analysis, auditlog, packets, peers
from clearinghouse.node.storage.db import transaction
from clearinghouse.protocol.audit import Act
from clearinghouse.protocol.authorisation import Authorisation
from clearinghouse.protocol.errors import (
    IssuedInFuture,
    OverDisclosure,
    ProtocolError,
    ResultInputInvalid,
)
from clearinghouse.protocol.handling import check_hop
from clearinghouse.protocol.manifest import check_origination
from clearinghouse.protocol.packet import PacketRef, VerifiedPacket, packet_ref, verify_view
from clearinghouse.protocol.receipts import bound_reason, sign_receipt
from clearinghouse.protocol.results import check_result, check_result_input, result_input
from clearinghouse.protocol.sdjwt import CompactSdJwt, decode_jws

__all__ = ["Outcome", "receive_views"]


@dataclass(frozen=True)
class Outcome:
    index: int
    status: str
    ref: PacketRef | None
    code: str | None = None
    detail: str | None = None
    receipt: str = ""
    #: for a deferred view: seconds until it would be taken (its iat inside the window)
    retry_after: int | None = None


def _best_effort_ref(raw: str) -> PacketRef | None:
    """The (unverified) reference of a refused view, for the refusal record only: None
    unless its ``jti`` is a packet id as :func:`verify_view` requires (a UUID in its
    canonical lowercase form, RFC 4122 variant), so no stray text reaches the record."""
    try:
        jwt = CompactSdJwt.parse(raw).jwt
        jti = decode_jws(jwt).payload.get("jti")
    except ProtocolError:
        return None
    if not isinstance(jti, str) or not _is_packet_id(jti):
        return None
    return packet_ref(jti, jwt)


def _is_packet_id(jti: str) -> bool:
    try:
        parsed = uuid.UUID(jti)
    except ValueError:
        return False
    return str(parsed) == jti and parsed.variant == uuid.RFC_4122


def receive_views(
    ctx: NodeContext,
    *,
    peer: str,
    views: Sequence[str],
    sign: bool = True,
    via: str = "push",
    authorisations: Sequence[Any] = (),
) -> list[Outcome]:
    """Verify and store ``views`` from ``peer``; one outcome (with receipt) per view, each
    recorded in the audit log (``via``: how the views came, push or catch-up).

    ``authorisations`` are the oversight authorisations the peer sent along: a view may
    disclose more than the policy grants only under one of them."""
    now = ctx.clock.now()
    manifest = ctx.manifest
    offered, unusable = offered_authorisations(ctx, authorisations, now)
    verified: list[tuple[int, VerifiedPacket]] = []
    unlocked: dict[int, tuple[Authorisation, frozenset[str]]] = {}
    refused: list[Outcome] = []
    for index, raw in enumerate(views):
        if not isinstance(raw, str):
            refused.append(Outcome(index, "rejected", None, "malformed-packet", "not a string"))
            continue
        try:
            # (the policy check is check_disclosure's: it knows the authorisations)
            # A packet's iat may be as far ahead as a request's `created`: the skew
            # the operator allows between nodes (signature_window_s).
            packet = verify_view(
                raw, manifest, recipient=None, now=now, max_clock_skew=ctx.signature_window
            )
            check_hop(packet.hc, packet.jti, packet.iss, peer)
            check_result(packet, manifest)
            check_origination(manifest, packet.iss, packet.sch)
            authorised = check_disclosure(ctx, packet, offered, unusable)
            if authorised is not None:
                unlocked[index] = authorised
            verified.append((index, packet))
        except OverDisclosure as exc:
            refused.append(
                Outcome(
                    index, "quarantined", _best_effort_ref(raw), exc.code, bound_reason(exc.message)
                )
            )
        except IssuedInFuture as exc:
            refused.append(
                Outcome(
                    index,
                    "deferred",
                    _best_effort_ref(raw),
                    exc.code,
                    bound_reason(exc.message),
                    retry_after=exc.ahead,
                )
            )
        except ProtocolError as exc:
            refused.append(
                Outcome(
                    index, "rejected", _best_effort_ref(raw), exc.code, bound_reason(exc.message)
                )
            )

    with transaction(ctx.engine) as session:
        verified = _check_result_inputs(ctx, session, verified, refused)
        new = packets.add_received(session, [v for _, v in verified], origin=peer, now=now)
        # A view that came under an authorisation replaces a narrower one held already.
        widened = {
            index
            for index, packet in verified
            if index in unlocked
            and (packet.jti, packet.ref.digest) not in new
            and packets.widen_received(session, packet)
        }
        entries = _authorisation_entries(ctx, session, peer, verified, unlocked, now)
        to_analyse = {
            new[(packet.jti, packet.ref.digest)]
            for _, packet in verified
            if (packet.jti, packet.ref.digest) in new and ctx.wants_analysis(packet.sch)
        }
        analysis.enqueue(session, sorted(to_analyse), now=now)
        packets.add_refusals(
            session,
            peer=peer,
            refused=[
                packets.RefusedView(
                    disposition=o.status,
                    code=o.code or "rejected",
                    reason=o.detail or "",
                    raw=raw if isinstance(raw := views[o.index], str) else "",
                    jti=o.ref.jti if o.ref else None,
                    digest=o.ref.digest if o.ref else None,
                )
                for o in refused
            ],
            now=now,
            keep=ctx.settings.refusal_max_per_peer,
        )
        outcomes = list(refused)
        seen: set[tuple[str, str]] = set()
        for index, packet in verified:
            key = (packet.jti, packet.ref.digest)
            status = "accepted" if key in new and key not in seen else "duplicate"
            seen.add(key)
            outcomes.append(Outcome(index, status, packet.ref))
        duplicates = sum(o.status == "duplicate" for o in outcomes)
        peers.add_to_counter(session, "duplicates", duplicates)
        peers.add_to_counter(session, "views_received", len(views))
        # last: the audit head stays locked only until commit
        auditlog.append(
            session,
            [
                acts.packet_received(
                    peer, o.ref, o.status, via, o.code, o.detail, widened=o.index in widened
                )
                for o in sorted(outcomes, key=lambda o: o.index)
            ]
            + entries,
            now=now,
        )

    if any(ctx.wants_analysis(p.sch) for _, p in verified):
        ctx.analysis_signal.set()
    for o in outcomes:
        ctx.metrics.packets_in.labels(peer=peer, result=o.status).inc()
        if o.code:
            ctx.metrics.packets_rejected.labels(reason=o.code).inc()
    outcomes.sort(key=lambda o: o.index)
    if not sign:
        return outcomes
    signing = ctx.signing
    return [
        Outcome(
            o.index,
            o.status,
            o.ref,
            o.code,
            o.detail,
            sign_receipt(
                receiver=ctx.participant,
                sender=peer,
                index=o.index,
                ref=o.ref,
                status=o.status,  # type: ignore[arg-type]
                key=signing.key,
                kid=signing.kid,
                now=now,
                reason_code=o.code,
                reason=o.detail,
                retry_after=o.retry_after,
            ),
            o.retry_after,
        )
        for o in outcomes
    ]


def _check_result_inputs(
    ctx: NodeContext,
    session: Session,
    verified: Sequence[tuple[int, VerifiedPacket]],
    refused: list[Outcome],
) -> list[tuple[int, VerifiedPacket]]:
    """The verified views less the results whose input contradicts what this node holds
    (those are added to ``refused``): one query for the whole batch."""
    inputs = {index: named for index, p in verified if (named := result_input(p)) is not None}
    if not inputs:
        return list(verified)
    # Only an input that may be this node's needs to know to whom it went.
    ours = {
        index
        for index, packet in verified
        if index in inputs
        and inputs[index].issuer in (None, ctx.participant)
        and packet.iss != ctx.participant
    }
    held = packets.held_inputs(
        session,
        {named.jti for named in inputs.values()},
        queued={inputs[index].jti for index in ours},
        recipients={packet.iss for index, packet in verified if index in ours},
    )
    kept = []
    for index, packet in verified:
        try:
            if index in inputs:
                check_result_input(packet, held.get(inputs[index].jti, ()), holder=ctx.participant)
        except ResultInputInvalid as exc:
            refused.append(
                Outcome(index, "rejected", packet.ref, exc.code, bound_reason(exc.message))
            )
            continue
        kept.append((index, packet))
    return kept


def _authorisation_entries(
    ctx: NodeContext,
    session: Session,
    peer: str,
    verified: Sequence[tuple[int, VerifiedPacket]],
    unlocked: Mapping[int, tuple[Authorisation, frozenset[str]]],
    now: datetime,
) -> list[Act]:
    """Store each authorisation first seen here and record it, and record each use."""
    entries: list[Act] = []
    seen: set[str] = set()
    for index, packet in verified:
        if index not in unlocked:
            continue
        authorisation, claims = unlocked[index]
        if authorisation.id not in seen:
            seen.add(authorisation.id)
            if store(session, authorisation, source=acts.peer_actor(peer), now=now):
                entries.append(acts.authorisation_accepted(acts.peer_actor(peer), authorisation))
                ctx.metrics.authorisations.labels(outcome="accepted").inc()
        entries.append(
            acts.authorisation_used(
                acts.peer_actor(peer),
                authorisation,
                peer=packet.iss,
                jti=packet.jti,
                digest=packet.ref.digest,
                fields=sorted(claims),
            )
        )
        ctx.metrics.authorisations.labels(outcome="used").inc()
    return entries
