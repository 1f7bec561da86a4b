"""``/v1/audit``: the node's audit log, its checkpoints, proofs, and witnessing.

Readers are local users with the ``auditor`` role (bearer token) or peers (RFC 9421
signed requests); ``POST /v1/audit/cosign`` is for peers only (witnesses). Hashes
and proofs are standard base64, as in C2SP checkpoints.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from starlette.concurrency import run_in_threadpool

from clearinghouse.node.api.deps import AuditReader, ContextDep, PeerDep, parse_json_body
from clearinghouse.node.api.problems import problem_responses
from clearinghouse.node.errors import BadRequest, NotFound, Unprocessable
from clearinghouse.node.services.checkpoints import served_checkpoint
from clearinghouse.node.storage import auditlog
from clearinghouse.node.storage.db import MAX_INT, transaction
from clearinghouse.protocol.audit import witness_keys, witness_name
from clearinghouse.protocol.errors import EncodingError, MerkleInputError, NoteError
from clearinghouse.protocol.notes import parse_note, verify_cosignature

__all__ = ["MAX_ENTRIES", "router"]

router = APIRouter(
    prefix="/v1/audit",
    tags=["audit"],
    responses=problem_responses(400, 401, 403, 413, 415, 422, 429),
)

#: Most entries in one ``/v1/audit/entries`` page.
MAX_ENTRIES = 10_000


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _entry(row: Any) -> dict[str, Any]:
    return {"seq": row.seq, "leaf_hash": _b64(bytes(row.leaf_hash)), "body": row.body}


def _with_cosignatures(session: Any, rows: list[Any]) -> list[dict[str, Any]]:
    lines = auditlog.cosignatures(session, [r.size for r in rows])
    return [
        {
            "size": r.size,
            "root": _b64(bytes(r.root)),
            "note": served_checkpoint(r.note, [c.line for c in lines[r.size]]),
            "witnesses": [c.witness for c in lines[r.size]],
            "signed_at": r.signed_at.isoformat(),  # when this node signed it (RFC 3339)
        }
        for r in rows
    ]


@router.get(
    "/checkpoint",
    summary="The latest signed checkpoint with every witness cosignature (text/plain)",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}, **problem_responses(404)},
)
async def checkpoint(ctx: ContextDep, _: AuditReader) -> Response:
    def latest() -> str:
        with transaction(ctx.engine) as session:
            row = auditlog.latest_checkpoint(session)
            if row is None:
                raise NotFound("no checkpoint yet: the audit log is empty")
            return str(_with_cosignatures(session, [row])[0]["note"])

    return Response(await run_in_threadpool(latest), media_type="text/plain; charset=utf-8")


@router.get("/checkpoints", summary="Signed checkpoints after a size, each with a proof")
async def checkpoints(
    ctx: ContextDep,
    _: AuditReader,
    after: int = Query(0, ge=0, le=MAX_INT, description="Only checkpoints larger than this size."),
    limit: int = Query(200, ge=1, le=1000),
) -> dict[str, Any]:
    """Each checkpoint carries ``consistency``: the RFC 9162 proof from the previous
    checkpoint in the list (from ``after`` for the first; empty when ``after`` is 0)."""

    def page() -> dict[str, Any]:
        with transaction(ctx.engine) as session:
            rows = auditlog.checkpoints_after(session, after, limit=limit)
            items = _with_cosignatures(session, rows)
            previous = after
            for item in items:
                proof = (
                    auditlog.consistency_proof(session, previous, item["size"]) if previous else []
                )
                item["consistency"] = [_b64(p) for p in proof]
                previous = item["size"]
        return {"checkpoints": items}

    return await run_in_threadpool(page)


@router.get("/entries", summary="Log entries start <= seq < end, in order")
async def entries(
    ctx: ContextDep,
    _: AuditReader,
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

    def page() -> dict[str, Any]:
        with transaction(ctx.engine) as session:
            rows = auditlog.entries(session, start, stop)
            head = auditlog.head(session)
        return {"size": head.size, "entries": [_entry(r) for r in rows]}

    return await run_in_threadpool(page)


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


@router.get("/search", summary="The newest entries matching filters (for browsing)")
async def search(
    ctx: ContextDep,
    _: AuditReader,
    act: str | None = Query(None, max_length=32),
    peer: str | None = Query(None, max_length=64),
    jti: str | None = Query(None, max_length=64),
    since: Annotated[str | None, Query(pattern=_RFC3339, description="At or after.")] = None,
    until: Annotated[str | None, Query(pattern=_RFC3339, description="Before.")] = None,
    before: int | None = Query(
        None, ge=0, le=MAX_INT, description="Page cursor: only seq below this."
    ),
    limit: int = Query(100, ge=1, le=1000),
) -> dict[str, Any]:
    start, stop = _instant("since", since), _instant("until", until)

    def page() -> dict[str, Any]:
        with transaction(ctx.engine) as session:
            rows = auditlog.search(
                session,
                act=act,
                peer=peer,
                jti=jti,
                since=start,
                until=stop,
                before=before,
                limit=limit,
            )
        return {"entries": [_entry(r) for r in rows], "next": rows[-1].seq if rows else None}

    return await run_in_threadpool(page)


@router.get(
    "/proof/inclusion",
    summary="RFC 9162 inclusion proof of one entry",
    responses=problem_responses(404),
)
async def inclusion(
    ctx: ContextDep,
    _: AuditReader,
    index: int = Query(..., ge=0, le=MAX_INT),
    size: int = Query(..., ge=1, le=MAX_INT),
) -> dict[str, Any]:
    def prove() -> dict[str, Any]:
        with transaction(ctx.engine) as session:
            try:
                proof = auditlog.inclusion_proof(session, index, size)
                root = auditlog.root_at(session, size)
            except MerkleInputError as exc:
                raise BadRequest(exc.message) from exc
            found = auditlog.entries(session, index, index + 1)
            if not found:
                raise NotFound(f"entry {index} is missing from the log")
            leaf = found[0]
        return {
            "index": index,
            "size": size,
            "leaf_hash": _b64(bytes(leaf.leaf_hash)),
            "root": _b64(root),
            "proof": [_b64(p) for p in proof],
        }

    return await run_in_threadpool(prove)


@router.get("/proof/consistency", summary="RFC 9162 consistency proof between two sizes")
async def consistency(
    ctx: ContextDep,
    _: AuditReader,
    old: int = Query(..., ge=1, le=MAX_INT),
    new: int = Query(..., ge=1, le=MAX_INT),
) -> dict[str, Any]:
    def prove() -> dict[str, Any]:
        with transaction(ctx.engine) as session:
            try:
                proof = auditlog.consistency_proof(session, old, new)
                roots = auditlog.root_at(session, old), auditlog.root_at(session, new)
            except MerkleInputError as exc:
                raise BadRequest(exc.message) from exc
        return {
            "old": old,
            "new": new,
            "old_root": _b64(roots[0]),
            "new_root": _b64(roots[1]),
            "proof": [_b64(p) for p in proof],
        }

    return await run_in_threadpool(prove)


_COSIGNATURES = {
    "type": "object",
    "required": ["cosignatures"],
    "properties": {
        "cosignatures": {
            "type": "array",
            "minItems": 1,
            "maxItems": 1000,
            "items": {
                "type": "object",
                "required": ["size", "line"],
                "properties": {
                    "size": {"type": "integer", "minimum": 1},
                    "line": {"type": "string", "description": "— <witness> <base64>"},
                },
            },
        }
    },
}


@router.post(
    "/cosign",
    summary="A witness's cosignatures on this node's checkpoints",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _COSIGNATURES}},
        }
    },
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
    name = witness_name(ctx.manifest.federation, peer.id)
    keys = [k for k in witness_keys(ctx.manifest) if k.name == name]

    def store() -> int:
        good: list[tuple[int, str, int]] = []
        with transaction(ctx.engine) as session:
            for index, item in enumerate(items):
                size, line = (
                    (item.get("size"), item.get("line")) if isinstance(item, dict) else (None, None)
                )
                if type(size) is not int or not isinstance(line, str):
                    raise BadRequest(f"cosignatures[{index}]: needs an integer size and a line")
                if not 0 <= size <= MAX_INT:
                    raise Unprocessable(f"cosignatures[{index}]: no checkpoint of size {size}")
                row = auditlog.checkpoint_at(session, size)
                if row is None:
                    raise Unprocessable(f"cosignatures[{index}]: no checkpoint of size {size}")
                text = parse_note(row.note).text
                problems = []
                for key in keys:
                    try:
                        timestamp = verify_cosignature(text, line, key)
                        break
                    except NoteError as exc:
                        problems.append(exc.message)
                else:
                    raise Unprocessable(
                        f"cosignatures[{index}] on checkpoint {size} does not verify with a "
                        f"cosignature key of {peer.id}: {'; '.join(problems) or 'no key'}"
                    )
                good.append((size, line if line.endswith("\n") else line + "\n", timestamp))
            return auditlog.add_cosignatures(
                session, witness=peer.id, lines=good, now=ctx.clock.now()
            )

    stored = await run_in_threadpool(store)
    ctx.metrics.audit_cosignatures.labels(witness=peer.id).inc(stored)
    return {"stored": stored, "received": len(items)}


@router.get("/alerts", summary="Peers caught with an audit log inconsistent with one cosigned")
async def alerts(ctx: ContextDep, _: AuditReader) -> dict[str, Any]:
    def read() -> dict[str, Any]:
        with transaction(ctx.engine) as session:
            rows = auditlog.alerts(session)
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

    return await run_in_threadpool(read)


@router.get("/witnessed", summary="The latest checkpoint of each peer's log this node cosigned")
async def witnessed(ctx: ContextDep, _: AuditReader) -> dict[str, Any]:
    def read() -> dict[str, Any]:
        logs = []
        with transaction(ctx.engine) as session:
            for peer in ctx.peers:
                row = auditlog.witnessed(session, peer.id)
                if row is not None:
                    logs.append({"peer": peer.id, "size": row.size, "note": row.note})
        return {"logs": logs}

    return await run_in_threadpool(read)
