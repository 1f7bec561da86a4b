"""The audit entries each service writes, built in one place so they stay uniform.

Actors: ``token:<name>`` (a local user or system, by its token's name),
``person:<id>`` (a person signed in through the node's OpenID Connect provider, by
pseudonymous id: :mod:`node.auth.people`), ``peer:<id>`` (a peer's signed request),
``node:<id>`` (this node's own workers).
Entries carry packet references, peers and field *names*, never field values.
The acts on views record one entry per batch and peer, listing its views
(:mod:`protocol.audit`): :func:`view_queued`, :func:`view_sent`, :func:`packet_received`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from clearinghouse.protocol.audit import Act, format_time
from clearinghouse.protocol.authorisation import Authorisation
from clearinghouse.protocol.manifest import Manifest
from clearinghouse.protocol.packet import IssuedPacket, PacketRef

__all__ = [
    "ReceivedView",
    "SentView",
    "authorisation_accepted",
    "authorisation_used",
    "data_read",
    "manifest_chain_broken",
    "node_actor",
    "packet_issued",
    "packet_received",
    "peer_actor",
    "policy_digest",
    "queued_view",
    "session_ended",
    "session_started",
    "token_actor",
    "view_queued",
    "view_sent",
]


def token_actor(name: str) -> str:
    return f"token:{name}"


def peer_actor(peer: str) -> str:
    return f"peer:{peer}"


def node_actor(participant: str) -> str:
    return f"node:{participant}"


def policy_digest(manifest: Manifest) -> str:
    """SHA-256 (hex) of the manifest's sharing policy in canonical JSON."""
    return manifest.policy_sha256


def manifest_chain_broken(actor: str, serial: int, sha256: str, after: int, reason: str) -> Act:
    """A stored manifest (``serial``, its document's ``sha256``) that does not follow from
    serial ``after`` before it, and why: the node neither starts on it nor switches to it."""
    return Act(
        "manifest.chain_broken",
        actor,
        fields={"serial": serial, "sha256": sha256, "after": after, "reason": reason[:500]},
    )


def packet_issued(actor: str, packet: IssuedPacket, kid: str, **fields: object) -> Act:
    """A packet this node issued and signed with key ``kid`` (the audit tools check that
    the key was valid and not revoked at the entry's time)."""
    return Act(
        "packet.issued",
        actor,
        jti=packet.ref.jti,
        fields={
            "digest": packet.ref.digest,
            "schema": packet.schema,
            "hc": packet.hc,
            "kid": kid,
            **fields,
        },
    )


def queued_view(
    packet: IssuedPacket, granted: Iterable[str], *, authorisation: str | None = None
) -> dict[str, object]:
    """One view of a ``view.queued`` entry: the packet, the names of the claims the view
    discloses (of those ``granted``, the ones the packet has) and the oversight
    ``authorisation`` it relies on to disclose more than the policy grants, if any."""
    by_claim = packet.disclosures_by_claim  # one look-up, not one per claim: per view queued
    disclosed = sorted([c for c in granted if by_claim.get(c)])
    view: dict[str, object] = {
        "jti": packet.ref.jti,
        "digest": packet.ref.digest,
        "fields": disclosed,
    }
    if authorisation is not None:
        view["authorisation"] = authorisation
    return view


def view_queued(
    actor: str,
    recipient: str,
    views: Sequence[dict[str, object]],
    policy: str,
    **fields: object,
) -> Act:
    """Views owed to ``recipient``, one entry per batch: each view as
    :func:`queued_view` makes it, in batch order, the digest of the sharing policy in
    force, and ``fields`` (``relay``: the issuer a relayed packet is queued for,
    ``authorisation``: the authorisation that queued them)."""
    return _batch("view.queued", actor, recipient, views, {"policy": policy, **fields})


@dataclass(frozen=True, slots=True)
class SentView:
    """One view handed to a peer: pushed, with what the receipt covering it says (its
    ``status`` and the ``reason`` of a refusal) and that receipt's exact ``receipt``
    text; or offered in a catch-up page (status and receipt None)."""

    jti: str
    digest: str
    status: str | None = None
    reason: str | None = None
    receipt: str | None = None


def view_sent(actor: str, recipient: str, views: Sequence[SentView], via: str) -> Act:
    """Views handed to ``recipient``, one entry per batch pushed (or catch-up page
    served), in batch order. The receipts are recorded by SHA-256, each distinct text
    once (``receipts``; a receipt for the whole batch is hashed once); when they are
    several, each view names its own by index (``receipt``)."""
    hashes: dict[str, int] = {}
    for view in views:
        if view.receipt is not None and view.receipt not in hashes:
            hashes[view.receipt] = len(hashes)
    indexed = len(hashes) > 1 or (bool(hashes) and any(v.receipt is None for v in views))
    listed = []
    for view in views:
        item: dict[str, object] = {"jti": view.jti, "digest": view.digest}
        if view.status is not None:
            item["status"] = view.status
        if view.reason:
            item["reason"] = view.reason
        if indexed and view.receipt is not None:
            item["receipt"] = hashes[view.receipt]
        listed.append(item)
    fields: dict[str, object] = {"via": via}
    if hashes:
        fields["receipts"] = [hashlib.sha256(text.encode()).hexdigest() for text in hashes]
    return _batch("view.sent", actor, recipient, listed, fields)


@dataclass(frozen=True, slots=True)
class ReceivedView:
    """What became of one view of a batch received: its packet (None when the view did
    not name one), ``outcome``, the refusal's ``code`` and ``reason``, and ``widened``:
    a duplicate that replaced the narrower view held, under an oversight authorisation
    (recorded beside it as ``authorisation.used``)."""

    ref: PacketRef | None
    outcome: str
    code: str | None = None
    reason: str | None = None
    widened: bool = False


def packet_received(peer: str, views: Sequence[ReceivedView], via: str) -> Act:
    """A batch of views from ``peer`` (pushed or pulled by catch-up, ``via``), one entry
    with each view's outcome in batch order; a reason is cut to 500 characters."""
    listed = []
    for view in views:
        item: dict[str, object] = {}
        if view.ref is not None:
            item["jti"], item["digest"] = view.ref.jti, view.ref.digest
        item["outcome"] = view.outcome
        if view.code:
            item["code"] = view.code
        if view.reason:
            item["reason"] = view.reason[:500]
        if view.widened:
            item["widened"] = True
        listed.append(item)
    return _batch("packet.received", peer_actor(peer), peer, listed, {"via": via})


def _batch(
    act: str,
    actor: str,
    peer: str,
    views: Sequence[dict[str, object]],
    fields: Mapping[str, object],
) -> Act:
    """An entry for a batch of ``views`` with ``peer``: a batch of exactly one view also
    names its packet at the top level (:mod:`protocol.audit`)."""
    single = views[0].get("jti") if len(views) == 1 else None
    return Act(
        act,
        actor,
        peer=peer,
        jti=single if isinstance(single, str) else None,
        fields={**fields, "views": list(views)},
    )


def authorisation_accepted(actor: str, authorisation: Authorisation) -> Act:
    """An oversight authorisation taken on: who signed it, for whom, what, until when.
    The purpose is recorded by its SHA-256 only (it may name what is investigated)."""
    a = authorisation
    return Act(
        "authorisation.accepted",
        actor,
        peer=a.recipient,
        fields={
            "id": a.id,
            "issuer": a.issuer,
            "recipient": a.recipient,
            "fields": sorted(a.fields),
            "scope": a.document()["scope"],
            "purpose_sha256": hashlib.sha256(a.purpose.encode()).hexdigest(),
            "issued_at": format_time(a.issued_at),
            "expires_at": format_time(a.expires_at),
        },
    )


def authorisation_used(
    actor: str, authorisation: Authorisation, *, peer: str, jti: str, digest: str, fields: object
) -> Act:
    """Fields beyond the policy disclosed in one view under ``authorisation`` (``peer``:
    the recipient at the originator, the originator at the recipient)."""
    return Act(
        "authorisation.used",
        actor,
        peer=peer,
        jti=jti,
        fields={
            "id": authorisation.id,
            "recipient": authorisation.recipient,
            "digest": digest,
            "fields": fields,
        },
    )


#: The most jtis a ``data.read`` entry lists; a larger read lists the first ones, its
#: count and the SHA-256 of all of them (newline-separated, in the order served).
READ_JTIS_LISTED = 100


def data_read(
    actor: str,
    what: str,
    *,
    jti: str | None = None,
    jtis: Iterable[str] = (),
    details: Mapping[str, object] | None = None,
) -> Act:
    """``actor`` read shared data: ``what`` (``packet``, ``packets``, ``result``,
    ``situation``, ``area``, ``actor``, ``export``, ``audit``), the one packet ``jti`` or
    the packets ``jtis`` it was shown, and the filters or entries it asked for
    (``details``, those None left out)."""
    listed = list(jtis)
    shown: dict[str, object] = {k: v for k, v in (details or {}).items() if v is not None}
    if listed:
        shown["count"] = len(listed)
        shown["jtis"] = listed[:READ_JTIS_LISTED]
        if len(listed) > READ_JTIS_LISTED:
            shown["jtis_sha256"] = hashlib.sha256("\n".join(listed).encode()).hexdigest()
    return Act("data.read", actor, jti=jti, fields={"what": what, **shown})


def session_started(actor: str, how: str) -> Act:
    """``actor`` signed in to the web pages ``how`` (``oidc``, ``token`` or ``link``)."""
    return Act("session.started", actor, fields={"how": how})


def session_ended(actor: str) -> Act:
    return Act("session.ended", actor)
