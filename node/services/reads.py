"""Reading shared data is an audited act: who read which packet, result, export or
audit entry, and when (the seed paper's oversight demands it).

Each read by a person or a local client (never a peer's protocol call: witnessing and
catch-up are audited as what they are) appends one ``data.read`` entry
(:func:`node.services.acts.data_read`) before the answer leaves, in its own
transaction: a read whose entry cannot be written is not answered.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from clearinghouse.node.context import NodeContext
from clearinghouse.node.services import acts
from clearinghouse.node.storage import auditlog
from clearinghouse.node.storage.db import transaction

__all__ = ["record_read"]


def record_read(
    ctx: NodeContext,
    actor: str,
    what: str,
    *,
    jti: str | None = None,
    jtis: Iterable[str] = (),
    details: Mapping[str, object] | None = None,
) -> None:
    """Append ``actor``'s read of ``what`` to the audit log (see :func:`acts.data_read`);
    ``details``: the filters or entries asked for (None ones left out)."""
    act = acts.data_read(actor, what, jti=jti, jtis=jtis, details=details)
    with transaction(ctx.engine) as session:
        auditlog.append(session, [act], now=ctx.clock.now())
