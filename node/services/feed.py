"""Serving the catch-up feed: the views this node still owes a peer, page by page.

``GET /v1/packets?since=C`` (DESIGN.md, "Catch-up"). The peer's cursor ``C`` is the
last view it stored, so asking acknowledges everything up to ``C`` as delivered
(:func:`node.storage.outbox.ack_through`); the page is then the views still pending for
that peer after ``C``, each marked as offered. Views queued before the manifest in force
was accepted, or relying on an oversight authorisation, go out as
:func:`node.services.authorisations.outgoing` cuts them now, with the authorisations
they rely on; the page is written to the audit log as one ``view.sent`` entry (by
catch-up) listing its views.
All of it is one transaction: a page that is not committed was neither offered nor
audited.

The client side, pulling peers' feeds, is :mod:`node.services.catchup`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from clearinghouse.node.context import NodeContext
from clearinghouse.node.services import acts
from clearinghouse.node.services.authorisations import outgoing
from clearinghouse.node.storage import auditlog, outbox
from clearinghouse.node.storage.db import transaction

__all__ = ["FeedPage", "serve_feed"]


@dataclass(frozen=True)
class FeedPage:
    """One page of the feed: ``(cursor, view)`` in cursor order, the cursor to ask after
    next (``since`` again when the page is empty), and the authorisations relied on."""

    items: list[tuple[int, str]]
    next_cursor: int
    authorisations: list[dict[str, Any]]


def serve_feed(ctx: NodeContext, *, peer: str, since: int, limit: int) -> FeedPage:
    """Acknowledge ``peer``'s views through ``since`` and return the next ``limit`` it is owed."""
    now = ctx.clock.now()
    with transaction(ctx.engine) as session:
        # (1) acknowledge: the peer stored every view up to its cursor
        acknowledged = outbox.ack_through(session, recipient=peer, cursor=since, now=now)
        # (2) page: the views still owed after the cursor, marked as offered
        items = outbox.feed(session, recipient=peer, after=since, limit=limit, now=now)
        # (3) cut: each view as it may go now, with the authorisations relied on
        views, authorisations = outgoing(ctx, items, now, session)
        # (4) audit: the page offered, as sent by catch-up
        if items:
            actor = acts.node_actor(ctx.participant)
            offered = [acts.SentView(i.jti, i.digest) for i in items]
            auditlog.append(session, [acts.view_sent(actor, peer, offered, "catch-up")], now=now)
    if acknowledged:
        ctx.metrics.views_out.labels(peer=peer).inc(acknowledged)
    cursors = [int(i.id) for i in items]
    return FeedPage(
        items=list(zip(cursors, views, strict=True)),
        next_cursor=cursors[-1] if cursors else since,
        authorisations=authorisations,
    )
