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

from collections.abc import Sequence
from dataclasses import dataclass

from clearinghouse.node.context import NodeContext
from clearinghouse.node.errors import BadRequest, HandlingForbidden, NotFound
from clearinghouse.node.services import acts
from clearinghouse.node.storage import auditlog, outbox, packets
from clearinghouse.node.storage.db import transaction
from clearinghouse.protocol.audit import Act
from clearinghouse.protocol.errors import HandlingViolation, ProtocolError
from clearinghouse.protocol.handling import check_relay
from clearinghouse.protocol.packet import PacketRef, make_view, verify_view
from clearinghouse.protocol.schemas import get_schema

__all__ = ["Relayed", "relay_packet"]


@dataclass(frozen=True)
class Relayed:
    jti: str
    queued: dict[str, list[str]]  # recipient -> claim names its view discloses
    skipped: dict[str, str]  # recipient -> why nothing was queued


def relay_packet(ctx: NodeContext, jti: str, recipients: Sequence[str], *, actor: str) -> Relayed:
    """Queue views of held packet ``jti`` for ``recipients``; raise :class:`NotFound`,
    :class:`BadRequest` or :class:`HandlingForbidden` (recorded) saying why not."""
    now = ctx.clock.now()
    manifest = ctx.manifest
    with transaction(ctx.engine) as session:
        held = packets.find_packet(session, jti)
    if not held:
        raise NotFound(f"no packet {jti} is held here")
    row = held[0]
    for recipient in recipients:
        if recipient not in manifest.participant_ids:
            raise BadRequest(f"{recipient!r} is not a participant of {manifest.federation}")
    try:
        check_relay(row.hc, row.jti, row.issuer)
    except HandlingViolation as exc:
        with transaction(ctx.engine) as session:
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
        raise HandlingForbidden(exc.message) from exc
    spec = get_schema(row.schema_id)
    policy = acts.policy_digest(manifest)
    views: dict[str, str] = {}
    queued: dict[str, list[str]] = {}
    skipped: dict[str, str] = {}
    for recipient in sorted(set(recipients)):
        if recipient in (ctx.participant, row.issuer):
            skipped[recipient] = "it is this node or the packet's issuer"
            continue
        granted = manifest.sharing.granted_claims(spec, recipient)
        if not granted:
            skipped[recipient] = f"the policy grants it nothing of {spec.id}"
            continue
        try:
            view = make_view(row.raw, granted)
            shown = verify_view(view, manifest, recipient=recipient, now=now)
        except ProtocolError as exc:
            skipped[recipient] = f"no view can be made: {exc}"
            continue
        views[recipient] = view
        queued[recipient] = sorted(shown.disclosed)
    if views:
        ref = PacketRef(row.jti, row.digest)
        with transaction(ctx.engine) as session:
            outbox.enqueue(session, [(int(row.id or 0), ref, views)], now=now)
            auditlog.append(
                session,
                [
                    Act(
                        "view.queued",
                        actor,
                        peer=recipient,
                        jti=row.jti,
                        fields={
                            "digest": row.digest,
                            "fields": fields,
                            "policy": policy,
                            "relay": row.issuer,
                        },
                    )
                    for recipient, fields in queued.items()
                ],
                now=now,
            )
        ctx.outbox_signal.set()
    return Relayed(row.jti, queued, skipped)
