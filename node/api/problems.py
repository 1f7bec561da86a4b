"""RFC 9457 problem details: the one place errors become HTTP answers.

Node errors carry their status and code; protocol errors are refusals of
content (422) unless they are about who signed (401); FastAPI's own validation
errors name the offending field. The ``type`` of each problem is a URN naming the
machine-readable code, so clients can branch on it. Each problem carries the
request's ``request_id`` (see :mod:`node.api.request_id`), in its body and in its
``X-Request-Id`` header, so that a caller can quote it and an operator find the log
lines; the header is set here too because unexpected errors are answered outside
the request-id middleware.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from node.errors import NodeError
from node.logs import REQUEST_ID
from protocol.errors import ProtocolError, TrustError

__all__ = ["PROBLEM_JSON", "install_problem_handlers", "problem_response"]

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("clearinghouse.api")


def problem_response(
    status: int, code: str, title: str, detail: str, instance: str, **extra: Any
) -> JSONResponse:
    body = {
        "type": f"urn:clearinghouse:problem:{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
        **extra,
    }
    headers = {"retry-after": "5"} if status == 503 else {}
    request_id = REQUEST_ID.get()
    if request_id is not None:
        body["request_id"] = request_id
        headers["x-request-id"] = request_id
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(NodeError)
    async def _node_error(request: Request, exc: NodeError) -> JSONResponse:
        return problem_response(
            exc.status, exc.code, exc.title, exc.detail, request.url.path, **exc.extra
        )

    @app.exception_handler(ProtocolError)
    async def _protocol_error(request: Request, exc: ProtocolError) -> JSONResponse:
        status = 401 if isinstance(exc, TrustError) else 422
        return problem_response(status, exc.code, "Refused", exc.message, request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"where": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg", "")}
            for e in exc.errors()
        ]
        detail = "; ".join(f"{e['where']}: {e['message']}" for e in errors)
        return problem_response(
            422, "invalid-request", "Invalid request", detail, request.url.path, errors=errors
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
        return problem_response(
            exc.status_code, code, str(exc.detail), str(exc.detail), request.url.path
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
        )
