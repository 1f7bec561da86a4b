"""The audit entries each service writes, built in one place so they stay uniform.

Actors: ``token:<name>`` (a local user or system, by its token's name),
``peer:<id>`` (a peer's signed request), ``node:<id>`` (this node's own workers).
Entries carry packet references, peers and field *names*, never field values.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from protocol.audit import Act
from protocol.encoding import canonical_json
from protocol.manifest import Manifest
from protocol.packet import IssuedPacket, PacketRef

__all__ = [
    "node_actor",
    "packet_issued",
    "packet_received",
    "peer_actor",
    "policy_digest",
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


def packet_issued(actor: str, packet: IssuedPacket, **fields: object) -> Act:
    return Act(
        "packet.issued",
        actor,
        jti=packet.ref.jti,
        fields={"digest": packet.ref.digest, "schema": packet.schema, "hc": packet.hc, **fields},
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
) -> Act:
    fields: dict[str, object] = {"outcome": outcome, "via": via}
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
