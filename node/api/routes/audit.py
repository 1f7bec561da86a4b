"""``/v1/audit``: the node's audit log, its checkpoints, proofs, and witnessing.

Readers are local users with the ``auditor`` role (bearer token) or peers (RFC 9421
signed requests); ``POST /v1/audit/cosign`` is for peers only (witnesses). Hashes
and proofs are standard base64, as in C2SP checkpoints.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from clearinghouse.node.api.deps import MAX_INT, AuditReader, ContextDep, PeerDep, parse_json_body
from clearinghouse.node.api.models import (
    AuditAlertList,
    AuditCheckpointList,
    AuditEntryPage,
    AuditSearchPage,
    ConsistencyProofAnswer,
    CosignAnswer,
    CosignaturesIn,
    InclusionProofAnswer,
    WitnessedLogList,
)
from clearinghouse.node.api.openapi import json_request
from clearinghouse.node.api.problems import problem_responses
from clearinghouse.node.context import NodeContext
from clearinghouse.node.errors import BadRequest
from clearinghouse.node.services.audit_reads import (
    EntryRow,
    EntrySearch,
    ServedCheckpoint,
    checkpoints_after,
    entry_range,
    latest_checkpoint_note,
    prove_consistency,
    prove_inclusion,
    search_entries,
    witnessed_checkpoints,
    witnessing_alerts,
)
from clearinghouse.node.services.cosignatures import store_cosignatures
from clearinghouse.node.services.reads import record_read
from clearinghouse.protocol.encoding import b64_encode
from clearinghouse.protocol.errors import EncodingError

__all__ = ["MAX_ENTRIES", "router"]

router = APIRouter(
    prefix="/v1/audit",
    tags=["audit"],
    responses=problem_responses(400, 401, 403, 413, 415, 422, 429),
)

#: Most entries in one ``/v1/audit/entries`` page.
MAX_ENTRIES = 10_000


def _entry(row: EntryRow) -> dict[str, Any]:
    return {"seq": row.seq, "leaf_hash": b64_encode(bytes(row.leaf_hash)), "body": row.body}


def _checkpoint(served: ServedCheckpoint) -> dict[str, Any]:
    return {
        "size": served.size,
        "root": b64_encode(served.root),
        "note": served.note,
        "witnesses": served.witnesses,
        "signed_at": served.signed_at.isoformat(),  # when this node signed it (RFC 3339)
        "consistency": [b64_encode(p) for p in served.consistency],
    }


#: A checkpoint as served: the C2SP signed note, then each witness's cosignature line.
_NOTE_EXAMPLE = (
    "clearinghouse.example/dpa\n2\nuR5ZQ2cZ2xgJ8C4mTzJ1D2l6b0ZpZ3l0c2Rvc3MzZWQ=\n\n"
    "\u2014 dpa-1 AAAAAWV4YW1wbGVzaWduYXR1cmU=\n\u2014 mission AAAAAmNvc2lnbmF0dXJl\n"
)


@router.get(
    "/checkpoint",
    operation_id="getAuditCheckpoint",
    summary="The latest signed checkpoint with every witness cosignature (text/plain)",
    response_class=Response,
    responses={
        200: {
            "description": "The C2SP signed note with its cosignature lines",
            "content": {"text/plain": {"schema": {"type": "string"}, "example": _NOTE_EXAMPLE}},
        },
        **problem_responses(404),
    },
)
async def checkpoint(ctx: ContextDep, _: AuditReader) -> Response:
    note = await run_in_threadpool(latest_checkpoint_note, ctx)
    return Response(note, media_type="text/plain; charset=utf-8")


@router.get(
    "/checkpoints",
    operation_id="listAuditCheckpoints",
    response_model=AuditCheckpointList,
    summary="Signed checkpoints after a size, each with a proof",
)
async def checkpoints(
    ctx: ContextDep,
    _: AuditReader,
    after: int = Query(0, ge=0, le=MAX_INT, description="Only checkpoints larger than this size."),
    limit: int = Query(200, ge=1, le=1000),
) -> dict[str, Any]:
    """Each checkpoint carries ``consistency``: the RFC 9162 proof from the previous
    checkpoint in the list (from ``after`` for the first; empty when ``after`` is 0)."""
    served = await run_in_threadpool(checkpoints_after, ctx, after, limit=limit)
    return {"checkpoints": [_checkpoint(c) for c in served]}


async def _audited(ctx: NodeContext, reader: str, details: dict[str, object]) -> None:
    """Record a local reader's read of entries (``data.read``, what ``audit``); a peer's
    reads are the witnessing protocol's, not recorded (they would feed each other)."""
    if not reader.startswith("peer:"):
        await run_in_threadpool(lambda: record_read(ctx, reader, "audit", details=details))


@router.get(
    "/entries",
    operation_id="getAuditEntries",
    # documented by its model, not validated through it: a page holds up to 10,000
    # entries, an auditor reads whole logs in such pages, and the model costs ~5x more
    responses={200: {"model": AuditEntryPage, "description": "The entries and the log's size"}},
    summary="Log entries start <= seq < end, in order",
)
async def entries(
    ctx: ContextDep,
    reader: AuditReader,
    start: int = Query(0, ge=0, le=MAX_INT),
    end: int | None = Query(
        None, ge=0, le=MAX_INT, description=f"Default start + 1000; at most start + {MAX_ENTRIES}."
    ),
) -> dict[str, Any]:
    stop = min(start + 1000, MAX_INT) if end is None else end
    if stop < start:
        raise BadRequest(f"end {stop} is before start {start}")
    if stop - start > MAX_ENTRIES:
        raise BadRequest(f"at most {MAX_ENTRIES} entries per page; ask for a smaller range")
    found = await run_in_threadpool(entry_range, ctx, start, stop)
    if found.entries:  # entries start <= seq < end were shown
        await _audited(ctx, reader, {"start": start, "end": start + len(found.entries)})
    return {"size": found.size, "entries": [_entry(r) for r in found.entries]}


#: An RFC 3339 date-time (§5.6), the form of the ``since`` and ``until`` filters; the offset
#: is required, but matched apart (:func:`_instant`) so that its absence is named.
_RFC3339 = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})?$"
)


def _instant(name: str, text: str | None) -> datetime | None:
    """A filter's RFC 3339 time in UTC; 400 without an offset or for an impossible time.
    (A number is no time here: JSON Schema's ``date-time``, not pydantic's Unix seconds.)"""
    if text is None:
        return None
    try:
        at = datetime.fromisoformat(text.upper())
        if at.tzinfo is not None:
            return at.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise BadRequest(f"{name}: {text!r} is not a date and time: {exc}") from exc
    raise BadRequest(f"{name} needs a time zone (RFC 3339, e.g. 2026-11-29T10:00:00Z)")


@router.get(
    "/search",
    operation_id="searchAuditLog",
    response_model=AuditSearchPage,
    summary="The newest entries matching filters (for browsing)",
)
async def search(
    request: Request,
    ctx: ContextDep,
    reader: AuditReader,
    act: str | None = Query(None, max_length=32),
    peer: str | None = Query(None, max_length=64),
    jti: str | None = Query(None, max_length=64),
    since: Annotated[str | None, Query(pattern=_RFC3339, description="At or after.")] = None,
    until: Annotated[str | None, Query(pattern=_RFC3339, description="Before.")] = None,
    before: int | None = Query(
        None, ge=0, le=MAX_INT, description="Page cursor: only seq below this."
    ),
    limit: int = Query(100, ge=1, le=1000),
    actor: str | None = Query(
        None, max_length=140, description="Who acted: person:<id>, token:<name>, peer:<id>."
    ),
) -> dict[str, Any]:
    filters = EntrySearch(
        act=act,
        peer=peer,
        jti=jti,
        actor=actor,
        since=_instant("since", since),
        until=_instant("until", until),
        before=before,
        limit=limit,
    )
    rows = await run_in_threadpool(search_entries, ctx, filters)
    await _audited(
        ctx, reader, {"filters": request.url.query[:1000] or None, "seqs": [r.seq for r in rows]}
    )
    return {"entries": [_entry(r) for r in rows], "next": rows[-1].seq if rows else None}


@router.get(
    "/proof/inclusion",
    operation_id="getInclusionProof",
    response_model=InclusionProofAnswer,
    summary="RFC 9162 inclusion proof of one entry",
    responses=problem_responses(404),
)
async def inclusion(
    ctx: ContextDep,
    _: AuditReader,
    index: int = Query(..., ge=0, le=MAX_INT),
    size: int = Query(..., ge=1, le=MAX_INT),
) -> dict[str, Any]:
    proved = await run_in_threadpool(prove_inclusion, ctx, index, size)
    return {
        "index": proved.index,
        "size": proved.size,
        "leaf_hash": b64_encode(proved.leaf_hash),
        "root": b64_encode(proved.root),
        "proof": [b64_encode(p) for p in proved.proof],
    }


@router.get(
    "/proof/consistency",
    operation_id="getConsistencyProof",
    response_model=ConsistencyProofAnswer,
    summary="RFC 9162 consistency proof between two sizes",
)
async def consistency(
    ctx: ContextDep,
    _: AuditReader,
    old: int = Query(..., ge=1, le=MAX_INT),
    new: int = Query(..., ge=1, le=MAX_INT),
) -> dict[str, Any]:
    proved = await run_in_threadpool(prove_consistency, ctx, old, new)
    return {
        "old": proved.old,
        "new": proved.new,
        "old_root": b64_encode(proved.old_root),
        "new_root": b64_encode(proved.new_root),
        "proof": [b64_encode(p) for p in proved.proof],
    }


@router.post(
    "/cosign",
    operation_id="submitCosignatures",
    response_model=CosignAnswer,
    summary="A witness's cosignatures on this node's checkpoints",
    openapi_extra=json_request(CosignaturesIn),
)
async def cosign(ctx: ContextDep, peer: PeerDep) -> dict[str, Any]:
    """Body ``{"cosignatures": [{"size": N, "line": "— <witness> <base64>"}]}``; each line
    must verify with the calling peer's cosignature key on this node's checkpoint N."""
    try:
        document = await parse_json_body(peer.body)
    except EncodingError as exc:
        raise BadRequest(f"body: {exc.message}") from exc
    items = document.get("cosignatures") if isinstance(document, dict) else None
    if not isinstance(items, list) or not items:
        raise BadRequest("body must be a JSON object with a non-empty 'cosignatures' array")
    if len(items) > 1000:
        raise BadRequest("at most 1000 cosignatures per request")
    stored = await run_in_threadpool(store_cosignatures, ctx, witness=peer.id, items=items)
    return {"stored": stored, "received": len(items)}


@router.get(
    "/alerts",
    operation_id="listAuditAlerts",
    response_model=AuditAlertList,
    summary="Peers caught with an audit log inconsistent with one cosigned, and this "
    "node's log gone unwitnessed",
)
async def alerts(ctx: ContextDep, _: AuditReader) -> dict[str, Any]:
    rows = await run_in_threadpool(witnessing_alerts, ctx)
    return {
        "alerts": [
            {
                "id": a.id,
                "peer": a.peer,
                "kind": a.kind,
                "detail": a.detail,
                "evidence": a.evidence,
                "raised_at": a.raised_at.isoformat(),
            }
            for a in rows
        ]
    }


@router.get(
    "/witnessed",
    operation_id="listWitnessedLogs",
    response_model=WitnessedLogList,
    summary="The latest checkpoint of each peer's log this node cosigned",
)
async def witnessed(ctx: ContextDep, _: AuditReader) -> dict[str, Any]:
    logs = await run_in_threadpool(witnessed_checkpoints, ctx)
    return {"logs": [{"peer": w.peer, "size": w.size, "note": w.note} for w in logs]}
