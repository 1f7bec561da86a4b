"""Relaying a held packet onward: a recipient passes a view on, narrower, never wider.

``POST /v1/local/packets/{jti}/relay`` queues, for each named participant, the
view of the packet this node holds cut down to what the policy grants that
participant (a relay can only remove disclosures: the issuer's signature covers
the rest). The handling code decides first: an H2 packet (no onward
dissemination) is never relayed, and the refusal is recorded in the audit log.
Relayed views go out through the outbox like any other: pushed, or offered in
the recipient's catch-up feed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine

from clearinghouse.node.context import NodeContext
from clearinghouse.node.errors import BadRequest, HandlingForbidden, NotFound
from clearinghouse.node.services import acts
from clearinghouse.node.storage import auditlog, outbox, packets
from clearinghouse.node.storage.db import transaction
from clearinghouse.node.storage.models import StoredPacket
from clearinghouse.protocol.audit import Act
from clearinghouse.protocol.errors import HandlingViolation, ProtocolError
from clearinghouse.protocol.handling import check_relay
from clearinghouse.protocol.manifest import Manifest
from clearinghouse.protocol.packet import PacketRef, make_view, verify_view
from clearinghouse.protocol.schemas import get_schema

__all__ = ["Relayed", "relay_packet"]


@dataclass(frozen=True)
class Relayed:
    """What a relay queued: per recipient, the claims its view discloses, or why none."""

    jti: str
    queued: dict[str, list[str]]  # recipient -> claim names its view discloses
    skipped: dict[str, str]  # recipient -> why nothing was queued


def relay_packet(ctx: NodeContext, jti: str, recipients: Sequence[str], *, actor: str) -> Relayed:
    """Queue views of held packet ``jti`` for ``recipients``; raise :class:`NotFound`,
    :class:`BadRequest` or :class:`HandlingForbidden` (recorded) saying why not.

    The steps: find the packet and check the recipients; let the handling code decide
    (a refusal is audited); cut a view per recipient; queue them with their audit
    entries in one transaction."""
    now = ctx.clock.now()
    manifest = ctx.manifest
    row = _held_packet(ctx.engine, jti)
    for recipient in recipients:
        if recipient not in manifest.participant_ids:
            raise BadRequest(f"{recipient!r} is not a participant of {manifest.federation}")
    try:
        check_relay(row.hc, row.jti, row.issuer)
    except HandlingViolation as exc:
        _record_refusal(ctx.engine, row, recipients, actor=actor, now=now)
        raise HandlingForbidden(exc.message) from exc
    views, relayed = _cut_views(row, recipients, manifest, holder=ctx.participant, now=now)
    if views:
        policy = acts.policy_digest(manifest)
        _queue(ctx.engine, row, views, relayed.queued, actor=actor, policy=policy, now=now)
        ctx.outbox_signal.set()
    return relayed


def _held_packet(engine: Engine, jti: str) -> StoredPacket:
    with transaction(engine) as session:
        held = packets.find_packet(session, jti)
    if not held:
        raise NotFound(f"no packet {jti} is held here")
    return held[0]


def _record_refusal(
    engine: Engine, row: StoredPacket, recipients: Sequence[str], *, actor: str, now: datetime
) -> None:
    """Record a relay the handling code forbids (``relay.refused``)."""
    with transaction(engine) as session:
        auditlog.append(
            session,
            [
                Act(
                    "relay.refused",
                    actor,
                    jti=row.jti,
                    fields={
                        "digest": row.digest,
                        "hc": row.hc,
                        "issuer": row.issuer,
                        "recipients": sorted(set(recipients)),
                    },
                )
            ],
            now=now,
        )


def _cut_views(
    row: StoredPacket,
    recipients: Sequence[str],
    manifest: Manifest,
    *,
    holder: str,
    now: datetime,
) -> tuple[dict[str, str], Relayed]:
    """Per recipient, the view ``holder`` holds cut to what the policy grants it, checked
    as the recipient will check it; and the answer: what each view discloses, and why
    a recipient gets none."""
    spec = get_schema(row.schema_id)
    views: dict[str, str] = {}
    relayed = Relayed(row.jti, {}, {})
    for recipient in sorted(set(recipients)):
        if recipient in (holder, row.issuer):
            relayed.skipped[recipient] = "it is this node or the packet's issuer"
            continue
        granted = manifest.sharing.granted_claims(spec, recipient)
        if not granted:
            relayed.skipped[recipient] = f"the policy grants it nothing of {spec.id}"
            continue
        try:
            view = make_view(row.raw, granted)
            shown = verify_view(view, manifest, recipient=recipient, now=now)
        except ProtocolError as exc:
            relayed.skipped[recipient] = f"no view can be made: {exc}"
            continue
        views[recipient] = view
        relayed.queued[recipient] = sorted(shown.disclosed)
    return views, relayed


def _queue(
    engine: Engine,
    row: StoredPacket,
    views: Mapping[str, str],
    queued: Mapping[str, list[str]],
    *,
    actor: str,
    policy: str,
    now: datetime,
) -> None:
    """Queue the views and record each (``view.queued``, naming the issuer relayed for)."""
    ref = PacketRef(row.jti, row.digest)
    with transaction(engine) as session:
        outbox.enqueue(session, [(int(row.id or 0), ref, views)], now=now)
        auditlog.append(
            session,
            [
                acts.view_queued(
                    actor,
                    recipient,
                    [{"jti": row.jti, "digest": row.digest, "fields": fields}],
                    policy,
                    relay=row.issuer,
                )
                for recipient, fields in queued.items()
            ],
            now=now,
        )
