"""One worker task per peer, for the peers of the manifest in force.

Delivery, catch-up and witnessing each run a loop per peer. When a new manifest
adds a participant, its loops start; when one is removed, they stop; when a peer
moves (a new ``base_url``), they restart with the new address. No restart of the
node is needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from clearinghouse.node.context import NodeContext
from clearinghouse.node.transport.peer_client import PeerClient
from clearinghouse.protocol.manifest import Participant

__all__ = ["PeerLoop", "run_per_peer"]

log = logging.getLogger("clearinghouse.node")

PeerLoop = Callable[[NodeContext, PeerClient, Participant], Awaitable[None]]


async def run_per_peer(ctx: NodeContext, client: PeerClient, name: str, loop: PeerLoop) -> None:
    """Run ``loop`` for each peer until cancelled, following manifest switches."""
    wake = ctx.manifest_signal.subscribe()
    running: dict[str, tuple[str, asyncio.Task[None]]] = {}
    try:
        while True:
            wake.clear()
            wanted = {p.id: p for p in ctx.peers}
            for peer_id, (url, task) in list(running.items()):
                peer = wanted.get(peer_id)
                if peer is not None and peer.base_url == url and not task.done():
                    continue
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
                del running[peer_id]
                if peer is None:
                    log.info("%s: %s left the federation; its worker stopped", name, peer_id)
            for peer_id, peer in wanted.items():
                if peer_id not in running:
                    task = asyncio.create_task(loop(ctx, client, peer), name=f"{name}-{peer_id}")
                    running[peer_id] = (peer.base_url, task)
            await wake.wait()
    finally:
        for _, task in running.values():
            task.cancel()
        for _, task in running.values():
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
