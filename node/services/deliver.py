"""Delivery: drain the outbox to each peer in batches, with backoff, until receipted.

One task per peer, so a slow or failing peer never holds up the others. Each
round leases up to ``batch_size`` due views (``claim_due``), posts them signed,
asking for one receipt over the whole batch, and checks the receipt against the
manifest before marking a view ``delivered`` (accepted or duplicate) or ``refused``
(rejected or quarantined: the peer will never take it, and says why). The batch
receipt must be the peer's, for this node, over the very body sent, and list exactly
the views sent, in order, with their jti and digest; else no view of the batch is
proven (each is due again later). An older peer answers a receipt per view instead,
each checked on its own as before. Each receipt is kept once (``delivery_receipt``),
each view's row naming it and the view's position in it. A view the peer *deferred* (its receipt
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
import math
import random
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session

from clearinghouse.node.clock import Clock
from clearinghouse.node.context import NodeContext
from clearinghouse.node.metrics import NodeMetrics
from clearinghouse.node.services import acts
from clearinghouse.node.services.authorisations import outgoing
from clearinghouse.node.services.peer_tasks import peer_round, run_per_peer
from clearinghouse.node.settings import DeliverySettings
from clearinghouse.node.storage import auditlog, outbox
from clearinghouse.node.storage.db import transaction
from clearinghouse.node.transport.peer_client import (
    BatchAnswer,
    PeerClient,
    PeerRejectedRequest,
    PeerUnavailable,
)
from clearinghouse.protocol.audit import Act
from clearinghouse.protocol.errors import ProtocolError
from clearinghouse.protocol.manifest import Manifest, Participant
from clearinghouse.protocol.receipts import Receipt, verify_batch_receipt, verify_receipt

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
    and cleared on success. The steps: claim due views, send them, then check each
    receipt's signature and record what it says, with an audit entry per view; or, if
    the peer did not answer, put the views back for later."""
    settings = ctx.settings.delivery
    now = ctx.clock.now()
    items = await asyncio.to_thread(_claim, ctx.engine, peer.id, owner, settings, now)
    if not items:
        return 0
    views, authorisations = await asyncio.to_thread(outgoing, ctx, items, now)
    try:
        answer = await client.post_views(peer.base_url, views, authorisations)
    except (PeerUnavailable, PeerRejectedRequest) as exc:
        delay = _failed(ctx.metrics, peer.id, items, exc, settings, pause)
        await asyncio.to_thread(_back_off, ctx.engine, items, exc.detail, delay, ctx.clock)
        return len(items)
    if pause is not None:
        pause.failures, pause.until = 0, 0.0  # the peer answered: no backoff
    # Checking the receipts and recording them run off the event loop: a batch's list
    # (or an older peer's receipt per view, a signature each) is CPU that would
    # otherwise hold up every request this node serves meanwhile.
    settled = await asyncio.to_thread(_settle, ctx, peer.id, items, answer)
    ctx.metrics.views_out.labels(peer=peer.id).inc(settled.changed)
    for item in items:
        if int(item.id or 0) in settled.checked.delivered:
            latency = (settled.done_at - item.created_at).total_seconds()
            ctx.metrics.delivery_latency.observe(latency)
    return len(items)


def _claim(
    engine: Engine, peer: str, owner: str, settings: DeliverySettings, now: datetime
) -> list[outbox.DueItem]:
    """Lease up to a batch of the views due to ``peer``."""
    with transaction(engine) as session:
        return outbox.claim_due(
            session,
            recipient=peer,
            owner=owner,
            now=now,
            lease=timedelta(seconds=settings.lease_s),
            limit=settings.batch_size,
        )


# -- the peer did not take the batch ---------------------------------------------------


def _failed(
    metrics: NodeMetrics,
    peer: str,
    items: Sequence[outbox.DueItem],
    exc: PeerUnavailable | PeerRejectedRequest,
    settings: DeliverySettings,
    pause: PeerPause | None,
) -> float:
    """Count and log a failed round and pause the peer; return the seconds until the
    views are due again (backoff, at least the peer's ``Retry-After``)."""
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
    metrics.delivery_failures.labels(peer=peer, kind=kind).inc()
    log.warning("delivery to %s failed (%s); retry in %.1fs", peer, exc.log_detail, delay)
    return delay


def _back_off(
    engine: Engine, items: Sequence[outbox.DueItem], error: str, delay: float, clock: Clock
) -> None:
    """Put the batch back, due again in ``delay`` seconds."""
    with transaction(engine) as session:
        outbox.retry_later(
            session,
            item_ids=[int(item.id or 0) for item in items],
            error=error,
            at=clock.now() + timedelta(seconds=delay),
        )


# -- the peer answered: check and record its receipts ----------------------------------


@dataclass
class _Checked:
    """A batch's receipts, checked, by outbox item id: the views the peer holds,
    refused, or deferred, and those whose receipt did not verify. ``position``: each
    receipted view's position in its receipt (its index in a batch receipt, 0 in a
    per-view receipt), the evidence kept with the receipt's text."""

    by_item: dict[int, Receipt] = field(default_factory=dict)
    delivered: dict[int, Receipt] = field(default_factory=dict)
    refused: list[tuple[int, Receipt]] = field(default_factory=list)
    deferred: list[tuple[outbox.DueItem, Receipt]] = field(default_factory=list)
    unproven: list[int] = field(default_factory=list)
    position: dict[int, int] = field(default_factory=dict)

    def add(self, item: outbox.DueItem, receipt: Receipt, position: int) -> None:
        """Sort ``item`` by what its (checked) ``receipt`` says."""
        item_id = int(item.id or 0)
        self.by_item[item_id], self.position[item_id] = receipt, position
        if receipt.delivered:
            self.delivered[item_id] = receipt
        elif receipt.retryable:
            self.deferred.append((item, receipt))
        else:
            self.refused.append((item_id, receipt))


@dataclass(frozen=True)
class _Settled:
    checked: _Checked
    #: how many views were marked delivered now (not before)
    changed: int
    done_at: datetime


def _settle(
    ctx: NodeContext, peer: str, items: Sequence[outbox.DueItem], answer: BatchAnswer
) -> _Settled:
    """Check each receipt, then record in one transaction what each says, with the
    batch's ``view.sent`` audit entry (last)."""
    checked = _check_receipts(items, answer, ctx.manifest, sender=ctx.participant, peer=peer)
    receipts = answer.texts(len(items))  # what the peer gave for each view, verified or not
    done_at = ctx.clock.now()
    entries = _sent_entries(acts.node_actor(ctx.participant), peer, items, receipts, checked)
    with transaction(ctx.engine) as session:
        changed = _record_receipts(session, peer, checked, ctx.settings.delivery, done_at)
        auditlog.append(session, entries, now=done_at)  # last: see auditlog.append
    return _Settled(checked, changed, done_at)


def _check_receipts(
    items: Sequence[outbox.DueItem],
    answer: BatchAnswer,
    manifest: Manifest,
    *,
    sender: str,
    peer: str,
) -> _Checked:
    """Verify the peer's answer (one batch receipt, or a receipt per view) and sort the
    views by what it says of each."""
    if answer.batch is not None:
        return _check_batch(items, answer.batch, answer.request_sha256, manifest, sender, peer)
    checked = _Checked()
    for index, (item, receipt_jws) in enumerate(zip(items, answer.per_view, strict=True)):
        try:
            receipt = verify_receipt(receipt_jws, manifest, sender=sender)
            _check(receipt, item, index, peer=peer)
        except ProtocolError as exc:
            log.warning("receipt from %s for %s refused: %s", peer, item.jti, exc)
            checked.unproven.append(int(item.id or 0))
            continue
        checked.add(item, receipt, 0)
    return checked


def _check_batch(
    items: Sequence[outbox.DueItem],
    receipt_jws: str,
    request_sha256: str,
    manifest: Manifest,
    sender: str,
    peer: str,
) -> _Checked:
    """The views sorted by the batch receipt, if ``peer`` signed it for ``sender`` over
    the body sent (``request_sha256``) and it lists exactly the views sent, in order;
    else every view unproven."""
    checked = _Checked()
    try:
        batch = verify_batch_receipt(
            receipt_jws,
            manifest,
            sender=sender,
            request_sha256=request_sha256,
            max_views=len(items),
        )
        if len(batch.views) != len(items):
            raise ProtocolError(f"batch receipt lists {len(batch.views)} of {len(items)} views")
        for index, (item, receipt) in enumerate(zip(items, batch.views, strict=True)):
            _check(receipt, item, index, peer=peer)
    except ProtocolError as exc:
        log.warning("batch receipt from %s for %d views refused: %s", peer, len(items), exc)
        checked.unproven.extend(int(item.id or 0) for item in items)
        return checked
    for index, (item, receipt) in enumerate(zip(items, batch.views, strict=True)):
        checked.add(item, receipt, index)
    return checked


def _check(receipt: Receipt, item: outbox.DueItem, index: int, *, peer: str) -> None:
    """Raise :class:`ProtocolError` unless ``peer`` signed ``receipt`` for view ``index``
    of the batch, naming the packet sent (it must, when it says it holds it)."""
    if receipt.receiver != peer or receipt.index != index:
        raise ProtocolError(f"receipt {index} is by {receipt.receiver} for index {receipt.index}")
    if receipt.ref is not None and (receipt.ref.jti, receipt.ref.digest) != (item.jti, item.digest):
        raise ProtocolError(f"receipt {index} names another packet ({receipt.ref.jti})")
    if receipt.delivered and receipt.ref is None:
        raise ProtocolError(f"receipt {index} says {receipt.status} without naming the packet")


def _sent_entries(
    actor: str,
    peer: str,
    items: Sequence[outbox.DueItem],
    receipts: Sequence[str],
    checked: _Checked,
) -> list[Act]:
    """The batch's ``view.sent`` entry: each view pushed with its receipt's status and
    reason, and the receipt texts by hash (or ``unverified`` and the text the peer sent)."""
    views = []
    for index, item in enumerate(items):
        receipt = checked.by_item.get(int(item.id or 0))
        status, jws, reason = (
            ("unverified", receipts[index], "receipt did not verify")
            if receipt is None
            else (receipt.status, receipt.jws, receipt.reason_code)
        )
        views.append(acts.SentView(item.jti, item.digest, status, reason, jws))
    return [acts.view_sent(actor, peer, views, "push")] if views else []


def _record_receipts(
    session: Session, peer: str, checked: _Checked, settings: DeliverySettings, now: datetime
) -> int:
    """Keep each receipt that settles a view once, then mark the views delivered,
    refused, deferred or (receipt unproven) due again later, each delivered or refused
    one with its evidence, in the caller's transaction; return how many were marked
    delivered now."""
    kept: dict[str, int] = {}

    def evidence(item_id: int) -> outbox.ReceiptRef:
        """The receipt of ``item_id`` (kept now, once) and the view's position in it."""
        jws = checked.by_item[item_id].jws
        if jws not in kept:
            kept[jws] = outbox.add_receipt(session, recipient=peer, jws=jws, now=now)
        return kept[jws], checked.position[item_id]

    changed = outbox.mark_delivered(
        session, receipts={item_id: evidence(item_id) for item_id in checked.delivered}, now=now
    )
    for item_id, receipt in checked.refused:
        outbox.mark_refused(
            session,
            item_id=item_id,
            receipt=evidence(item_id),
            reason=f"{receipt.status}: {receipt.reason_code}: {receipt.reason}",
            now=now,
        )
    for item, receipt in checked.deferred:
        _defer_or_give_up(session, item, receipt, evidence, settings, now)
    outbox.retry_later(
        session,
        item_ids=checked.unproven,
        error="receipt did not verify",
        at=now + timedelta(seconds=settings.max_delay_s),
    )
    return changed


def _defer_or_give_up(
    session: Session,
    item: outbox.DueItem,
    receipt: Receipt,
    evidence: Callable[[int], outbox.ReceiptRef],
    settings: DeliverySettings,
    now: datetime,
) -> None:
    """Schedule a deferred view again (its backoff, at least the peer's hint), or refuse it
    for good, with the receipt as ``evidence``, once it has been deferred for
    ``deferred_max_s``."""
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
            receipt=evidence(int(item.id or 0)),
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


# -- the worker --------------------------------------------------------------------------


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
        claimed = await peer_round(
            log,
            f"delivery round to {peer.id}",
            lambda: deliver_round(ctx, client, peer, owner=owner, pause=pause),
        )
        if (claimed or 0) >= ctx.settings.delivery.batch_size:
            continue
        # Nothing more due now: sleep until views are queued (``wake``) or the next one
        # falls due, not a fixed poll. Polling every peer each second was n(n - 1) write
        # transactions per second across a federation, a tenth of a 16-node run's CPU.
        due_in = await peer_round(
            log, f"looking for views due to {peer.id}", lambda: _due_in(ctx, peer.id)
        )
        idle = ctx.settings.delivery.idle_poll_max_s
        # Not known (the database failed; logged): look again after ``poll``.
        timeout = poll if due_in is None else min(idle, max(poll, due_in))
        try:
            await asyncio.wait_for(wake.wait(), timeout=timeout)
        except TimeoutError:
            pass


async def _due_in(ctx: NodeContext, peer: str) -> float:
    """:func:`_next_due_in` off the event loop, ``inf`` when nothing is pending. Run as a
    round of its own (:func:`peer_round`): the database may fail here too, and a worker
    that let it through ended for good, its views owed until the next manifest switch."""
    due = await asyncio.to_thread(_next_due_in, ctx, peer)
    return math.inf if due is None else due


def _next_due_in(ctx: NodeContext, peer: str) -> float | None:
    """Seconds until a pending view to ``peer`` may next be claimed (0 or less: now);
    None when none is pending."""
    with transaction(ctx.engine) as session:
        due = outbox.next_due(session, recipient=peer)
    return None if due is None else (due - ctx.clock.now()).total_seconds()


async def run_delivery(ctx: NodeContext, client: PeerClient) -> None:
    """Deliver to every peer until cancelled."""
    await run_per_peer(ctx, client, "deliver", _peer_loop)
