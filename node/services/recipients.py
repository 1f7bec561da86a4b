"""Who gets a view of a packet this node issues, by the sharing policy in force.

Local ingest and the analysis pipeline both queue, for each packet they issue, one
view per participant the manifest's sharing policy grants something of the packet's
schema, cut to the claims granted (DESIGN.md, "Outbox"). An oversight authorisation
may add claims for one recipient (:func:`node.services.authorisations.authorised_unlocks`);
that is the caller's to add.
"""

from __future__ import annotations

from clearinghouse.protocol.manifest import Manifest
from clearinghouse.protocol.schemas import SchemaSpec

__all__ = ["policy_recipients"]


def policy_recipients(
    manifest: Manifest, spec: SchemaSpec, *, issuer: str
) -> dict[str, frozenset[str]]:
    """Every participant but ``issuer`` that the policy grants claims of ``spec``, with
    those claims, in the manifest's order of participants."""
    sharing = manifest.sharing
    return {
        participant.id: granted
        for participant in manifest.participants
        if participant.id != issuer and (granted := sharing.granted_claims(spec, participant.id))
    }
