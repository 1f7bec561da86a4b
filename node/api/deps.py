"""Request dependencies: the node context, bearer-token roles, and peer authentication.

A peer's request is authenticated (RFC 9421 signature by a key of a manifest
participant, fresh ``created``, unused nonce, body matching ``Content-Digest``)
before any route code runs; the route receives the peer id and the exact body.
Once the signature verified, the peer's request rate is limited
(:mod:`node.api.rate_limit`, 429 with ``Retry-After``) before its nonce is stored,
and a body must be declared JSON (415 otherwise).

:func:`no_nul_characters` runs before every route: a NUL character (U+0000) in the
path or the query string is refused with 400, never passed on to the database
(PostgreSQL cannot hold one in a text value).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from node.api.rate_limit import PeerRateLimiter
from node.context import NodeContext
from node.errors import (
    BadRequest,
    Forbidden,
    PayloadTooLarge,
    RateLimited,
    ReplayedNonce,
    Unauthenticated,
    UnknownKeyId,
    UnsupportedMediaType,
)
from node.logs import PEER
from node.settings import TokenSetting
from node.storage import peers
from node.storage.db import transaction
from node.transport.httpsig import verify_request
from protocol.errors import ProtocolError
from protocol.manifest import signing_key

__all__ = [
    "AdminOrPeer",
    "AdminOrPeerRequest",
    "AuditReader",
    "AuthenticatedPeer",
    "ContextDep",
    "PeerDep",
    "no_nul_characters",
    "read_body",
    "require_json",
    "require_role",
]


def _context(request: Request) -> NodeContext:
    return request.app.state.node  # type: ignore[no-any-return]


ContextDep = Annotated[NodeContext, Depends(_context)]


async def read_body(request: Request, ctx: NodeContext) -> bytes:
    """The request body, refused with 413 past ``max_body_bytes`` (without reading it all)."""
    limit = ctx.settings.max_body_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"body of {declared} bytes exceeds the limit of {limit}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def require_json(request: Request) -> None:
    """Refuse (415) a request whose body is not declared ``application/json`` (or ``+json``)."""
    declared = request.headers.get("content-type", "")
    media = declared.split(";", 1)[0].strip().lower()
    if media != "application/json" and not (
        media.startswith("application/") and media.endswith("+json")
    ):
        shown = repr(declared[:80]) if declared else "none"
        raise UnsupportedMediaType(
            f"the body must be JSON with Content-Type: application/json, not {shown}"
        )


async def no_nul_characters(request: Request) -> None:
    """Refuse (400) a NUL character in the path or in a query parameter's name or value.

    ``async`` so that FastAPI runs it inline, not in the thread pool, on every request."""
    if "\x00" in request.url.path:
        raise BadRequest("the path contains a NUL character (U+0000), which no id may hold")
    for name, value in request.query_params.multi_items():
        if "\x00" in name or "\x00" in value:
            raise BadRequest(
                f"query parameter {name.replace(chr(0), '?')!r} contains a NUL character "
                "(U+0000), which no filter or id may hold"
            )


def _peer_limiter(request: Request) -> PeerRateLimiter | None:
    return getattr(request.app.state, "peer_limiter", None)


def require_role(*roles: str) -> Callable[[Request], TokenSetting]:
    """A dependency admitting a bearer token with one of ``roles`` (``admin`` always)."""

    def check(request: Request) -> TokenSetting:
        ctx = _context(request)
        header = request.headers.get("authorization", "")
        scheme, _, bearer = header.partition(" ")
        if scheme.lower() != "bearer" or not bearer.strip():
            raise Unauthenticated("this endpoint needs 'Authorization: Bearer <token>'")
        token = ctx.token(bearer.strip())
        if token is None:
            raise Unauthenticated("the bearer token is not known to this node")
        if token.role not in roles and token.role != "admin":
            raise Forbidden(
                f"token {token.name!r} has role {token.role!r}; this endpoint needs "
                f"{' or '.join(roles)}"
            )
        return token

    return check


@dataclass(frozen=True)
class AuthenticatedPeer:
    id: str
    kid: str
    body: bytes


async def _authenticated_peer(request: Request) -> AuthenticatedPeer:
    ctx = _context(request)
    body = await read_body(request, ctx)
    now = ctx.clock.now()
    signer: dict[str, str] = {}

    def resolve(key_id: str) -> Ed25519PublicKey:
        for participant in ctx.manifest.participants:
            if any(k.kid == key_id for k in participant.keys):
                try:
                    key = signing_key(ctx.manifest, participant.id, key_id, now)
                except ProtocolError as exc:
                    raise UnknownKeyId(f"keyid {key_id}: {exc}") from exc
                signer["id"] = participant.id
                return key
        raise UnknownKeyId(f"keyid {key_id!r} is not a key of any participant in the manifest")

    target = ctx.public_url + request.url.path
    if request.url.query:
        target += "?" + request.url.query
    verified = verify_request(
        method=request.method,
        url=target,
        headers=list(request.headers.items()),
        body=body,
        resolve_key=resolve,
        now=now,
        window=ctx.signature_window,
    )
    peer = signer["id"]
    if peer == ctx.participant:
        raise Forbidden("a node does not send to itself")
    PEER.set(peer)  # from here on (signature verified), this request's log lines carry the peer
    limiter = _peer_limiter(request)
    if limiter is not None and (wait := limiter.acquire(peer)):
        ctx.metrics.rate_limited.labels(peer=peer).inc()
        raise RateLimited(
            f"peer {peer!r} is over its rate limit of {limiter.rate:g} requests/s "
            f"(burst {limiter.burst}); retry after {wait} s",
            retry_after=wait,
        )

    def remember() -> bool:
        with transaction(ctx.engine) as session:
            return peers.remember_nonce(session, peer=peer, nonce=verified.nonce, now=now)

    if not await run_in_threadpool(remember):
        raise ReplayedNonce(f"nonce {verified.nonce!r} from {peer!r} was already used")
    if body:
        require_json(request)
    return AuthenticatedPeer(peer, verified.key_id, body)


PeerDep = Annotated[AuthenticatedPeer, Depends(_authenticated_peer)]


_auditor = require_role("auditor")


async def _audit_reader(request: Request) -> str:
    """A peer's signed request (``peer:<id>``) or a local ``auditor`` token (``token:<name>``)."""
    if "signature" in request.headers or "signature-input" in request.headers:
        peer = await _authenticated_peer(request)
        return f"peer:{peer.id}"
    return f"token:{_auditor(request).name}"


AuditReader = Annotated[str, Depends(_audit_reader)]


_admin = require_role("admin")


@dataclass(frozen=True)
class AdminOrPeerRequest:
    """Who sent a trust change (``token:<name>`` or ``peer:<id>``) and its exact body."""

    actor: str
    body: bytes


async def _admin_or_peer(request: Request) -> AdminOrPeerRequest:
    """A peer's signed request or a local ``admin`` token."""
    if "signature" in request.headers or "signature-input" in request.headers:
        peer = await _authenticated_peer(request)
        return AdminOrPeerRequest(f"peer:{peer.id}", peer.body)
    token = _admin(request)
    body = await read_body(request, _context(request))
    if body:
        require_json(request)
    return AdminOrPeerRequest(f"token:{token.name}", body)


AdminOrPeer = Annotated[AdminOrPeerRequest, Depends(_admin_or_peer)]
