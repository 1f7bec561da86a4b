"""Oversight authorisations at a node: take one on, send what it unlocks, check it on arrival.

DESIGN.md, "Oversight". An authorisation (:mod:`protocol.authorisation`), signed by
a participant with the oversight role, lets one recipient see fields the policy
withholds from it, for packets in its scope, until it expires.

* **At the originator** (``POST /v1/authorisations``): verified and stored; the
  views of packets already issued here that it covers are queued again for the
  recipient with the unlocked fields, and every packet issued while it is in force
  that it covers goes to the recipient with them. Each issuance and each use is an
  audit entry (``authorisation.accepted``, ``authorisation.used``).
* **On the way** (:func:`outgoing`): a view that relies on an authorisation
  travels with the signed authorisation; once it has expired, the view is cut back
  to the policy before it is sent. A view queued before the manifest in force was
  accepted is cut to the current policy too (a tightened policy applies at once).
* **At the recipient** (:func:`check_disclosure`): a view disclosing more than the
  policy grants is accepted only under an authorisation that came with it, is for
  this node, is in force now, covers what the view shows, and unlocks every extra
  field; otherwise it is over-disclosure (quarantined). The recipient records the
  authorisation and each use in its own log.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from clearinghouse.node.context import NodeContext
from clearinghouse.node.services import acts
from clearinghouse.node.storage import auditlog, authorisations, outbox
from clearinghouse.node.storage.db import transaction
from clearinghouse.node.storage.models import StoredPacket
from clearinghouse.node.storage.outbox import DueItem
from clearinghouse.protocol.audit import Act
from clearinghouse.protocol.authorisation import (
    Authorisation,
    PacketScope,
    canonical_authorisation,
    covers,
    covers_view,
    parse_authorisation,
    unlocked_claims,
    verify_authorisation,
)
from clearinghouse.protocol.errors import AuthorisationRejected, OverDisclosure, ProtocolError
from clearinghouse.protocol.manifest import Manifest
from clearinghouse.protocol.packet import IssuedPacket, PacketRef, VerifiedPacket, make_view
from clearinghouse.protocol.policy import SharingPolicy
from clearinghouse.protocol.schemas import get_schema
from clearinghouse.protocol.sdjwt import CompactSdJwt, decode_jws

__all__ = [
    "AuthorisationOutcome",
    "Unlock",
    "accept_authorisation",
    "authorised_unlocks",
    "check_disclosure",
    "offered_authorisations",
    "outgoing",
    "refresh_active",
    "store",
]

log = logging.getLogger("clearinghouse.oversight")


@dataclass(frozen=True)
class AuthorisationOutcome:
    id: str
    status: str  # accepted | already-held
    views_queued: int


@dataclass(frozen=True)
class Unlock:
    """What one authorisation adds to one recipient's view of one packet."""

    authorisation: Authorisation
    recipient: str
    claims: frozenset[str]  # the claims beyond the policy, present in the packet


def refresh_active(ctx: NodeContext) -> None:
    """Reload the authorisations in force (after one was taken on, or by a replica)."""
    now = ctx.clock.now()
    with transaction(ctx.engine) as session:
        rows = authorisations.unexpired(session, now)
    active = []
    for row in rows:
        try:
            active.append(
                verify_authorisation(parse_authorisation(row.document), ctx.manifest, now=now)
            )
        except ProtocolError as exc:  # e.g. its key was revoked since, or the issuer left
            log.warning("authorisation %s no longer usable: %s", row.id, exc)
    ctx.authorisations = tuple(active)


def _record_refusal(
    ctx: NodeContext, document: bytes, actor: str, reason: str, now: datetime
) -> None:
    fields: dict[str, object] = {"sha256": hashlib.sha256(document).hexdigest(), "reason": reason}
    try:
        fields["id"] = parse_authorisation(document).id
    except ProtocolError:
        pass
    with transaction(ctx.engine) as session:
        auditlog.append(session, [Act("authorisation.refused", actor, fields=fields)], now=now)
    ctx.metrics.authorisations.labels(outcome="refused").inc()


def accept_authorisation(ctx: NodeContext, document: bytes, *, actor: str) -> AuthorisationOutcome:
    """Verify and store an authorisation submitted to this node (the originator) and
    queue the views it unlocks for packets issued here already.

    Raises :class:`AuthorisationRejected` saying why (the refusal is recorded).
    """
    now = ctx.clock.now()
    try:
        authorisation = verify_authorisation(parse_authorisation(document), ctx.manifest, now=now)
    except AuthorisationRejected as exc:
        _record_refusal(ctx, document, actor, exc.message[:500], now)
        raise
    node = acts.node_actor(ctx.participant)
    with transaction(ctx.engine) as session:
        if not store(session, authorisation, source=actor, now=now):
            return AuthorisationOutcome(authorisation.id, "already-held", 0)
        entries = [acts.authorisation_accepted(actor, authorisation)]
        queued = _queue_issued(ctx, session, authorisation, entries, actor=node, now=now)
        auditlog.append(session, entries, now=now)
    refresh_active(ctx)
    ctx.metrics.authorisations.labels(outcome="accepted").inc()
    if queued:
        ctx.outbox_signal.set()
    return AuthorisationOutcome(authorisation.id, "accepted", queued)


def store(session: Session, a: Authorisation, *, source: str, now: datetime) -> bool:
    """Keep ``a`` as received; False if it is held already."""
    return authorisations.add(
        session,
        id=a.id,
        issuer=a.issuer,
        recipient=a.recipient,
        document=canonical_authorisation(a).decode(),
        expires_at=a.expires_at,
        source=source,
        now=now,
    )


def _queue_issued(
    ctx: NodeContext,
    session: Session,
    a: Authorisation,
    entries: list[Act],
    *,
    actor: str,
    now: datetime,
) -> int:
    """Queue, for packets issued here that ``a`` covers, the recipient's view with the
    unlocked fields; append one ``view.queued`` entry listing them, then an
    ``authorisation.used`` entry for each; return how many were queued."""
    if a.recipient == ctx.participant:
        return 0
    query = select(StoredPacket).where(StoredPacket.origin == "local")
    if isinstance(a.scope, PacketScope):
        query = query.where(col(StoredPacket.jti).in_(a.scope.packets))
    else:
        issuers = a.scope.query.issuers
        if issuers is not None and ctx.participant not in issuers:
            return 0
        query = query.where(StoredPacket.schema_id == a.scope.query.schema_id)
    views: list[dict[str, object]] = []
    used: list[Act] = []
    for row in session.exec(query.order_by(col(StoredPacket.id))):
        claims = frozenset(row.claims)
        if not covers(a, issuer=row.issuer, jti=row.jti, schema=row.schema_id, claims=row.claims):
            continue
        spec = get_schema(row.schema_id)
        granted = ctx.manifest.sharing.granted_claims(spec, a.recipient)
        extra = (unlocked_claims(a, spec) - granted) & claims
        if not extra:
            continue
        ref = PacketRef(row.jti, row.digest)
        view = make_view(row.raw, granted | extra)
        outbox.enqueue(
            session, [(int(row.id or 0), ref, {a.recipient: view})], now=now, authorisation_id=a.id
        )
        views.append(
            {"jti": row.jti, "digest": row.digest, "fields": sorted((granted | extra) & claims)}
        )
        used.append(
            acts.authorisation_used(
                actor, a, peer=a.recipient, jti=row.jti, digest=row.digest, fields=sorted(extra)
            )
        )
    if views:
        policy = acts.policy_digest(ctx.manifest)
        entries.append(acts.view_queued(actor, a.recipient, views, policy, authorisation=a.id))
    entries += used
    return len(views)


def authorised_unlocks(ctx: NodeContext, packet: IssuedPacket, now: datetime) -> dict[str, Unlock]:
    """For a packet being issued here: per recipient, the authorisation in force that
    unlocks the most of it beyond the policy (recipients the policy grants nothing
    included)."""
    found: dict[str, Unlock] = {}
    if not ctx.authorisations:
        return found
    spec = get_schema(packet.schema)
    present = frozenset(packet.claims)
    for a in ctx.authorisations:
        if a.expires_at <= now or a.recipient == ctx.participant:
            continue
        try:
            if not covers(
                a,
                issuer=ctx.participant,
                jti=packet.ref.jti,
                schema=packet.schema,
                claims=packet.claims,
            ):
                continue
            unlocked = unlocked_claims(a, spec)
        except AuthorisationRejected as exc:
            log.warning("authorisation %s cannot apply to %s: %s", a.id, packet.ref.jti, exc)
            continue
        extra = (unlocked - ctx.manifest.sharing.granted_claims(spec, a.recipient)) & present
        best = found.get(a.recipient)
        if extra and (best is None or len(extra) > len(best.claims)):
            found[a.recipient] = Unlock(a, a.recipient, frozenset(extra))
    return found


# -- sending ----------------------------------------------------------------------------


def outgoing(
    ctx: NodeContext,
    items: Sequence[DueItem],
    now: datetime,
    session: Session | None = None,
) -> tuple[list[str], list[dict[str, Any]]]:
    """The views to send for ``items`` (cut to what may go now) and the authorisations
    they rely on (each once); ``session``: the caller's transaction, if it has one."""
    ids = {i.authorisation_id for i in items if i.authorisation_id}
    since = ctx.manifest_since
    if not ids and (since is None or all(i.created_at >= since for i in items)):
        return [i.view for i in items], []
    in_force: dict[str, Authorisation] = {}
    stored: dict[str, str] = {}
    if ids and session is not None:
        stored = authorisations.documents(session, ids)
    elif ids:
        with transaction(ctx.engine) as own:
            stored = authorisations.documents(own, ids)
    for a_id, document in stored.items():
        try:
            in_force[a_id] = verify_authorisation(
                parse_authorisation(document), ctx.manifest, now=now
            )
        except ProtocolError as exc:
            log.info("authorisation %s not sent with its views: %s", a_id, exc)
    views: list[str] = []
    used: dict[str, dict[str, Any]] = {}
    for item in items:
        a = in_force.get(item.authorisation_id or "")
        stale = since is not None and item.created_at < since
        if a is not None:
            used[a.id] = a.document()
        if (item.authorisation_id and a is None) or stale:
            views.append(_cut(ctx, item, a))
        else:
            views.append(item.view)
    return views, list(used.values())


def _cut(ctx: NodeContext, item: DueItem, a: Authorisation | None) -> str:
    """``item``'s view narrowed to the policy in force (and ``a``'s unlocks, if any)."""
    view: str = item.view
    try:
        sch = decode_jws(CompactSdJwt.parse(view).jwt).payload.get("sch")
        spec = get_schema(str(sch))
        allowed = set(ctx.manifest.sharing.granted_claims(spec, item.recipient))
        if a is not None:
            allowed |= unlocked_claims(a, spec)
        return make_view(view, allowed)
    except ProtocolError as exc:
        log.warning("view %s for %s could not be narrowed: %s", item.jti, item.recipient, exc)
        return view


# -- receiving --------------------------------------------------------------------------


def offered_authorisations(
    ctx: NodeContext, documents: Iterable[Any], now: datetime
) -> tuple[dict[str, Authorisation], dict[str, str]]:
    """The authorisations a peer sent with views, verified for this node: by id, and
    the reason each refused one cannot be used (by id, or by position)."""
    good: dict[str, Authorisation] = {}
    bad: dict[str, str] = {}
    for index, document in enumerate(documents):
        label = f"#{index}"
        try:
            parsed = parse_authorisation(document if isinstance(document, Mapping) else {})
            label = parsed.id
            good[parsed.id] = verify_authorisation(
                parsed, ctx.manifest, now=now, recipient=ctx.participant
            )
        except ProtocolError as exc:
            bad[label] = exc.message
    return good, bad


#: The manifest :func:`_sharing` was last asked about, and its sharing policy.
_LAST_SHARING: tuple[Manifest, SharingPolicy] | None = None


def _sharing(manifest: Manifest) -> SharingPolicy:
    """``manifest.sharing``, without asking the manifest again while it stays the one in
    force: each view received is checked against it, and the manifest (a pydantic model)
    answers a private attribute slowly, a fifth of the check."""
    global _LAST_SHARING
    last = _LAST_SHARING
    if last is not None and last[0] is manifest:
        return last[1]
    sharing = manifest.sharing
    _LAST_SHARING = (manifest, sharing)
    return sharing


def check_disclosure(
    ctx: NodeContext,
    packet: VerifiedPacket,
    offered: Mapping[str, Authorisation],
    refused: Mapping[str, str],
) -> tuple[Authorisation, frozenset[str]] | None:
    """The authorisation (and the claims it unlocked) under which ``packet`` may
    disclose more than the policy grants this node; None if it discloses no more.

    Raises :class:`OverDisclosure` (naming any authorisation that could not be used).
    """
    spec = get_schema(packet.sch)
    sharing = _sharing(ctx.manifest)
    granted = sharing.granted_claims(spec, ctx.participant)
    if packet.disclosed <= granted:
        return None
    extra = packet.disclosed - granted
    for a in offered.values():
        try:
            if covers_view(a, packet) and extra <= unlocked_claims(a, spec):
                return a, frozenset(extra)
        except AuthorisationRejected:
            continue
    try:
        sharing.check_disclosed(spec, ctx.participant, packet.disclosed)
    except OverDisclosure as exc:
        if refused:
            why = "; ".join(f"{k}: {v}" for k, v in sorted(refused.items()))
            raise OverDisclosure(
                f"{exc.message} (authorisation not usable: {why})", field=exc.field
            ) from exc
        raise
    return None  # pragma: no cover - check_disclosed raises for any extra claim
