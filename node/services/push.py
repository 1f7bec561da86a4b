"""Taking a batch a peer pushes (``POST /v1/packets``): noted, then received view by view.

The push is noted first, in :attr:`NodeContext.last_push <node.context.NodeContext.last_push>`
(monotonic seconds, per peer): catch-up (:mod:`node.services.catchup`) leaves a peer that
pushes alone, since its feed would only repeat what arrives anyway, and ends a round early
when the peer pushes again meanwhile. The views are then received as
:func:`node.services.receive.receive_views` does: each verified, stored or refused,
audited, and answered with a signed receipt.

The batch's shape and the peer's quotas are checked by the route before this runs.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from clearinghouse.node.context import NodeContext
from clearinghouse.node.services.receive import Outcome, receive_views

__all__ = ["note_push", "take_pushed_batch"]


def note_push(ctx: NodeContext, peer: str) -> None:
    """Remember that ``peer`` pushed to this node now (catch-up reads it)."""
    ctx.last_push[peer] = time.monotonic()


def take_pushed_batch(
    ctx: NodeContext, *, peer: str, views: Sequence[Any], authorisations: Sequence[Any]
) -> list[Outcome]:
    """Note the push, then receive ``views`` (with the ``authorisations`` they rely on):
    one outcome per view, in order, each with its signed receipt."""
    note_push(ctx, peer)
    return receive_views(ctx, peer=peer, views=views, authorisations=authorisations)
