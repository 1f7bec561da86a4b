"""``/v1/local/*``: the body's own systems (bearer tokens with roles).

``POST /v1/local/records`` takes an ``Idempotency-Key`` header (IETF httpapi draft
"The Idempotency-Key HTTP Header Field"): a string of 1 to 255 visible ASCII
characters (no quote or backslash), bare or as a structured-field string
(``"..."``); see :func:`node.services.ingest.submit_records` for what it does.
"""

from __future__ import annotations

import hashlib
import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from clearinghouse.node.api.deps import (
    MAX_INT,
    ContextDep,
    parsed_body,
    read_body,
    require_json,
    require_role,
)
from clearinghouse.node.api.models import (
    AnalyzerReport,
    HeldPacketPage,
    NodeStats,
    RecordsAnswer,
    RecordsIn,
    RelayAnswer,
    RelayIn,
)
from clearinghouse.node.api.openapi import json_request
from clearinghouse.node.api.problems import problem_responses
from clearinghouse.node.auth.principal import Principal
from clearinghouse.node.errors import BadRequest, PayloadTooLarge
from clearinghouse.node.services.analyzer_summary import analyzer_summary
from clearinghouse.node.services.held_packets import HeldPacket, list_held_packets
from clearinghouse.node.services.ingest import IdempotentRequest, submit_records
from clearinghouse.node.services.reads import record_read
from clearinghouse.node.services.relay import relay_packet
from clearinghouse.node.services.stats import node_stats
from clearinghouse.protocol.packet import HANDLING_CODES

__all__ = ["router"]

router = APIRouter(
    prefix="/v1/local", tags=["local"], responses=problem_responses(400, 401, 403, 422)
)
Submitter = Annotated[Principal, Depends(require_role("submitter"))]
Analyst = Annotated[Principal, Depends(require_role("analyst", "auditor"))]
Admin = Annotated[Principal, Depends(require_role("admin"))]
IDEMPOTENCY_KEY = "idempotency-key"
_KEY = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]{1,255}")  # visible ASCII but quote, backslash


def _idempotency_key(request: Request) -> str | None:
    """The request's ``Idempotency-Key`` (bare or quoted), if any; 400 if malformed."""
    given = request.headers.getlist(IDEMPOTENCY_KEY)
    if not given:
        return None
    if len(given) > 1:
        raise BadRequest("Idempotency-Key: give one key, not several")
    value = given[0].strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]  # an RFC 8941 sf-string
    if not _KEY.fullmatch(value):
        raise BadRequest(
            "Idempotency-Key must be 1 to 255 visible ASCII characters without quote or "
            'backslash, bare or quoted ("..."), e.g. a UUID'
        )
    return value


@router.post(
    "/records",
    operation_id="submitRecords",
    summary="Submit records",
    description="Turns records into signed packets and queues a view for every recipient "
    "the policy grants anything. Bad records are listed with their index, status and "
    "reason; the good ones are kept. 422 only if no record was accepted. A record whose "
    "natural key (conflict-event/1 `event_id`, financial-flow/1 `flow_id`) this node "
    "issued already is answered with that packet (`outcome: duplicate`) if it says the "
    "same, and rejected with status 409 `record-conflict` naming the packet held if it "
    "says something else (a revision). 403 `schema-forbidden` for analysis-result/1 and "
    "any schema the manifest's `originates` does not list for this node. With an "
    "`Idempotency-Key` header, the same key and body get the first answer again "
    "(`Idempotent-Replayed: true`), another body 422 `idempotency-key-reused`, and 409 "
    "`idempotency-key-in-use` while the first runs.",
    response_model=RecordsAnswer,
    response_model_exclude_unset=True,  # a refusal's jti, a packet's recipients: when known
    responses={
        **problem_responses(409, 413, 415),
        422: {
            **problem_responses(422)[422],
            "description": "No record accepted (problem+json lists each reason), or an "
            "Idempotency-Key used before with another body",
        },
    },
    openapi_extra=json_request(RecordsIn),
)
async def post_records(ctx: ContextDep, token: Submitter, request: Request) -> Any:
    key = _idempotency_key(request)
    raw = await read_body(request, ctx)
    require_json(request)
    document = await run_in_threadpool(parsed_body, RecordsIn, raw)  # off the event loop
    if (document.record is None) == (document.records is None):
        raise BadRequest("give exactly one of 'record' (one object) or 'records' (an array)")
    records = [document.record] if document.record is not None else list(document.records or [])
    if not records:
        raise BadRequest("'records' is empty")
    if len(records) > ctx.settings.max_batch:
        raise PayloadTooLarge(
            f"{len(records)} records in one batch; at most {ctx.settings.max_batch}"
        )
    if document.hc not in HANDLING_CODES:
        raise BadRequest(f"hc {document.hc!r} is not one of {', '.join(HANDLING_CODES)}")
    answer = await run_in_threadpool(
        submit_records,
        ctx,
        document.schema_,
        records,
        hc=document.hc,
        hc_restriction=document.hc_restriction,
        actor=token.actor,
        scope=token.name,
        idempotent=None if key is None else IdempotentRequest(key, hashlib.sha256(raw).hexdigest()),
    )
    if answer.replayed:
        return JSONResponse(answer.body, headers={"idempotent-replayed": "true"})
    return answer.body


@router.get(
    "/packets",
    operation_id="listHeldPackets",
    response_model=HeldPacketPage,
    summary="Packets held by this node (received and issued)",
    description="Each item shows its handling code ``hc`` and, for H3, the restriction "
    "``hcr``; ``pse`` is the pseudonym epoch of a packet with pseudonymised fields.",
)
async def get_local_packets(
    ctx: ContextDep,
    reader: Analyst,
    schema: str | None = Query(None, description="Only this schema id."),
    issuer: str | None = Query(None, description="Only packets issued by this participant."),
    origin: str | None = Query(None, description="'local', or the peer it came from."),
    after: int = Query(0, ge=0, le=MAX_INT, description="Page cursor: the last id seen."),
    limit: int = Query(100, ge=1, le=1000),
) -> dict[str, Any]:
    held = await run_in_threadpool(
        list_held_packets,
        ctx,
        schema=schema,
        issuer=issuer,
        origin=origin,
        after=after,
        limit=limit,
    )
    await run_in_threadpool(
        lambda: record_read(
            ctx,
            reader.actor,
            "packets",
            jtis=[h.packet.jti for h in held],
            details={"schema": schema, "issuer": issuer, "origin": origin, "after": after or None},
        )
    )
    return {
        "items": [_held(h) for h in held],
        "next": held[-1].packet.id if held else after,
    }


def _held(held: HeldPacket) -> dict[str, Any]:
    r = held.packet
    return {
        "id": r.id,
        "jti": r.jti,
        "sha256": r.digest,
        "iss": r.issuer,
        "sch": r.schema_id,
        "hc": r.hc,
        "hcr": r.hcr,
        "pse": held.epoch,
        "iat": r.issued_at.isoformat(),
        "origin": r.origin,
        "stored_at": r.stored_at.isoformat(),
        "claims": r.claims,
    }


@router.get(
    "/stats",
    operation_id="getStats",
    response_model=NodeStats,
    summary="Exact counts: issued, sent, received, accepted, refused",
)
async def get_stats(ctx: ContextDep, _: Analyst) -> dict[str, Any]:
    return await run_in_threadpool(node_stats, ctx)


@router.get(
    "/analyzer",
    operation_id="getAnalyzer",
    response_model=AnalyzerReport,
    summary="This node's analyzer and its picture so far",
    responses=problem_responses(404),  # the node declares no analyzer
)
async def get_analyzer(ctx: ContextDep, _: Analyst) -> dict[str, Any]:
    found = await run_in_threadpool(analyzer_summary, ctx)
    return {
        "analyzer": found.analyzer,
        "version": found.version,
        "sha256": found.sha256,
        "summary": found.summary,
    }


@router.post(
    "/packets/{jti}/relay",
    operation_id="relayPacket",
    response_model=RelayAnswer,
    summary="Relay a held packet onward",
    description="Queue, for each recipient, the view of this packet that the policy grants "
    "it, cut from what this node holds (never more). Refused (403, "
    "`handling-violation`) for an H2 packet: no onward dissemination. Role `admin`.",
    responses=problem_responses(400, 404, 413, 415),
    openapi_extra=json_request(RelayIn),
)
async def relay(ctx: ContextDep, token: Admin, jti: str, request: Request) -> dict[str, Any]:
    raw = await read_body(request, ctx)  # read only once the admin token checked
    require_json(request)
    body = await run_in_threadpool(parsed_body, RelayIn, raw)
    done = await run_in_threadpool(relay_packet, ctx, jti, body.recipients, actor=token.actor)
    return {"jti": done.jti, "queued": done.queued, "skipped": done.skipped}
