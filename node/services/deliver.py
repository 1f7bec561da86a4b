"""Delivery: drain the outbox to each peer in batches, with backoff, until receipted.

One task per peer, so a slow or failing peer never holds up the others. Each
round leases up to ``batch_size`` due views (``claim_due``), posts them signed,
and checks every receipt's signature against the manifest before marking a view
``delivered`` (accepted or duplicate) or ``refused`` (rejected or quarantined:
the peer will never take it, and says why). A view the peer *deferred* (its receipt
status is retryable: issued in the future by the peer's clock) stays pending and is
sent again with the item's own backoff, never sooner than the peer's
``retry_after`` hint, for up to ``deferred_max_s`` after its first deferral; then it
is refused for good, like a rejected view. A failed round puts the views back
with exponential backoff and full jitter, never sooner than the peer's
``Retry-After``, and pauses the peer for as long (:class:`PeerPause`): views
queued meanwhile wait too, so a peer that asked for time gets it. Work left by a
crash is found again when its lease expires.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session

from clearinghouse.node.context import NodeContext
from clearinghouse.node.logs import REQUEST_ID, new_request_id
from clearinghouse.node.services import acts
from clearinghouse.node.services.authorisations import outgoing
from clearinghouse.node.services.peer_tasks import run_per_peer
from clearinghouse.node.storage import auditlog, outbox
from clearinghouse.node.storage.db import transaction
from clearinghouse.node.transport.peer_client import (
    PeerClient,
    PeerRejectedRequest,
    PeerUnavailable,
)
from clearinghouse.protocol.errors import ProtocolError
from clearinghouse.protocol.manifest import Participant
from clearinghouse.protocol.receipts import Receipt, verify_receipt

__all__ = ["PeerPause", "backoff_delay", "deliver_round", "run_delivery"]

log = logging.getLogger("clearinghouse.deliver")


def backoff_delay(
    attempts: int,
    *,
    base: float,
    cap: float,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Full-jitter exponential backoff, at least ``retry_after`` when the peer gave one."""
    ceiling = min(cap, base * (2 ** min(attempts, 30)))
    delay = (rng or random).uniform(ceiling / 2, ceiling)
    return max(delay, retry_after or 0.0)


def _check(
    receipt_jws: str, item: outbox.DueItem, index: int, ctx: NodeContext, peer: str
) -> Receipt:
    receipt = verify_receipt(receipt_jws, ctx.manifest, sender=ctx.participant)
    if receipt.receiver != peer or receipt.index != index:
        raise ProtocolError(f"receipt {index} is by {receipt.receiver} for index {receipt.index}")
    if receipt.ref is not None and (receipt.ref.jti, receipt.ref.digest) != (item.jti, item.digest):
        raise ProtocolError(f"receipt {index} names another packet ({receipt.ref.jti})")
    if receipt.delivered and receipt.ref is None:
        raise ProtocolError(f"receipt {index} says {receipt.status} without naming the packet")
    return receipt


@dataclass
class PeerPause:
    """When a peer may next be sent to: after a failed round, nothing goes to it until
    ``until`` (monotonic seconds) — not the views queued since either, which are due at
    once on their own rows. ``failures`` in a row set the backoff; a success resets."""

    until: float = 0.0
    failures: int = 0


async def deliver_round(
    ctx: NodeContext,
    client: PeerClient,
    peer: Participant,
    *,
    owner: str,
    pause: PeerPause | None = None,
) -> int:
    """Deliver one batch to ``peer``; return how many views were claimed (0: none due).

    ``pause``: the peer's backoff, lengthened on failure (at least its ``Retry-After``)
    and cleared on success."""
    settings = ctx.settings.delivery
    now = ctx.clock.now()

    def claim() -> list[outbox.DueItem]:
        with transaction(ctx.engine) as session:
            return outbox.claim_due(
                session,
                recipient=peer.id,
                owner=owner,
                now=now,
                lease=timedelta(seconds=settings.lease_s),
                limit=settings.batch_size,
            )

    items = await asyncio.to_thread(claim)
    if not items:
        return 0
    ids = [int(item.id or 0) for item in items]
    views, authorisations = await asyncio.to_thread(outgoing, ctx, items, now)
    try:
        receipts = await client.post_views(peer.base_url, views, authorisations)
    except (PeerUnavailable, PeerRejectedRequest) as exc:
        retry_after = exc.retry_after if isinstance(exc, PeerUnavailable) else None
        kind = exc.kind if isinstance(exc, PeerUnavailable) else f"http-{exc.status}"
        delay = backoff_delay(
            max(max(item.attempts for item in items), pause.failures if pause else 0),
            base=settings.base_delay_s,
            cap=settings.max_delay_s,
            retry_after=retry_after,
        )
        if pause is not None:
            pause.failures += 1
            pause.until = time.monotonic() + delay
        error = exc.detail
        ctx.metrics.delivery_failures.labels(peer=peer.id, kind=kind).inc()
        log.warning("delivery to %s failed (%s); retry in %.1fs", peer.id, exc.log_detail, delay)

        def back_off() -> None:
            with transaction(ctx.engine) as session:
                outbox.retry_later(
                    session,
                    item_ids=ids,
                    error=error,
                    at=ctx.clock.now() + timedelta(seconds=delay),
                )

        await asyncio.to_thread(back_off)
        return len(items)

    # Checking the receipts (one signature each) and recording them run off the event
    # loop: a batch of receipts is tens of milliseconds of CPU that would otherwise
    # hold up every request this node serves meanwhile.
    def settle() -> tuple[int, dict[int, str | None], datetime]:
        delivered: dict[int, str | None] = {}
        refused: list[tuple[int, Receipt]] = []
        deferred: list[tuple[outbox.DueItem, Receipt]] = []
        unproven: list[int] = []
        checked: dict[int, Receipt] = {}
        for index, (item, receipt_jws) in enumerate(zip(items, receipts, strict=True)):
            try:
                receipt = _check(receipt_jws, item, index, ctx, peer.id)
            except ProtocolError as exc:
                log.warning("receipt from %s for %s refused: %s", peer.id, item.jti, exc)
                unproven.append(int(item.id or 0))
                continue
            checked[int(item.id or 0)] = receipt
            if receipt.delivered:
                delivered[int(item.id or 0)] = receipt.jws
            elif receipt.retryable:
                deferred.append((item, receipt))
            else:
                refused.append((int(item.id or 0), receipt))
        done_at = ctx.clock.now()
        actor = acts.node_actor(ctx.participant)
        audit_entries = []
        for index, item in enumerate(items):
            receipt = checked.get(int(item.id or 0))
            if receipt is None:
                status, jws, reason = "unverified", receipts[index], "receipt did not verify"
            else:
                status, jws, reason = receipt.status, receipt.jws, receipt.reason_code
            audit_entries.append(
                acts.view_sent(
                    actor,
                    peer.id,
                    item.jti,
                    item.digest,
                    "push",
                    status=status,
                    receipt=jws,
                    reason=reason,
                )
            )

        with transaction(ctx.engine) as session:
            changed = outbox.mark_delivered(session, receipts=delivered, now=done_at)
            for item_id, receipt in refused:
                outbox.mark_refused(
                    session,
                    item_id=item_id,
                    receipt=receipt.jws,
                    reason=f"{receipt.status}: {receipt.reason_code}: {receipt.reason}",
                    now=done_at,
                )
            for item, receipt in deferred:
                _defer_or_give_up(ctx, session, item, receipt, done_at)
            outbox.retry_later(
                session,
                item_ids=unproven,
                error="receipt did not verify",
                at=done_at + timedelta(seconds=settings.max_delay_s),
            )
            auditlog.append(session, audit_entries, now=done_at)  # last: see auditlog.append
        return changed, delivered, done_at

    if pause is not None:
        pause.failures, pause.until = 0, 0.0  # the peer answered: no backoff
    changed, delivered, done_at = await asyncio.to_thread(settle)
    ctx.metrics.views_out.labels(peer=peer.id).inc(changed)
    for item in items:
        if int(item.id or 0) in delivered:
            ctx.metrics.delivery_latency.observe((done_at - item.created_at).total_seconds())
    return len(items)


def _defer_or_give_up(
    ctx: NodeContext, session: Session, item: outbox.DueItem, receipt: Receipt, now: datetime
) -> None:
    """Schedule a deferred view again (its backoff, at least the peer's hint), or refuse it
    for good once it has been deferred for ``deferred_max_s``."""
    settings = ctx.settings.delivery
    since = item.deferred_since or now
    why = f"{receipt.status}: {receipt.reason_code}: {receipt.reason}"
    waited = (now - since).total_seconds()
    if waited >= settings.deferred_max_s:
        log.warning(
            "giving up on %s to %s, deferred for %.0f s: %s",
            item.jti,
            receipt.receiver,
            waited,
            why,
        )
        outbox.mark_refused(
            session,
            item_id=int(item.id or 0),
            receipt=receipt.jws,
            reason=f"given up after {waited:.0f} s deferred: {why}",
            now=now,
        )
        return
    delay = backoff_delay(
        item.attempts,
        base=settings.base_delay_s,
        cap=settings.max_delay_s,
        retry_after=float(receipt.retry_after) if receipt.retry_after is not None else None,
    )
    log.info("%s deferred by %s; again in %.1f s: %s", item.jti, receipt.receiver, delay, why)
    outbox.defer(
        session,
        item_id=int(item.id or 0),
        error=why,
        at=now + timedelta(seconds=delay),
        since=since,
    )


async def _peer_loop(ctx: NodeContext, client: PeerClient, peer: Participant) -> None:
    owner = f"{ctx.participant}-{uuid.uuid4().hex[:12]}"
    wake = ctx.outbox_signal.subscribe()
    poll = ctx.settings.delivery.poll_interval_s
    pause = PeerPause()
    while True:
        # A peer that failed (or asked us to wait) gets nothing until its pause is over.
        if (wait := pause.until - time.monotonic()) > 0:
            await asyncio.sleep(wait)
        wake.clear()
        REQUEST_ID.set(new_request_id())  # sent with this round's call, on its log lines
        try:
            claimed = await deliver_round(ctx, client, peer, owner=owner, pause=pause)
        except asyncio.CancelledError:
            raise
        except Exception:  # never let one bad round stop delivery for good
            log.exception("delivery round to %s failed", peer.id)
            claimed = 0
        if claimed >= ctx.settings.delivery.batch_size:
            continue
        try:
            await asyncio.wait_for(wake.wait(), timeout=poll)
        except TimeoutError:
            pass


async def run_delivery(ctx: NodeContext, client: PeerClient) -> None:
    """Deliver to every peer until cancelled."""
    await run_per_peer(ctx, client, "deliver", _peer_loop)
