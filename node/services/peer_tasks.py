"""One worker task per peer, for the peers of the manifest in force, and one round of it.

Delivery, catch-up and witnessing each run a loop per peer (:func:`run_per_peer`).
When a new manifest adds a participant, its loops start; when one is removed, they
stop; when a peer moves (a new ``base_url``), they restart with the new address. No
restart of the node is needed. A worker may run for some peers only (``only``, e.g.
the logs this node witnesses), derived again from each manifest switched to.

Each pass of such a loop, and of the manifest sync that talks to all peers in turn, is
a round (:func:`peer_round`): it runs under a request id of its own, and a round that
fails never ends the loop. A peer that cannot be reached
or refuses the request is an expected condition, logged at ``info``; anything else is
logged with its traceback. Only cancellation stops the loop; a loop that ends all the
same (a failure outside its rounds) is logged with its traceback and started again
after :data:`RESTART_AFTER_S`, so that no peer is left without its worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Collection, Coroutine
from typing import Any, TypeVar

from clearinghouse.node.context import NodeContext
from clearinghouse.node.logs import REQUEST_ID, new_request_id
from clearinghouse.node.transport.peer_client import (
    PeerClient,
    PeerRejectedRequest,
    PeerUnavailable,
)
from clearinghouse.protocol.manifest import Participant

__all__ = ["PeerLoop", "PeerSelection", "peer_round", "run_per_peer"]

log = logging.getLogger("clearinghouse.node")

#: A worker loop for one peer; it runs until cancelled.
PeerLoop = Callable[[NodeContext, PeerClient, Participant], Coroutine[Any, Any, None]]
#: The ids of the peers a worker runs for, under the manifest in force.
PeerSelection = Callable[[NodeContext], Collection[str]]

T = TypeVar("T")

#: Seconds before a worker loop that ended is started again (not at once: a loop that
#: fails as it starts must not spin).
RESTART_AFTER_S = 1.0


async def run_per_peer(
    ctx: NodeContext,
    client: PeerClient,
    name: str,
    loop: PeerLoop,
    *,
    only: PeerSelection | None = None,
) -> None:
    """Run ``loop`` for each peer (each of those ``only`` selects, if given) until
    cancelled, following manifest switches."""
    wake = ctx.manifest_signal.subscribe()
    running: dict[str, tuple[str, asyncio.Task[None]]] = {}
    try:
        while True:
            wake.clear()
            selected = None if only is None else set(only(ctx))
            peers = {p.id: p for p in ctx.peers}
            wanted = {i: p for i, p in peers.items() if selected is None or i in selected}
            ended = [p for p, (_, task) in running.items() if task.done()]
            for peer_id in ended:
                _report_ended(name, peer_id, running[peer_id][1])
            if ended:
                await asyncio.sleep(RESTART_AFTER_S)
            for peer_id, (url, task) in list(running.items()):
                peer = wanted.get(peer_id)
                if peer is not None and peer.base_url == url and not task.done():
                    continue
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
                del running[peer_id]
                if peer_id not in peers:
                    log.info("%s: %s left the federation; its worker stopped", name, peer_id)
                elif peer is None:
                    log.info("%s: no longer runs for %s; its worker stopped", name, peer_id)
            for peer_id, peer in wanted.items():
                if peer_id not in running:
                    task = asyncio.create_task(loop(ctx, client, peer), name=f"{name}-{peer_id}")
                    running[peer_id] = (peer.base_url, task)
            await _woken_or_ended(wake, [task for _, task in running.values()])
    finally:
        for _, task in running.values():
            task.cancel()
        for _, task in running.values():
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


async def _woken_or_ended(wake: asyncio.Event, tasks: Collection[asyncio.Task[None]]) -> None:
    """Wait until ``wake`` is set (a manifest switch) or one of ``tasks`` has ended."""
    woken = asyncio.create_task(wake.wait())
    try:
        await asyncio.wait({woken, *tasks}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        woken.cancel()


def _report_ended(name: str, peer_id: str, task: asyncio.Task[None]) -> None:
    """Log a worker loop that ended though nothing cancelled it (it is started again)."""
    failure = None if task.cancelled() else task.exception()
    log.error(
        "%s: the worker for %s ended; starting it again in %.0f s",
        name,
        peer_id,
        RESTART_AFTER_S,
        exc_info=failure,
    )


async def peer_round(
    logger: logging.Logger, what: str, round_: Callable[[], Awaitable[T]]
) -> T | None:
    """Run one round of a worker loop that talks to peers; its result, or None if it failed.

    The round gets a fresh request id (sent with its calls, on its log lines). ``what``
    names the round in the log (``"catch-up from dpa"``): a peer that is unavailable or
    refuses is logged as "<what> not possible now", any other failure as "<what> failed"
    with its traceback. Cancellation passes through.
    """
    REQUEST_ID.set(new_request_id())
    try:
        return await round_()
    except (PeerUnavailable, PeerRejectedRequest) as exc:
        logger.info("%s not possible now: %s", what, exc.log_detail)
    except asyncio.CancelledError:
        raise
    except Exception:  # never let one bad round stop the loop for good
        logger.exception("%s failed", what)
    return None
