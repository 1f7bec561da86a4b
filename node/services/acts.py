"""The audit entries each service writes, built in one place so they stay uniform.

Actors: ``token:<name>`` (a local user or system, by its token's name),
``person:<id>`` (a person signed in through the node's OpenID Connect provider, by
pseudonymous id: :mod:`node.auth.people`), ``peer:<id>`` (a peer's signed request),
``node:<id>`` (this node's own workers).
Entries carry packet references, peers and field *names*, never field values.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping

from clearinghouse.protocol.audit import Act, format_time
from clearinghouse.protocol.authorisation import Authorisation
from clearinghouse.protocol.encoding import canonical_json
from clearinghouse.protocol.manifest import Manifest
from clearinghouse.protocol.packet import IssuedPacket, PacketRef

__all__ = [
    "authorisation_accepted",
    "authorisation_used",
    "data_read",
    "manifest_chain_broken",
    "node_actor",
    "packet_issued",
    "packet_received",
    "peer_actor",
    "policy_digest",
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
    return hashlib.sha256(canonical_json(manifest.policy)).hexdigest()


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


def view_queued(
    actor: str, packet: IssuedPacket, recipient: str, granted: Iterable[str], policy: str
) -> Act:
    """A view owed to ``recipient``: the names of the claims it discloses."""
    disclosed = sorted(c for c in granted if packet.disclosures_by_claim.get(c))
    return Act(
        "view.queued",
        actor,
        peer=recipient,
        jti=packet.ref.jti,
        fields={"digest": packet.ref.digest, "fields": disclosed, "policy": policy},
    )


def view_sent(
    actor: str,
    recipient: str,
    jti: str,
    digest: str,
    via: str,
    *,
    status: str | None = None,
    receipt: object = None,
    reason: str | None = None,
) -> Act:
    """A view handed to ``recipient``: pushed (with the receipt the peer signed for it:
    its status, its SHA-256, the reason of a refusal) or offered in a catch-up page."""
    fields: dict[str, object] = {"digest": digest, "via": via}
    if status is not None:
        fields["status"] = status
    if isinstance(receipt, str):
        fields["receipt"] = hashlib.sha256(receipt.encode()).hexdigest()
    if reason:
        fields["reason"] = reason
    return Act("view.sent", actor, peer=recipient, jti=jti, fields=fields)


def packet_received(
    peer: str,
    ref: PacketRef | None,
    outcome: str,
    via: str,
    code: str | None = None,
    reason: str | None = None,
    *,
    widened: bool = False,
) -> Act:
    """A view received; ``widened``: a duplicate that replaced the narrower view held,
    under an oversight authorisation (recorded beside it as ``authorisation.used``)."""
    fields: dict[str, object] = {"outcome": outcome, "via": via}
    if widened:
        fields["widened"] = True
    if ref is not None:
        fields["digest"] = ref.digest
    if code:
        fields["code"] = code
    if reason:
        fields["reason"] = reason[:500]
    return Act(
        "packet.received",
        peer_actor(peer),
        peer=peer,
        jti=ref.jti if ref is not None else None,
        fields=fields,
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
