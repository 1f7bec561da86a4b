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

import dataclasses
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlmodel import Session

from clearinghouse.node.context import NodeContext
from clearinghouse.node.keyring import SigningKey
from clearinghouse.node.metrics import NodeMetrics
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
from clearinghouse.protocol.manifest import Manifest, check_origination
from clearinghouse.protocol.packet import PacketRef, VerifiedPacket, packet_ref, verify_view
from clearinghouse.protocol.receipts import (
    ReceiptEntry,
    Status,
    bound_reason,
    sign_batch_receipt,
    sign_receipt,
)
from clearinghouse.protocol.results import check_result, check_result_input, result_input
from clearinghouse.protocol.sdjwt import CompactSdJwt, decode_jws

__all__ = ["Outcome", "ReceivedVia", "batch_receipt", "receive_views"]

#: How views came: pushed by their sender, or pulled from its catch-up feed.
ReceivedVia = Literal["push", "catch-up"]
#: The oversight authorisation a view relies on, and the claims it unlocked beyond the policy.
Unlocked = tuple[Authorisation, frozenset[str]]
#: Whether a verified packet may disclose what it does: the authorisation it relies on to
#: disclose more than the policy grants (None: it discloses no more); raises
#: :class:`OverDisclosure` otherwise.
DisclosureCheck = Callable[[VerifiedPacket], Unlocked | None]


@dataclass(frozen=True)
class Outcome:
    """What became of view ``index`` of a batch; ``receipt``: its own signed receipt, if
    asked (a batch receipt covers them all instead: :func:`batch_receipt`)."""

    index: int
    status: Status
    ref: PacketRef | None
    code: str | None = None
    detail: str | None = None
    receipt: str = ""
    #: for a deferred view: seconds until it would be taken (its iat inside the window)
    retry_after: int | None = None


@dataclass
class _Checked:
    """A batch after verification: the views that passed (by index), the authorisation
    each relies on to disclose more than the policy grants, and the refused views."""

    verified: list[tuple[int, VerifiedPacket]] = field(default_factory=list)
    unlocked: dict[int, Unlocked] = field(default_factory=dict)
    refused: list[Outcome] = field(default_factory=list)


def receive_views(
    ctx: NodeContext,
    *,
    peer: str,
    views: Sequence[str],
    sign: bool = True,
    via: ReceivedVia = "push",
    authorisations: Sequence[Any] = (),
) -> list[Outcome]:
    """Verify and store ``views`` from ``peer``; one outcome (with receipt) per view, each
    recorded in the audit log (``via``: how the views came, push or catch-up).

    ``authorisations`` are the oversight authorisations the peer sent along: a view may
    disclose more than the policy grants only under one of them. The steps: verify each
    view on its own; in one transaction, check results against what this node holds,
    store, queue for analysis, keep refusals aside and audit; then (``sign``) sign a
    receipt per view. A pushed batch that asks for one receipt over the whole batch is
    received with ``sign=False`` and answered with :func:`batch_receipt`."""
    now = ctx.clock.now()
    offered, unusable = offered_authorisations(ctx, authorisations, now)
    checked = _verify(
        views,
        peer=peer,
        manifest=ctx.manifest,
        now=now,
        # A packet's iat may be as far ahead as a request's `created`: the skew the
        # operator allows between nodes (signature_window_s).
        max_clock_skew=ctx.signature_window,
        disclosure=lambda packet: check_disclosure(ctx, packet, offered, unusable),
    )
    with transaction(ctx.engine) as session:
        _check_result_inputs(session, checked, holder=ctx.participant)
        new, widened = _store_views(session, peer, checked, now)
        entries = _authorisation_entries(session, peer, checked, ctx.metrics, now)
        _queue_for_analysis(session, checked.verified, new, ctx.wants_analysis, now)
        keep = ctx.settings.refusal_max_per_peer
        _store_refusals(session, peer, views, checked.refused, keep, now)
        outcomes = checked.refused + _stored_outcomes(checked.verified, new)
        _record(session, peer, outcomes, via, widened, entries, received=len(views), now=now)
    if any(ctx.wants_analysis(p.sch) for _, p in checked.verified):
        ctx.analysis_signal.set()
    _count(ctx.metrics, peer, outcomes)
    outcomes.sort(key=lambda o: o.index)
    if not sign:
        return outcomes
    return _sign_receipts(
        outcomes, receiver=ctx.participant, sender=peer, signing=ctx.signing, now=now
    )


# -- verify ------------------------------------------------------------------------------


def _verify(
    views: Sequence[str],
    *,
    peer: str,
    manifest: Manifest,
    now: datetime,
    max_clock_skew: timedelta,
    disclosure: DisclosureCheck,
) -> _Checked:
    """Verify each view on its own: signature, disclosures and schema (the policy check
    is ``disclosure``'s: it knows the authorisations), handling code, result and
    origination rules. One bad view never costs the good ones."""
    checked = _Checked()
    for index, raw in enumerate(views):
        if not isinstance(raw, str):
            checked.refused.append(
                Outcome(index, "rejected", None, "malformed-packet", "not a string")
            )
            continue
        try:
            packet = verify_view(
                raw, manifest, recipient=None, now=now, max_clock_skew=max_clock_skew
            )
            check_hop(packet.hc, packet.jti, packet.iss, peer)
            check_result(packet, manifest)
            check_origination(manifest, packet.iss, packet.sch)
            authorised = disclosure(packet)
        except ProtocolError as exc:
            checked.refused.append(_refusal(index, raw, exc))
            continue
        if authorised is not None:
            checked.unlocked[index] = authorised
        checked.verified.append((index, packet))
    return checked


def _refusal(index: int, raw: str, exc: ProtocolError) -> Outcome:
    """The outcome of a view that failed verification: over-disclosure is quarantined, a
    view issued in the future deferred (with when to retry), anything else rejected."""
    status: Status = "rejected"
    retry_after = None
    if isinstance(exc, OverDisclosure):
        status = "quarantined"
    elif isinstance(exc, IssuedInFuture):
        status, retry_after = "deferred", exc.ahead
    return Outcome(
        index,
        status,
        _best_effort_ref(raw),
        exc.code,
        bound_reason(exc.message),
        retry_after=retry_after,
    )


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


def _check_result_inputs(session: Session, checked: _Checked, *, holder: str) -> None:
    """Move from ``checked.verified`` to ``checked.refused`` the results whose input
    contradicts what this node (``holder``) holds: one query for the whole batch."""
    verified = checked.verified
    inputs = {index: named for index, p in verified if (named := result_input(p)) is not None}
    if not inputs:
        return
    # Only an input that may be this node's needs to know to whom it went.
    ours = {
        index
        for index, packet in verified
        if index in inputs and inputs[index].issuer in (None, holder) and packet.iss != holder
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
                check_result_input(packet, held.get(inputs[index].jti, ()), holder=holder)
        except ResultInputInvalid as exc:
            checked.refused.append(
                Outcome(index, "rejected", packet.ref, exc.code, bound_reason(exc.message))
            )
            continue
        kept.append((index, packet))
    checked.verified = kept


# -- persist and audit -------------------------------------------------------------------


def _store_views(
    session: Session, peer: str, checked: _Checked, now: datetime
) -> tuple[dict[tuple[str, str], int], set[int]]:
    """Store the verified views once each: the row id of each new one (by jti and
    digest), and the indexes of those that widened a narrower view held already (under an
    authorisation)."""
    verified = checked.verified
    new = packets.add_received(session, [v for _, v in verified], origin=peer, now=now)
    widened = {
        index
        for index, packet in verified
        if index in checked.unlocked
        and (packet.jti, packet.ref.digest) not in new
        and packets.widen_received(session, packet)
    }
    return new, widened


def _queue_for_analysis(
    session: Session,
    verified: Sequence[tuple[int, VerifiedPacket]],
    new: Mapping[tuple[str, str], int],
    wants_analysis: Callable[[str], bool],
    now: datetime,
) -> None:
    """Queue the packets stored now whose schema this node's analyzer takes."""
    to_analyse = {
        new[key]
        for _, packet in verified
        if (key := (packet.jti, packet.ref.digest)) in new and wants_analysis(packet.sch)
    }
    analysis.enqueue(session, sorted(to_analyse), now=now)


def _record(
    session: Session,
    peer: str,
    outcomes: Sequence[Outcome],
    via: ReceivedVia,
    widened: Collection[int],
    entries: Sequence[Act],
    *,
    received: int,
    now: datetime,
) -> None:
    """Count the batch for ``peer`` and record its outcomes in the audit log, one
    ``packet.received`` entry listing each view, followed by ``entries`` (the
    authorisations' acts). Last in the transaction: the audit head stays
    locked only until commit."""
    peers.add_to_counter(session, "duplicates", sum(o.status == "duplicate" for o in outcomes))
    peers.add_to_counter(session, "views_received", received)
    views = [
        acts.ReceivedView(o.ref, o.status, o.code, o.detail, widened=o.index in widened)
        for o in sorted(outcomes, key=lambda o: o.index)
    ]
    batch = [acts.packet_received(peer, views, via)] if views else []
    auditlog.append(session, [*batch, *entries], now=now)


def _stored_outcomes(
    verified: Sequence[tuple[int, VerifiedPacket]], new: Mapping[tuple[str, str], int]
) -> list[Outcome]:
    """``accepted`` for the first copy of each view stored now, ``duplicate`` for the rest."""
    outcomes = []
    seen: set[tuple[str, str]] = set()
    for index, packet in verified:
        key = (packet.jti, packet.ref.digest)
        status: Status = "accepted" if key in new and key not in seen else "duplicate"
        seen.add(key)
        outcomes.append(Outcome(index, status, packet.ref))
    return outcomes


def _store_refusals(
    session: Session,
    peer: str,
    views: Sequence[str],
    refused: Sequence[Outcome],
    keep: int,
    now: datetime,
) -> None:
    """Keep each refused view aside (without its text: see the module docstring), at most
    ``keep`` per peer."""
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
        keep=keep,
    )


def _authorisation_entries(
    session: Session, peer: str, checked: _Checked, metrics: NodeMetrics, now: datetime
) -> list[Act]:
    """Store each authorisation first seen here and record it, and record each use."""
    entries: list[Act] = []
    seen: set[str] = set()
    for index, packet in checked.verified:
        if index not in checked.unlocked:
            continue
        authorisation, claims = checked.unlocked[index]
        if authorisation.id not in seen:
            seen.add(authorisation.id)
            if store(session, authorisation, source=acts.peer_actor(peer), now=now):
                entries.append(acts.authorisation_accepted(acts.peer_actor(peer), authorisation))
                metrics.authorisations.labels(outcome="accepted").inc()
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
        metrics.authorisations.labels(outcome="used").inc()
    return entries


# -- count and sign ----------------------------------------------------------------------


def _count(metrics: NodeMetrics, peer: str, outcomes: Sequence[Outcome]) -> None:
    for o in outcomes:
        metrics.packets_in.labels(peer=peer, result=o.status).inc()
        if o.code:
            metrics.packets_rejected.labels(reason=o.code).inc()


def _sign_receipts(
    outcomes: Sequence[Outcome],
    *,
    receiver: str,
    sender: str,
    signing: SigningKey,
    now: datetime,
) -> list[Outcome]:
    """Each outcome with its receipt, signed by ``receiver`` with one key for the batch."""
    return [
        dataclasses.replace(
            o,
            receipt=sign_receipt(
                receiver=receiver,
                sender=sender,
                index=o.index,
                ref=o.ref,
                status=o.status,
                key=signing.key,
                kid=signing.kid,
                now=now,
                reason_code=o.code,
                reason=o.detail,
                retry_after=o.retry_after,
            ),
        )
        for o in outcomes
    ]


def batch_receipt(
    outcomes: Sequence[Outcome],
    *,
    receiver: str,
    sender: str,
    signing: SigningKey,
    now: datetime,
    request_sha256: str,
) -> str:
    """One receipt over the whole batch, signed by ``receiver``: every outcome (in batch
    order) for the request whose body has SHA-256 ``request_sha256``."""
    return sign_batch_receipt(
        receiver=receiver,
        sender=sender,
        request_sha256=request_sha256,
        entries=[
            ReceiptEntry(o.index, o.ref, o.status, o.code, o.detail, o.retry_after)
            for o in sorted(outcomes, key=lambda o: o.index)
        ],
        key=signing.key,
        kid=signing.kid,
        now=now,
    )
