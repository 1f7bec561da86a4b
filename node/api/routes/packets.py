"""``/v1/packets``: node-to-node exchange (RFC 9421-signed requests from peers only).

A pushed batch is answered with evidence per view (jti, digest, status with reason): one
signed receipt over the whole batch when the peer asks for it (``"receipt": "batch"``
in the body; the receipt names the SHA-256 of the body, the exact bytes the peer
signed), else, as an older peer expects, a signed receipt per view
(:mod:`protocol.receipts`).

A pushed batch is charged to the peer's quotas of views and bytes
(:mod:`node.api.peer_quota`) before any view is looked at: beyond them, the batch is
refused whole with 429 ``quota-exceeded`` and ``Retry-After`` (the delivery worker of
the peer's node honours it), counted in ``clearinghouse_peer_quota_exceeded_total``
and logged once, with no receipt, refusal row or audit entry per view.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from clearinghouse.node.api.deps import MAX_INT, ContextDep, PeerDep, parse_json_body
from clearinghouse.node.api.models import FeedPage, PacketBatch, PacketsAnswer
from clearinghouse.node.api.openapi import json_request
from clearinghouse.node.api.peer_quota import PeerQuota
from clearinghouse.node.api.problems import problem_responses
from clearinghouse.node.errors import BadRequest, PayloadTooLarge, QuotaExceeded
from clearinghouse.node.services.feed import serve_feed
from clearinghouse.node.services.push import take_pushed_batch
from clearinghouse.protocol.errors import EncodingError
from clearinghouse.protocol.receipts import STATUSES

__all__ = ["router"]

log = logging.getLogger("clearinghouse.packets")

router = APIRouter(
    prefix="/v1/packets",
    tags=["federation"],
    responses=problem_responses(400, 401, 403, 413, 415, 422, 429),
)
# The answers of both routes are documented by their model (``responses``) but not
# validated through it: a batch or a feed page holds up to ``max_batch`` views, these
# are the federation's hot paths, and a model costs ~12 ms more per 5,000 views than
# the plain dict FastAPI serializes now.


@router.post(
    "",
    operation_id="receiveViews",
    summary="Deliver a batch of views",
    description='A batch `{"views": [SD-JWT, ...], "authorisations": [...], "receipt": '
    '"batch"}` from a peer (the oversight authorisations some views rely on, if any). '
    "Each view is accepted, duplicate, rejected, quarantined or deferred (with reason; "
    'deferred: not now, send it again later). With `"receipt": "batch"` the answer is one '
    "signed receipt over the whole batch (`receipt`: the SHA-256 of the request body and "
    "each view's jti, digest and status, in order); without it, one signed receipt per "
    "view, in order (`receipts`). A batch beyond the peer's quota of views or bytes per "
    "period is refused whole: 429 with Retry-After.",
    responses={200: {"model": PacketsAnswer, "description": "A batch receipt, or one per view"}},
    openapi_extra=json_request(PacketBatch),
)
async def post_packets(request: Request, ctx: ContextDep, peer: PeerDep) -> dict[str, Any]:
    try:
        document = await parse_json_body(peer.body)
    except EncodingError as exc:
        raise BadRequest(f"body: {exc.message}") from exc
    views = document.get("views") if isinstance(document, dict) else None
    if not isinstance(views, list):
        raise BadRequest("body must be a JSON object with a 'views' array")
    authorisations = document.get("authorisations", [])
    if not isinstance(authorisations, list):
        raise BadRequest("'authorisations', when given, must be an array of documents")
    receipt = document.get("receipt")
    if receipt is not None and not isinstance(receipt, str):
        raise BadRequest("'receipt', when given, must be a string (\"batch\")")
    if len(views) > ctx.settings.max_batch:
        raise PayloadTooLarge(f"{len(views)} views in one batch; at most {ctx.settings.max_batch}")
    quota: PeerQuota | None = getattr(request.app.state, "peer_quota", None)
    if quota is not None and (over := quota.charge(peer.id, views=len(views), size=len(peer.body))):
        ctx.metrics.quota_exceeded.labels(peer=peer.id, kind=over.kind).inc()
        log.info("batch from %s refused: %s", peer.id, over.detail)
        raise QuotaExceeded(over.detail, retry_after=over.retry_after)
    # Any other string (a later form this node does not know) gets the oldest form.
    batch = receipt == "batch"
    taken = await run_in_threadpool(
        take_pushed_batch,
        ctx,
        peer=peer.id,
        views=views,
        authorisations=authorisations,
        request_sha256=hashlib.sha256(peer.body).hexdigest() if batch else None,
    )
    outcomes = taken.outcomes
    summary = {status: sum(o.status == status for o in outcomes) for status in STATUSES}
    if taken.receipt is not None:
        return {"receipt": taken.receipt, "summary": summary}
    return {"receipts": [o.receipt for o in outcomes], "summary": summary}


@router.get(
    "",
    operation_id="getFeed",
    summary="Catch-up feed",
    description="The views this node still owes the calling peer after `since`, in order. "
    "Asking with `since=C` acknowledges every view up to C as received.",
    responses={200: {"model": FeedPage, "description": "The views owed, in order"}},
)
async def get_packets(
    ctx: ContextDep,
    peer: PeerDep,
    since: int = Query(
        0, ge=0, le=MAX_INT, description="Cursor: the last `cursor` already stored."
    ),
    limit: int = Query(500, ge=1, le=5000),
) -> dict[str, Any]:
    page = await run_in_threadpool(serve_feed, ctx, peer=peer.id, since=since, limit=limit)
    answer: dict[str, Any] = {
        "items": [{"cursor": cursor, "view": view} for cursor, view in page.items],
        "next": page.next_cursor,
    }
    if page.authorisations:
        answer["authorisations"] = page.authorisations
    return answer
