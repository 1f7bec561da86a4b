"""The packets this node holds, listed for its own systems (``GET /v1/local/packets``).

Issued here (origin ``local``) or received from a peer (origin: that peer), in the
order they were stored, paged by the stored id. Each was verified when it was
stored; :func:`pseudonym_epoch` reads the pseudonym epoch a packet names without
verifying it again (in the worker thread that reads the page: it decodes the packet).
"""

from __future__ import annotations

from dataclasses import dataclass

from clearinghouse.node.context import NodeContext
from clearinghouse.node.storage import packets
from clearinghouse.node.storage.db import transaction
from clearinghouse.node.storage.models import StoredPacket
from clearinghouse.protocol.errors import ProtocolError
from clearinghouse.protocol.packet import stored_epoch

__all__ = ["HeldPacket", "list_held_packets", "pseudonym_epoch"]


@dataclass(frozen=True)
class HeldPacket:
    """A stored packet and the pseudonym epoch it names (None: no pseudonymised field)."""

    packet: StoredPacket
    epoch: str | None


def list_held_packets(
    ctx: NodeContext,
    *,
    schema: str | None,
    issuer: str | None,
    origin: str | None,
    after: int,
    limit: int,
) -> list[HeldPacket]:
    """Up to ``limit`` packets stored after id ``after`` matching the filters given, in order."""
    with transaction(ctx.engine) as session:
        rows = packets.list_packets(
            session, schema=schema, issuer=issuer, origin=origin, after_id=after, limit=limit
        )
    return [HeldPacket(row, pseudonym_epoch(row.raw)) for row in rows]


def pseudonym_epoch(raw: str) -> str | None:
    """The pseudonym epoch a stored packet names (it was verified when stored); None if it
    names none, or if ``raw`` does not even parse (shown as unknown, never raised)."""
    try:
        return stored_epoch(raw)
    except ProtocolError:
        return None
