"""Catch-up: pull from each peer the views it still owes us (``GET /v1/packets``).

A node that was offline (a field mission on an intermittent link) pulls what it
missed as soon as it is back, and then every ``catchup_interval_s`` from each peer
that has not pushed to it within that interval (a peer that pushes needs no pull). Each page is
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

from clearinghouse.node.context import NodeContext
from clearinghouse.node.logs import REQUEST_ID, new_request_id
from clearinghouse.node.services.peer_tasks import run_per_peer
from clearinghouse.node.services.receive import receive_views
from clearinghouse.node.storage import peers
from clearinghouse.node.storage.db import transaction
from clearinghouse.node.transport.peer_client import (
    PeerClient,
    PeerRejectedRequest,
    PeerUnavailable,
)
from clearinghouse.protocol.manifest import Participant

__all__ = ["catch_up", "run_catchup"]

log = logging.getLogger("clearinghouse.catchup")


async def catch_up(ctx: NodeContext, client: PeerClient, peer: Participant) -> int:
    """Pull every page ``peer`` has for us now; return how many views arrived."""
    total = 0

    def cursor() -> int:
        with transaction(ctx.engine) as session:
            return peers.get_cursor(session, peer.id)

    since = await asyncio.to_thread(cursor)
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
        deferred = [o.index for o in outcomes if o.status == "deferred"]
        # up to the view before the first deferred one (the peer's cursors only grow)
        reached = page.items[deferred[0] - 1][0] if deferred and deferred[0] else since
        since = max(reached if deferred else page.next_cursor, since)

        def advance(value: int = since) -> None:
            with transaction(ctx.engine) as session:
                peers.set_cursor(session, peer.id, value, ctx.clock.now())

        await asyncio.to_thread(advance)
        total += len(views)
        if deferred:
            return total  # the rest again next round, from the deferred view on


async def _peer_loop(ctx: NodeContext, client: PeerClient, peer: Participant) -> None:
    interval = ctx.settings.delivery.catchup_interval_s
    while True:
        last_push = ctx.last_push.get(peer.id)
        if last_push is not None and time.monotonic() - last_push < interval:
            # The peer is pushing to us: its feed would only repeat what arrives anyway.
            await asyncio.sleep(interval)
            continue
        REQUEST_ID.set(new_request_id())  # sent with this round's calls, on its log lines
        try:
            pulled = await catch_up(ctx, client, peer)
            if pulled:
                log.info("caught up %d view(s) from %s", pulled, peer.id)
        except (PeerUnavailable, PeerRejectedRequest) as exc:
            log.info("catch-up from %s not possible now: %s", peer.id, exc.log_detail)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("catch-up from %s failed", peer.id)
        await asyncio.sleep(interval)


async def run_catchup(ctx: NodeContext, client: PeerClient) -> None:
    await run_per_peer(ctx, client, "catchup", _peer_loop)
