"""Request ids and the access log: a pure ASGI middleware (no ``BaseHTTPMiddleware``).

Each HTTP request gets an id: the caller's ``X-Request-Id`` when it is 1 to 128
characters of ``[A-Za-z0-9._-]``, else a fresh one (:func:`node.logs.new_request_id`).
The id is kept in :data:`node.logs.REQUEST_ID` for the whole request, so every log
line written while serving it carries ``request_id`` (also from worker threads), and
it is returned in the response's ``X-Request-Id`` header and in problem+json bodies.

With ``access_log`` on, one INFO line per request goes to the ``clearinghouse.access``
logger: method, path (never the query string, headers or body), status, duration in
milliseconds, and the peer when the request was RFC 9421-authenticated.

The context variables are deliberately not reset when the app raises: Starlette's
``ServerErrorMiddleware`` sits outside this one and answers and logs the error in
the same task, with the id still known. Each request runs in a task of its own, so
nothing leaks into the next one.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Final

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clearinghouse.node.logs import PEER, REQUEST_ID, new_request_id

__all__ = ["HEADER", "RequestIdMiddleware", "accepted_request_id"]

HEADER: Final = "x-request-id"
_HEADER_BYTES: Final = HEADER.encode()
_VALID: Final = re.compile(r"[A-Za-z0-9._-]{1,128}")
_MAX_PATH: Final = 512  # longer paths are cut in the access log

access_log = logging.getLogger("clearinghouse.access")


def accepted_request_id(value: str | None) -> str | None:
    """``value`` if it is a well-formed request id (1-128 of ``[A-Za-z0-9._-]``), else None."""
    if value is not None and _VALID.fullmatch(value):
        return value
    return None


def _incoming(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == _HEADER_BYTES:
            return str(value.decode("latin-1"))
    return None


class RequestIdMiddleware:
    """Give each HTTP request an id (context, response header) and optionally log it."""

    def __init__(self, app: ASGIApp, *, access_log: bool = False) -> None:
        self.app = app
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = accepted_request_id(_incoming(scope)) or new_request_id()
        REQUEST_ID.set(request_id)
        PEER.set(None)
        started = time.perf_counter()
        status = 500  # unless a response starts: the app raised

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if self.access_log:
                self._log(scope, status, time.perf_counter() - started)

    @staticmethod
    def _log(scope: Scope, status: int, elapsed: float) -> None:
        method, path = scope.get("method", "?"), scope.get("path", "")[:_MAX_PATH]
        access_log.info(
            "%s %s %d",
            method,
            path,
            status,
            extra={
                "method": method,
                "path": path,
                "status": status,
                "duration_ms": round(elapsed * 1000, 1),
            },
        )
