"""Housekeeping: forget request nonces once they are too old to be replayed.

A request whose ``created`` is outside the signature window is refused as stale,
so its nonce need not be remembered past that window; without this the
``seen_nonce`` table would grow by one row per peer request forever.
"""

from __future__ import annotations

import asyncio
import logging

from node.context import NodeContext
from node.storage import peers
from node.storage.db import transaction

__all__ = ["forget_old_nonces", "run_housekeeping"]

log = logging.getLogger("clearinghouse.housekeeping")


def forget_old_nonces(ctx: NodeContext) -> int:
    """Delete nonces older than twice the signature window; return how many."""
    before = ctx.clock.now() - 2 * ctx.signature_window
    with transaction(ctx.engine) as session:
        return peers.purge_nonces(session, before=before)


async def run_housekeeping(ctx: NodeContext) -> None:
    """Purge old nonces once per signature window, until cancelled."""
    while True:
        await asyncio.sleep(ctx.signature_window.total_seconds())
        try:
            await asyncio.to_thread(forget_old_nonces, ctx)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("housekeeping failed; trying again later")
