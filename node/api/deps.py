"""Request dependencies: the node context, bearer-token roles, and peer authentication.

A peer's request is authenticated (RFC 9421 signature by a key of a manifest
participant, fresh ``created``, unused nonce, body matching ``Content-Digest``)
before any route code runs; the route receives the peer id and the exact body.
The signature is verified from the headers *before the body is read*
(:func:`node.transport.httpsig.verify_request_headers`): a request with no, a
malformed, a stale or an unverifiable signature, or an unknown ``keyid``, is answered
401 whatever its body, and none of it is read. Once the signature verified, the
peer's request rate is limited (:mod:`node.api.rate_limit`, 429 with ``Retry-After``)
and its nonce stored; then the body is read (413 past ``max_body_bytes``, judged
from ``Content-Length`` before reading when declared), checked against
``Content-Digest`` and must be declared JSON (415 otherwise). A bearer token is
checked from its header, also before any body is read.

Every request refused 401 or 403 by these checks takes a token from its client
address's bucket (:func:`charge_address`, ``address_rate_limit_per_s``); once the
address has none left, such refusals become 429 with ``Retry-After``, counted in
``clearinghouse_address_rate_limited_total``. Requests with valid credentials take
none. The client address is the TCP peer's, or behind a configured trusted proxy
the right-most untrusted ``X-Forwarded-For`` hop (:func:`node.api.rate_limit.client_address`).

:func:`no_nul_characters` runs before every route: a NUL character (U+0000) in the
path or the query string is refused with 400, never passed on to the database
(PostgreSQL cannot hold one in a text value).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any, Final, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi import Depends, Request
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool

from clearinghouse.node.api.rate_limit import PeerRateLimiter, RateLimiter, client_address
from clearinghouse.node.auth.directory import person_principal
from clearinghouse.node.auth.oidc import looks_like_jwt
from clearinghouse.node.auth.principal import Principal, token_principal
from clearinghouse.node.context import NodeContext
from clearinghouse.node.errors import (
    BadRequest,
    Forbidden,
    PayloadTooLarge,
    RateLimited,
    ReplayedNonce,
    Unauthenticated,
    UnknownKeyId,
    UnsupportedMediaType,
)
from clearinghouse.node.logs import PEER
from clearinghouse.node.storage import peers
from clearinghouse.node.storage.db import MAX_INT, transaction
from clearinghouse.node.transport.httpsig import (
    SignedHeaders,
    verify_request_body,
    verify_request_headers,
)
from clearinghouse.protocol.encoding import parse_json
from clearinghouse.protocol.errors import EncodingError, ProtocolError
from clearinghouse.protocol.manifest import signing_key

_Body = TypeVar("_Body", bound=BaseModel)

__all__ = [
    # the largest id, size or cursor a parameter may hold (a database integer), re-exported
    # from node.storage.db: routes refuse larger ones with 422 rather than overflow a query
    "MAX_INT",
    "AdminOrPeer",
    "AdminOrPeerRequest",
    "AuditReader",
    "AuthenticatedPeer",
    "ContextDep",
    "PeerDep",
    "charge_address",
    "client_address_of",
    "no_nul_characters",
    "parse_json_body",
    "parsed_body",
    "read_body",
    "require_json",
    "require_role",
]

#: Bodies up to this size are parsed on the event loop; larger ones in a worker thread.
INLINE_PARSE_BYTES: Final = 64 * 1024


def _context(request: Request) -> NodeContext:
    node: NodeContext = request.app.state.node  # set by the app's lifespan
    return node


ContextDep = Annotated[NodeContext, Depends(_context)]


async def read_body(request: Request, ctx: NodeContext, *, limit: int | None = None) -> bytes:
    """The request body, refused with 413 past ``limit`` (default ``max_body_bytes``):
    at once when ``Content-Length`` declares more, else as soon as more has arrived."""
    limit = ctx.settings.max_body_bytes if limit is None else limit
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


async def parse_json_body(raw: bytes) -> Any:
    """``raw`` parsed by :func:`protocol.encoding.parse_json`, in a worker thread when it
    is larger than :data:`INLINE_PARSE_BYTES` so that a big body never stalls the loop.

    :raises EncodingError: as ``parse_json`` does.
    """
    if len(raw) <= INLINE_PARSE_BYTES:
        return parse_json(raw)
    return await run_in_threadpool(parse_json, raw)


def parsed_body(model: type[_Body], raw: bytes) -> _Body:
    """``raw`` parsed as JSON and validated as ``model``; 400 naming what is wrong."""
    try:
        return model.model_validate(parse_json(raw))
    except EncodingError as exc:
        raise BadRequest(f"body: {exc.message}") from exc
    except ValidationError as exc:
        where = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}"
            for e in exc.errors(include_url=False)
        )
        raise BadRequest(f"body: {where}") from exc


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


def _address_limiter(request: Request) -> RateLimiter | None:
    return getattr(request.app.state, "address_limiter", None)


def client_address_of(request: Request) -> str:
    """The address ``request`` is counted by (see :func:`node.api.rate_limit.client_address`)."""
    return client_address(
        request.client.host if request.client else None,
        request.headers.getlist("x-forwarded-for"),
        _context(request).settings.trusted_proxies,
    )


def _over_address_limit(
    request: Request, kind: str, what: str, refusal: str | None = None
) -> RateLimited | None:
    """Take a token from the client address's bucket; the 429 to answer if none was left
    (naming the ``refusal`` it replaces, if any)."""
    limiter = _address_limiter(request)
    if limiter is None or not limiter.enabled:
        return None
    address = client_address_of(request)
    wait = limiter.acquire(address)
    if not wait:
        return None
    _context(request).metrics.address_rate_limited.labels(kind=kind).inc()
    return RateLimited(
        f"address {address} is over its limit of {limiter.rate:g} {what} per second "
        f"(burst {limiter.burst}); retry after {wait} s"
        + (f" (this one: {refusal})" if refusal else ""),
        retry_after=wait,
    )


def charge_address(request: Request, kind: str, what: str) -> None:
    """Count one unauthenticated request that does work (``kind``, e.g. ``login``; ``what``
    names them in the detail) against its client address.

    :raises RateLimited: the address has no token left (429 with ``Retry-After``).
    """
    limited = _over_address_limit(request, kind, what)
    if limited is not None:
        raise limited


@contextmanager
def _failures_charged(request: Request) -> Iterator[None]:
    """A 401 or 403 raised inside costs the client address a token; with none left, the
    answer is 429 instead, naming the refusal it replaces."""
    try:
        yield
    except (Unauthenticated, Forbidden) as exc:
        limited = _over_address_limit(request, "failed-auth", "failed requests", exc.detail)
        if limited is None:
            raise
        raise limited from exc


async def _bearer_principal(request: Request, roles: tuple[str, ...]) -> Principal:
    """Who the bearer token of ``request`` stands for, if they have one of ``roles``
    (``admin`` always): a configured token, or (with ``oidc`` set) an access token JWT
    of the node's identity provider for this node's audience."""
    ctx = _context(request)
    header = request.headers.get("authorization", "")
    scheme, _, bearer = header.partition(" ")
    bearer = bearer.strip()
    if scheme.lower() != "bearer" or not bearer:
        raise Unauthenticated("this endpoint needs 'Authorization: Bearer <token>'")
    token = ctx.token(bearer)
    principal: Principal
    if token is not None:
        principal = token_principal(token)
    elif ctx.oidc is not None and looks_like_jwt(bearer):
        identity = await run_in_threadpool(ctx.oidc.verify_access_token, bearer)
        principal = await run_in_threadpool(person_principal, ctx, identity, sign_in=False)
    else:
        raise Unauthenticated(
            "the bearer token is not known to this node"
            + (", nor an access token of its identity provider" if ctx.oidc else "")
        )
    if not principal.has(*roles):
        raise Forbidden(f"{principal.describe()}: this endpoint needs {' or '.join(roles)}")
    return principal


def require_role(*roles: str) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency admitting a bearer token with one of ``roles`` (``admin`` always).

    The token is checked from the header alone, before any body is read; a refusal
    (401, 403) is charged to the client address (429 once it has no token left).
    ``async`` so that FastAPI runs it inline: a static token costs a hash and a
    compare, no thread hop (an access token JWT is verified in a worker thread)."""

    async def check(request: Request) -> Principal:
        with _failures_charged(request):
            return await _bearer_principal(request, roles)

    check.roles = roles  # type: ignore[attr-defined]  # what the OpenAPI document names
    return check


@dataclass(frozen=True)
class AuthenticatedPeer:
    id: str
    kid: str
    body: bytes


def _signed_headers(request: Request, ctx: NodeContext) -> tuple[SignedHeaders, str]:
    """The request's signature verified from its headers, and the signing participant.

    :raises Unauthenticated: the signature is missing, malformed, stale or does not
        verify, or its ``keyid`` is no valid key of a participant now.
    :raises Forbidden: the signer is this node itself.
    """
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
    signed = verify_request_headers(
        method=request.method,
        url=target,
        headers=list(request.headers.items()),
        resolve_key=resolve,
        now=now,
        window=ctx.signature_window,
    )
    peer = signer["id"]
    if peer == ctx.participant:
        raise Forbidden("a node does not send to itself")
    return signed, peer


async def _authenticated_peer(request: Request) -> AuthenticatedPeer:
    ctx = _context(request)
    with _failures_charged(request):  # (1)-(4) of the signature, from the headers alone
        signed, peer = _signed_headers(request, ctx)
    now = ctx.clock.now()
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
            return peers.remember_nonce(session, peer=peer, nonce=signed.nonce, now=now)

    with _failures_charged(request):
        if not await run_in_threadpool(remember):
            raise ReplayedNonce(f"nonce {signed.nonce!r} from {peer!r} was already used")
    body = await read_body(request, ctx)
    with _failures_charged(request):  # (5): the body is the one signed
        verified = verify_request_body(signed, body)
    if body:
        require_json(request)
    return AuthenticatedPeer(peer, verified.key_id, body)


PeerDep = Annotated[AuthenticatedPeer, Depends(_authenticated_peer)]


_auditor = require_role("auditor")


async def _audit_reader(request: Request) -> str:
    """A peer's signed request (``peer:<id>``), or a local ``auditor``: its actor
    (``token:<name>``, ``person:<id>``)."""
    if "signature" in request.headers or "signature-input" in request.headers:
        peer = await _authenticated_peer(request)
        return f"peer:{peer.id}"
    reader: Principal = await _auditor(request)
    return reader.actor


AuditReader = Annotated[str, Depends(_audit_reader)]


_admin = require_role("admin")


@dataclass(frozen=True)
class AdminOrPeerRequest:
    """Who sent a trust change (``token:<name>``, ``person:<id>`` or ``peer:<id>``) and its
    exact body."""

    actor: str
    body: bytes


async def _admin_or_peer(request: Request) -> AdminOrPeerRequest:
    """A peer's signed request or a local ``admin`` token."""
    if "signature" in request.headers or "signature-input" in request.headers:
        peer = await _authenticated_peer(request)
        return AdminOrPeerRequest(f"peer:{peer.id}", peer.body)
    admin = await _admin(request)
    body = await read_body(request, _context(request))
    if body:
        require_json(request)
    return AdminOrPeerRequest(admin.actor, body)


AdminOrPeer = Annotated[AdminOrPeerRequest, Depends(_admin_or_peer)]
