"""Taking a batch a peer pushes (``POST /v1/packets``): noted, then received view by view.

The push is noted first, in :attr:`NodeContext.last_push <node.context.NodeContext.last_push>`
(monotonic seconds, per peer): catch-up (:mod:`node.services.catchup`) leaves a peer that
pushes alone, since its feed would only repeat what arrives anyway, and ends a round early
when the peer pushes again meanwhile. The views are then received as
:func:`node.services.receive.receive_views` does: each verified, stored or refused,
and audited; and answered with one signed receipt over the whole batch, when the peer
asks for it (with the SHA-256 of the request body, which the receipt names), else, as
an older peer expects, with a signed receipt per view.

The batch's shape and the peer's quotas are checked by the route before this runs.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from clearinghouse.node.context import NodeContext
from clearinghouse.node.services.receive import Outcome, batch_receipt, receive_views

__all__ = ["Taken", "note_push", "take_pushed_batch"]


@dataclass(frozen=True)
class Taken:
    """What became of a pushed batch: one outcome per view, in order, and the batch
    receipt when one was asked for (else each outcome holds its own receipt)."""

    outcomes: list[Outcome]
    receipt: str | None = None


def note_push(ctx: NodeContext, peer: str) -> None:
    """Remember that ``peer`` pushed to this node now (catch-up reads it)."""
    ctx.last_push[peer] = time.monotonic()


def take_pushed_batch(
    ctx: NodeContext,
    *,
    peer: str,
    views: Sequence[Any],
    authorisations: Sequence[Any],
    request_sha256: str | None = None,
) -> Taken:
    """Note the push, then receive ``views`` (with the ``authorisations`` they rely on):
    one outcome per view, in order, and one receipt over them all for the request whose
    body has SHA-256 ``request_sha256`` or, without it, a signed receipt per view."""
    note_push(ctx, peer)
    if request_sha256 is None:
        return Taken(receive_views(ctx, peer=peer, views=views, authorisations=authorisations))
    outcomes = receive_views(ctx, peer=peer, views=views, authorisations=authorisations, sign=False)
    receipt = batch_receipt(
        outcomes,
        receiver=ctx.participant,
        sender=peer,
        signing=ctx.signing,
        now=ctx.clock.now(),
        request_sha256=request_sha256,
    )
    return Taken(outcomes, receipt)
