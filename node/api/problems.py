"""RFC 9457 problem details: the one place errors become HTTP answers.

Node errors carry their status and code; protocol errors are refusals of
content (422) unless they are about who signed (401); FastAPI's own validation
errors name the offending field. The ``type`` of each problem is a URN naming the
machine-readable code, so clients can branch on it. Each problem carries the
request's ``request_id`` (see :mod:`node.api.request_id`), in its body and in its
``X-Request-Id`` header, so that a caller can quote it and an operator find the log
lines; the header is set here too because unexpected errors are answered outside
the request-id middleware.

Every refusal (a 4xx answer) is counted in ``clearinghouse_requests_refused_total``
by its problem code, so that a flood of bad requests shows on ``/metrics`` even when
nothing about it reaches the audit log (which records acts on shared data only).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from clearinghouse.node.api.ui_headers import security_headers
from clearinghouse.node.errors import NodeError
from clearinghouse.node.logs import REQUEST_ID
from clearinghouse.protocol.errors import ProtocolError, TrustError

__all__ = ["PROBLEM_JSON", "install_problem_handlers", "problem_response", "problem_responses"]

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("clearinghouse.api")

#: The schema of every problem this node answers (:class:`node.api.models.Problem`), a
#: component of the OpenAPI document (:mod:`node.api.openapi` adds it).
PROBLEM_SCHEMA: dict[str, Any] = {"$ref": "#/components/schemas/Problem"}
_REFUSALS = {
    400: "Bad request: a malformed body or parameter (e.g. a NUL character)",
    401: "Not authenticated: no or an unknown bearer token, or a refused request signature",
    403: "Forbidden: the caller's role or identity may not do this",
    404: "Not found",
    409: "Conflict: a request with this Idempotency-Key is still running, or a record is "
    "held with other content",
    413: "Payload too large",
    415: "The body is not declared JSON",
    422: "Refused: invalid parameters, or content the protocol refuses (the detail says why)",
    429: "Too many requests from this peer or address, or beyond the peer's quota (Retry-After)",
    503: "Not ready, or the identity provider cannot be asked (Retry-After)",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` for the refusals a route may give, each problem+json."""
    return {
        status: {
            "description": _REFUSALS[status],
            "content": {PROBLEM_JSON: {"schema": dict(PROBLEM_SCHEMA)}},
        }
        for status in statuses
    }


def problem_response(
    status: int,
    code: str,
    title: str,
    detail: str,
    instance: str,
    *,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = {
        "type": f"urn:clearinghouse:problem:{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
        **extra,
    }
    headers = {**({"retry-after": "5"} if status == 503 else {}), **(headers or {})}
    request_id = REQUEST_ID.get()
    if request_id is not None:
        body["request_id"] = request_id
        headers["x-request-id"] = request_id
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _count_refusal(request: Request, status: int, code: str) -> None:
    """Count a 4xx answer by its problem code (once the node is open)."""
    ctx = getattr(request.app.state, "node", None)
    if ctx is not None and 400 <= status < 500:
        ctx.metrics.requests_refused.labels(code=code).inc()


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(NodeError)
    async def _node_error(request: Request, exc: NodeError) -> JSONResponse:
        _count_refusal(request, exc.status, exc.code)
        return problem_response(
            exc.status,
            exc.code,
            exc.title,
            exc.detail,
            request.url.path,
            headers=exc.headers,
            **exc.extra,
        )

    @app.exception_handler(ProtocolError)
    async def _protocol_error(request: Request, exc: ProtocolError) -> JSONResponse:
        status = 401 if isinstance(exc, TrustError) else 422
        _count_refusal(request, status, exc.code)
        return problem_response(status, exc.code, "Refused", exc.message, request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"where": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg", "")}
            for e in exc.errors()
        ]
        detail = "; ".join(f"{e['where']}: {e['message']}" for e in errors)
        _count_refusal(request, 422, "invalid-request")
        return problem_response(
            422, "invalid-request", "Invalid request", detail, request.url.path, errors=errors
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
        detail = str(exc.detail)
        # The router's own refusals say only "Not Found" / "Method Not Allowed": name what.
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no endpoint {request.method} {request.url.path!r} on this node"
        elif exc.status_code == 405 and detail == "Method Not Allowed":
            detail = f"{request.method} is not allowed on {request.url.path!r}"
        _count_refusal(request, exc.status_code, code)
        return problem_response(
            exc.status_code,
            code,
            str(exc.detail),
            detail,
            request.url.path,
            headers=dict(exc.headers or {}),
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return problem_response(
            500,
            "internal-error",
            "Internal error",
            "an unexpected error; see the node's log",
            request.url.path,
            # answered by Starlette's outermost middleware, past the /ui headers one
            headers=security_headers(request.url.path),
        )
