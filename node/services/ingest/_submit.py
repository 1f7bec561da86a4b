"""The answer of ``POST /v1/local/records``, given once per ``Idempotency-Key``.

A request sent with an ``Idempotency-Key`` again with the same body gets the first
answer again, a 200 or the refusal (:mod:`node.storage.idempotency`); the same key with
another body is refused (422), and so is a key whose first request still runs (409).
Keys are scoped to the calling token.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine

from clearinghouse.node.context import NodeContext
from clearinghouse.node.errors import (
    IdempotencyKeyInUse,
    IdempotencyKeyReused,
    NodeError,
    RecordConflict,
    Unprocessable,
)
from clearinghouse.node.services.ingest._pipeline import ingest_records
from clearinghouse.node.storage import idempotency
from clearinghouse.node.storage.db import transaction

__all__ = ["Answer", "IdempotentRequest", "submit_records"]


@dataclass(frozen=True)
class IdempotentRequest:
    """A request's ``Idempotency-Key`` and the SHA-256 (hex) of its body."""

    key: str
    request_sha256: str


@dataclass(frozen=True)
class Answer:
    """The body of a 200 answer; ``replayed`` if it was given before to the same key."""

    body: dict[str, Any]
    replayed: bool = False


def submit_records(
    ctx: NodeContext,
    schema: str,
    records: Sequence[Any],
    *,
    hc: str,
    hc_restriction: str | None,
    actor: str,
    scope: str,
    idempotent: IdempotentRequest | None = None,
) -> Answer:
    """Ingest ``records`` for ``actor`` (what the audit entries name: ``token:<name>``,
    ``person:<id>``) and shape the answer: the records accepted (issued or duplicates)
    and those rejected, by index. ``scope`` is whose ``Idempotency-Key`` values these
    are (a token's name, or ``person:<id>``).

    Raises :class:`Unprocessable` (422) if no record was accepted, :class:`RecordConflict`
    (409) if every refusal was a revision. With ``idempotent``: the same key and body
    again gets the first answer (200 or that refusal); raises
    :class:`IdempotencyKeyReused` (422) for the same key with another body and
    :class:`IdempotencyKeyInUse` (409) while the first request runs.
    """
    if idempotent is None:
        return Answer(_records_answer(ctx, schema, records, hc, hc_restriction, actor))
    scope = _scope(scope)
    held = _claim(ctx, scope, idempotent)
    if held is not None:
        return _replay(held, idempotent)
    try:
        body = _records_answer(ctx, schema, records, hc, hc_restriction, actor)
    except (Unprocessable, RecordConflict) as exc:  # the records were processed: keep it
        _keep(ctx.engine, scope, idempotent.key, exc.status, _problem_document(exc))
        raise
    except BaseException:
        _release(ctx.engine, scope, idempotent.key)
        raise
    _keep(ctx.engine, scope, idempotent.key, 200, body)
    return Answer(body)


def _claim(
    ctx: NodeContext, scope: str, request: IdempotentRequest
) -> idempotency.HeldRequest | None:
    """Claim ``request``'s key for this request; the request held under it, if any."""
    with transaction(ctx.engine) as session:
        return idempotency.claim(
            session,
            token=scope,
            key=request.key,
            request_sha256=request.request_sha256,
            now=ctx.clock.now(),
            retention=timedelta(seconds=ctx.settings.idempotency_retention_s),
        )


def _scope(scope: str) -> str:
    """``scope`` as its keys' scope; one longer than the column (255) by its SHA-256, so
    that it still names one client and one only."""
    if len(scope) <= 255:
        return scope
    return "sha256:" + hashlib.sha256(scope.encode()).hexdigest()


def _records_answer(
    ctx: NodeContext,
    schema: str,
    records: Sequence[Any],
    hc: str,
    hc_restriction: str | None,
    actor: str,
) -> dict[str, Any]:
    result = ingest_records(ctx, schema, records, hc=hc, hc_restriction=hc_restriction, actor=actor)
    rejected = [
        {"index": r.index, "status": r.status, "code": r.code, "detail": r.detail}
        | ({"jti": r.jti} if r.jti else {})
        for r in result.rejected
    ]
    if not result.accepted:
        first = rejected[0]
        detail = f"no record accepted; record {first['index']}: {first['detail']}"
        if all(r.status == RecordConflict.status for r in result.rejected):
            raise RecordConflict(detail, rejected=rejected)
        raise Unprocessable(detail, rejected=rejected)
    issued = result.issued
    return {
        "accepted": len(result.accepted),
        "issued": issued,
        "duplicates": len(result.accepted) - issued,
        "rejected": rejected,
        "packets": result.accepted,
    }


def _keep(engine: Engine, scope: str, key: str, status: int, document: dict[str, Any]) -> None:
    """Keep the answer given to the request under ``key``, to give it again."""
    with transaction(engine) as session:
        idempotency.complete(
            session, token=scope, key=key, status=status, response=json.dumps(document)
        )


def _release(engine: Engine, scope: str, key: str) -> None:
    """Free ``key`` of a request that failed before it was answered: it may be sent again."""
    with transaction(engine) as session:
        idempotency.release(session, token=scope, key=key)


def _problem_document(exc: NodeError) -> dict[str, Any]:
    return {"code": exc.code, "title": exc.title, "detail": exc.detail, "extra": exc.extra}


def _replay(held: idempotency.HeldRequest, request: IdempotentRequest) -> Answer:
    if held.request_sha256 != request.request_sha256:
        raise IdempotencyKeyReused(
            f"Idempotency-Key {request.key!r} was used for a request with another body; "
            "use a new key for a new request"
        )
    if held.status is None or held.response is None:
        raise IdempotencyKeyInUse(
            f"a request with Idempotency-Key {request.key!r} is still being processed; "
            "retry once it is answered"
        )
    document = json.loads(held.response)
    if held.status == 200:
        return Answer(document, replayed=True)
    problem = NodeError(document["detail"], **document["extra"])
    problem.status, problem.code, problem.title = held.status, document["code"], document["title"]
    problem.headers["idempotent-replayed"] = "true"
    raise problem
