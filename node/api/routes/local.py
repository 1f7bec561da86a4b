"""``/v1/local/*``: the body's own systems (bearer tokens with roles)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from analyzers.state import State
from node.api.deps import ContextDep, read_body, require_json, require_role
from node.api.problems import problem_responses
from node.errors import BadRequest, NotFound, PayloadTooLarge, Unprocessable
from node.services.acts import token_actor
from node.services.ingest import ingest_records
from node.services.relay import relay_packet
from node.services.stats import node_stats
from node.settings import TokenSetting
from node.storage import analysis, packets
from node.storage.db import MAX_INT, is_postgres, transaction
from protocol.encoding import parse_json
from protocol.errors import EncodingError, ProtocolError
from protocol.packet import HANDLING_CODES, stored_epoch

__all__ = ["router"]

router = APIRouter(
    prefix="/v1/local", tags=["local"], responses=problem_responses(400, 401, 403, 422)
)
Submitter = Annotated[TokenSetting, Depends(require_role("submitter"))]
Analyst = Annotated[TokenSetting, Depends(require_role("analyst", "auditor"))]
Admin = Annotated[TokenSetting, Depends(require_role("admin"))]


class RelayIn(BaseModel):
    model_config = {"extra": "forbid"}

    recipients: list[str] = Field(min_length=1, max_length=64)


class RecordsIn(BaseModel):
    """One record (``record``) or a batch (``records``) of one schema."""

    model_config = {"extra": "forbid"}

    schema_: str = Field(alias="schema", description="Schema id, e.g. conflict-event/1.")
    record: dict[str, Any] | None = None
    records: list[Any] | None = None
    hc: str = Field("H0", description="Handling code H0..H3 of every packet issued.")
    hc_restriction: str | None = Field(None, description="The restriction of an H3 packet.")


@router.post(
    "/records",
    summary="Submit records",
    description="Turns records into signed packets and queues a view for every recipient "
    "the policy grants anything. Bad records are listed with their index and reason; the "
    "good ones are kept. 422 only if no record was accepted.",
    responses={
        **problem_responses(413, 415),
        422: {
            **problem_responses(422)[422],
            "description": "No record accepted (problem+json lists each reason)",
        },
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": RecordsIn.model_json_schema(by_alias=True)}},
        }
    },
)
async def post_records(ctx: ContextDep, token: Submitter, request: Request) -> dict[str, Any]:
    raw = await read_body(request, ctx)
    require_json(request)
    try:
        document = RecordsIn.model_validate(parse_json(raw))
    except EncodingError as exc:
        raise BadRequest(f"body: {exc.message}") from exc
    except ValidationError as exc:
        where = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}"
            for e in exc.errors(include_url=False)
        )
        raise BadRequest(f"body: {where}") from exc
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
    result = await run_in_threadpool(
        ingest_records,
        ctx,
        document.schema_,
        records,
        hc=document.hc,
        hc_restriction=document.hc_restriction,
        actor=token_actor(token.name),
    )
    rejected = [{"index": r.index, "code": r.code, "detail": r.detail} for r in result.rejected]
    if not result.accepted:
        first = rejected[0]
        raise Unprocessable(
            f"no record accepted; record {first['index']}: {first['detail']}", rejected=rejected
        )
    return {
        "accepted": len(result.accepted),
        "rejected": rejected,
        "packets": result.accepted,
    }


def _epoch(raw: str) -> str | None:
    """The pseudonym epoch a stored packet names (it was verified when stored)."""
    try:
        return stored_epoch(raw)
    except ProtocolError:
        return None


@router.get(
    "/packets",
    summary="Packets held by this node (received and issued)",
    description="Each item shows its handling code ``hc`` and, for H3, the restriction "
    "``hcr``; ``pse`` is the pseudonym epoch of a packet with pseudonymised fields.",
)
async def get_local_packets(
    ctx: ContextDep,
    _: Analyst,
    schema: str | None = Query(None, description="Only this schema id."),
    issuer: str | None = Query(None, description="Only packets issued by this participant."),
    origin: str | None = Query(None, description="'local', or the peer it came from."),
    after: int = Query(0, ge=0, le=MAX_INT, description="Page cursor: the last id seen."),
    limit: int = Query(100, ge=1, le=1000),
) -> dict[str, Any]:
    def page() -> dict[str, Any]:
        with transaction(ctx.engine) as session:
            rows = packets.list_packets(
                session, schema=schema, issuer=issuer, origin=origin, after_id=after, limit=limit
            )
        return {
            "items": [
                {
                    "id": r.id,
                    "jti": r.jti,
                    "sha256": r.digest,
                    "iss": r.issuer,
                    "sch": r.schema_id,
                    "hc": r.hc,
                    "hcr": r.hcr,
                    "pse": _epoch(r.raw),
                    "iat": r.issued_at.isoformat(),
                    "origin": r.origin,
                    "stored_at": r.stored_at.isoformat(),
                    "claims": r.claims,
                }
                for r in rows
            ],
            "next": rows[-1].id if rows else after,
        }

    return await run_in_threadpool(page)


@router.get("/stats", summary="Exact counts: issued, sent, received, accepted, refused")
async def get_stats(ctx: ContextDep, _: Analyst) -> dict[str, Any]:
    return await run_in_threadpool(node_stats, ctx)


@router.get(
    "/analyzer",
    summary="This node's analyzer and its picture so far",
    responses=problem_responses(404),  # the node declares no analyzer
)
async def get_analyzer(ctx: ContextDep, _: Analyst) -> dict[str, Any]:
    def read() -> dict[str, Any]:
        if ctx.analyzer is None or ctx.analyzer_state is None:
            raise NotFound(f"{ctx.participant} declares no analyzer")
        if is_postgres(ctx.engine):  # replicas: only one analyses; read what it committed
            with transaction(ctx.engine) as session:
                state = State(analysis.load_state(session, ctx.analyzer.id))
            summary = ctx.analyzer.summary(state)
        else:
            with ctx.analysis_lock:
                summary = ctx.analyzer.summary(ctx.analyzer_state)
        declaration = ctx.analyzer_declaration
        return {
            "analyzer": ctx.analyzer.id,
            "version": ctx.analyzer.version,
            "sha256": declaration.sha256 if declaration else None,
            "summary": summary,
        }

    return await run_in_threadpool(read)


@router.post(
    "/packets/{jti}/relay",
    summary="Relay a held packet onward",
    description="Queue, for each recipient, the view of this packet that the policy grants "
    "it, cut from what this node holds (never more). Refused (403, "
    "`handling-violation`) for an H2 packet: no onward dissemination. Role `admin`.",
    responses=problem_responses(404),
)
async def relay(ctx: ContextDep, token: Admin, jti: str, body: RelayIn) -> dict[str, Any]:
    done = await run_in_threadpool(
        relay_packet, ctx, jti, body.recipients, actor=token_actor(token.name)
    )
    return {"jti": done.jti, "queued": done.queued, "skipped": done.skipped}
