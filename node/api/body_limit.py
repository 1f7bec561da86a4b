"""A cap on how much of a request body is read, decided from the headers (pure ASGI).

Routes read their bodies with :func:`node.api.deps.read_body` after authenticating
the caller from the headers, but FastAPI reads a route's pydantic body parameter
*before* running its dependencies, so a token check there would come after the read.
This middleware bounds every read, whoever makes it:

* ``max_body_bytes`` for a request that presents credentials: a bearer token known
  to this node, or RFC 9421 signature headers (which the peer dependency verifies
  before it reads anything);
* ``max_unauthenticated_body_bytes`` (a few KiB) for any other request.

A read past the cap raises :class:`node.errors.PayloadTooLarge`: at the first read
when ``Content-Length`` declares more (nothing is read), else as soon as more than
the cap has arrived. Whatever the reader makes of that error (FastAPI turns it into
a 400 "error parsing the body"), the answer is 413 problem+json naming the limit. A
request nobody reads costs nothing: the route answers (e.g. 401) from its headers.

Only reads made before the answer starts are capped; a response that listens for the
client's disconnect afterwards gets the server's messages unchanged.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clearinghouse.node.api.problems import problem_response
from clearinghouse.node.errors import PayloadTooLarge

__all__ = ["BodyLimitMiddleware"]


class BodyLimitMiddleware:
    """Refuse (413) a body read past the cap for its request (see the module docstring)."""

    def __init__(
        self, app: ASGIApp, *, max_body_bytes: int, max_unauthenticated_bytes: int
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_unauthenticated_bytes = min(max_unauthenticated_bytes, max_body_bytes)

    def _cap(self, scope: Scope, headers: Headers) -> tuple[int, str]:
        """The cap for this request, and whom it applies to (for the detail)."""
        if "signature-input" in headers or "signature" in headers:
            return self.max_body_bytes, "a signed request"
        scheme, _, bearer = headers.get("authorization", "").partition(" ")
        app = scope.get("app")
        ctx = getattr(app.state, "node", None) if app is not None else None
        if scheme.lower() == "bearer" and bearer.strip() and ctx is not None:
            if ctx.token(bearer.strip()) is not None:
                return self.max_body_bytes, "a request with a bearer token"
        return self.max_unauthenticated_bytes, "a request without credentials"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        cap, who = self._cap(scope, headers)
        declared = headers.get("content-length", "")
        refused: PayloadTooLarge | None = None
        started = answered = False
        received = 0

        async def capped_receive() -> Message:
            nonlocal refused, received
            if started:
                return await receive()
            if refused is not None:
                raise refused
            if declared.isdigit() and int(declared) > cap:
                refused = PayloadTooLarge(
                    f"body of {declared} bytes exceeds the limit of {cap} for {who}"
                )
                raise refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap:
                    refused = PayloadTooLarge(f"body exceeds the limit of {cap} bytes for {who}")
                    raise refused
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started, answered
            if answered:
                return
            if message["type"] == "http.response.start":
                started = True
                if refused is not None and message["status"] != refused.status:
                    answered = True  # the reader answered otherwise: the 413 replaces it
                    response = problem_response(
                        refused.status, refused.code, refused.title, refused.detail, scope["path"]
                    )
                    await response(scope, receive, send)
                    return
            await send(message)

        await self.app(scope, capped_receive, guarded_send)
