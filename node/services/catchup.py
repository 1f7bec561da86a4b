"""Catch-up: pull from each peer the views it still owes us (``GET /v1/packets``).

A node that was offline (a field mission on an intermittent link) pulls what it
missed as soon as it is back, and then every ``catchup_interval_s`` from each peer
that has not pushed to it within that interval (a peer that pushes needs no pull), less
often (doubling up to ``catchup_idle_max_s``) while the peer's feed stays empty. Each page is
received like a pushed batch; the cursor moves only after the page is stored, and
the next request's ``since`` tells the peer everything before it arrived. A view
deferred (issued in the future by this node's clock) is not acknowledged: the cursor
stops before it and the round ends, so that the peer offers it again next time (and
its delivery worker keeps it pending, within its own bound).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

from sqlalchemy import Engine

from clearinghouse.node.clock import Clock
from clearinghouse.node.context import NodeContext
from clearinghouse.node.services.peer_tasks import peer_round, run_per_peer
from clearinghouse.node.services.receive import Outcome, receive_views
from clearinghouse.node.storage import peers
from clearinghouse.node.storage.db import transaction
from clearinghouse.node.transport.peer_client import FeedPage, PeerClient
from clearinghouse.protocol.manifest import Participant

__all__ = ["catch_up", "run_catchup"]

log = logging.getLogger("clearinghouse.catchup")


async def catch_up(ctx: NodeContext, client: PeerClient, peer: Participant) -> int:
    """Pull every page ``peer`` has for us now; return how many views arrived."""
    total = 0
    since = await asyncio.to_thread(_read_cursor, ctx.engine, peer.id)
    started = time.monotonic()
    while True:
        if ctx.last_push.get(peer.id, 0.0) > started:
            return total  # the peer pushes again: it will bring the rest itself
        page = await client.get_views(
            peer.base_url, since=since, limit=ctx.settings.delivery.catchup_batch
        )
        if not page.items:
            return total
        views = [view for _, view in page.items]
        outcomes = await asyncio.to_thread(
            receive_views,
            ctx,
            peer=peer.id,
            views=views,
            sign=False,
            via="catch-up",
            authorisations=page.authorisations,
        )
        since, deferred = _acknowledged(page, outcomes, since)
        await asyncio.to_thread(_write_cursor, ctx.engine, peer.id, since, ctx.clock)
        total += len(views)
        if deferred:
            return total  # the rest again next round, from the deferred view on


def _acknowledged(page: FeedPage, outcomes: Sequence[Outcome], since: int) -> tuple[int, bool]:
    """The cursor to acknowledge once ``page`` is stored, and whether a view was deferred:
    then up to the view before the first deferred one, so that the peer offers it again
    (a cursor never moves back: the peer's cursors only grow)."""
    deferred = [o.index for o in outcomes if o.status == "deferred"]
    if not deferred:
        return max(page.next_cursor, since), False
    reached = page.items[deferred[0] - 1][0] if deferred[0] else since
    return max(reached, since), True


def _read_cursor(engine: Engine, peer: str) -> int:
    with transaction(engine) as session:
        return peers.get_cursor(session, peer)


def _write_cursor(engine: Engine, peer: str, value: int, clock: Clock) -> None:
    with transaction(engine) as session:
        peers.set_cursor(session, peer, value, clock.now())


async def _peer_loop(ctx: NodeContext, client: PeerClient, peer: Participant) -> None:
    interval = ctx.settings.delivery.catchup_interval_s
    idle_max = max(interval, ctx.settings.delivery.catchup_idle_max_s)
    wait = interval
    while True:
        last_push = ctx.last_push.get(peer.id)
        if last_push is not None and time.monotonic() - last_push < interval:
            # The peer is pushing to us: its feed would only repeat what arrives anyway.
            wait = interval
            await asyncio.sleep(interval)
            continue
        pulled = await peer_round(
            log, f"catch-up from {peer.id}", lambda: catch_up(ctx, client, peer)
        )
        if pulled:
            log.info("caught up %d view(s) from %s", pulled, peer.id)
        # An empty feed is asked again less and less often: every node pulling from every
        # peer is n(n - 1) signed requests per interval, and a peer with views for us
        # pushes them. A failed pull (None) resets the pace: we may be the one cut off.
        wait = min(wait * 2, idle_max) if pulled == 0 else interval
        await asyncio.sleep(wait)


async def run_catchup(ctx: NodeContext, client: PeerClient) -> None:
    """Catch up from every peer until cancelled."""
    await run_per_peer(ctx, client, "catchup", _peer_loop)
