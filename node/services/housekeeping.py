"""Housekeeping: forget request nonces once they are too old to be replayed, and
refused views once past their retention period.

A request whose ``created`` is outside the signature window is refused as stale,
so its nonce need not be remembered past that window; without this the
``seen_nonce`` table would grow by one row per peer request forever. A refused view's
record (``inbound_refusal``: digest, header and reason) is kept for operators to
inspect for ``refusal_retention_days``, then deleted. Web sessions past their idle or
absolute end, and sign-ins at the provider that never came back, are deleted too.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from clearinghouse.node.context import NodeContext
from clearinghouse.node.storage import packets, peers, sessions
from clearinghouse.node.storage.db import transaction

__all__ = ["forget_ended_sessions", "forget_old_nonces", "forget_old_refusals", "run_housekeeping"]

log = logging.getLogger("clearinghouse.housekeeping")


def forget_old_nonces(ctx: NodeContext) -> int:
    """Delete nonces older than twice the signature window; return how many."""
    before = ctx.clock.now() - 2 * ctx.signature_window
    with transaction(ctx.engine) as session:
        return peers.purge_nonces(session, before=before)


def forget_old_refusals(ctx: NodeContext) -> int:
    """Delete refusals older than ``refusal_retention_days``; return how many."""
    before = ctx.clock.now() - timedelta(days=ctx.settings.refusal_retention_days)
    with transaction(ctx.engine) as session:
        return packets.purge_refusals(session, before=before)


def forget_ended_sessions(ctx: NodeContext) -> int:
    """Delete sessions past their idle or absolute end and expired pending sign-ins."""
    now = ctx.clock.now()
    idle_before = now - timedelta(seconds=ctx.settings.session.idle_s)
    with transaction(ctx.engine) as session:
        return sessions.purge(session, now, idle_before)


def _tidy(ctx: NodeContext) -> None:
    forget_old_nonces(ctx)
    forget_ended_sessions(ctx)
    if purged := forget_old_refusals(ctx):
        log.info("purged %d refused view record(s) past their retention period", purged)


async def run_housekeeping(ctx: NodeContext) -> None:
    """Purge old nonces and refusals once per signature window, until cancelled."""
    while True:
        await asyncio.sleep(ctx.signature_window.total_seconds())
        try:
            await asyncio.to_thread(_tidy, ctx)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("housekeeping failed; trying again later")
