"""The web pages' sessions: an opaque random id in a cookie, the rest on the server.

A session is made at sign-in (token form, single-use link, or OpenID Connect) and
ends at sign-out, after ``session.idle_s`` unused, after ``session.max_s`` from
sign-in, or when its token is removed from the configuration or loses its role. The
cookie holds 256 random bits; the database holds only their SHA-256, so neither a
copy of the database nor a log line can be replayed as a session.

The cookie is ``HttpOnly``, ``Secure`` (browsers honour it on ``http://localhost``
too; ``session.cookie_secure`` can turn it off for plain HTTP elsewhere), ``Path=/``
and ``SameSite=Strict``, except a session begun by the provider's redirect back,
whose cookie is ``Lax``: a Strict cookie set on a navigation another site started is
not sent on its own next request, so the browser would land signed out.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Literal

from fastapi import Response
from sqlmodel import Session

from clearinghouse.node.auth.principal import Principal
from clearinghouse.node.context import NodeContext
from clearinghouse.node.services import acts
from clearinghouse.node.storage import auditlog
from clearinghouse.node.storage import people as people_store
from clearinghouse.node.storage import sessions as store
from clearinghouse.node.storage.db import transaction

__all__ = [
    "COOKIE",
    "PENDING",
    "await_provider",
    "back_from_provider",
    "clear_cookie",
    "end",
    "resolve",
    "set_cookie",
    "start",
]

COOKIE = "clearinghouse_session"
#: How long a sign-in at the provider may take.
PENDING = timedelta(minutes=10)
#: A session's last use is written at most this often (not on every page).
TOUCH_EVERY = timedelta(seconds=60)
_ID_BYTES = 32


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


def start(ctx: NodeContext, principal: Principal, how: str) -> str:
    """A new session for ``principal``, who signed in ``how`` (``oidc``, ``token``,
    ``link``: recorded as ``session.started``); its id (for the cookie only)."""
    session_id = secrets.token_urlsafe(_ID_BYTES)
    now = ctx.clock.now()
    with transaction(ctx.engine) as session:
        auditlog.append(session, [acts.session_started(principal.actor, how)], now=now)
        store.add_session(
            session,
            id_sha256=_digest(session_id),
            kind=principal.kind,
            principal=principal.id,
            roles=tuple(sorted(principal.roles)),
            now=now,
            expires_at=now + timedelta(seconds=ctx.settings.session.max_s),
        )
    return session_id


def resolve(ctx: NodeContext, session_id: str) -> Principal | None:
    """Who the session ``session_id`` is for, or None (unknown, ended, expired, or its
    token no longer configured with a role it had); a session past an end is removed."""
    if not session_id or len(session_id) > 128:
        return None
    digest = _digest(session_id)
    now = ctx.clock.now()
    idle = timedelta(seconds=ctx.settings.session.idle_s)
    with transaction(ctx.engine) as session:
        held = store.find_session(session, digest)
        if held is None:
            return None
        if held.expires_at <= now or held.last_seen_at + idle <= now:
            store.end_session(session, digest)
            return None
        principal = _principal(ctx, held, session)
        if principal is None:
            store.end_session(session, digest)
            return None
        if now - held.last_seen_at >= TOUCH_EVERY:
            store.touch(session, digest, now)
    return principal


def _principal(ctx: NodeContext, held: store.StoredSession, session: Session) -> Principal | None:
    roles = frozenset(held.roles)
    if held.kind == "token":
        token = next((t for t in ctx.settings.tokens if t.name == held.principal), None)
        if token is None or token.role not in roles:
            return None  # the token was removed or changed role since sign-in
        return Principal("token", token.name, roles, token.name)
    person = people_store.get(session, held.principal)
    name = person.display_name if person is not None else held.principal
    return Principal("person", held.principal, roles, name)


def end(ctx: NodeContext, session_id: str) -> Principal | None:
    """End the session ``session_id`` (``session.ended``); who it was for, if anyone."""
    principal = resolve(ctx, session_id)
    with transaction(ctx.engine) as session:
        store.end_session(session, _digest(session_id))
        if principal is not None:
            auditlog.append(session, [acts.session_ended(principal.actor)], now=ctx.clock.now())
    return principal


def await_provider(ctx: NodeContext, state: str, code_verifier: str, nonce: str) -> None:
    """Keep a sign-in sent to the provider (by its ``state``) for :data:`PENDING`."""
    with transaction(ctx.engine) as session:
        store.add_login(
            session,
            state_sha256=_digest(state),
            code_verifier=code_verifier,
            nonce=nonce,
            expires_at=ctx.clock.now() + PENDING,
        )


def back_from_provider(ctx: NodeContext, state: str) -> store.PendingLogin | None:
    """The sign-in of ``state``, taken (once); None if unknown, used or expired."""
    with transaction(ctx.engine) as session:
        return store.take_login(session, _digest(state), ctx.clock.now())


def set_cookie(
    response: Response,
    ctx: NodeContext,
    session_id: str,
    samesite: Literal["strict", "lax"] = "strict",
) -> None:
    response.set_cookie(
        COOKIE,
        session_id,
        max_age=int(ctx.settings.session.max_s),
        path="/",
        secure=ctx.settings.session.cookie_secure,
        httponly=True,
        samesite=samesite,
    )


def clear_cookie(response: Response, ctx: NodeContext) -> None:
    response.delete_cookie(
        COOKIE,
        path="/",
        secure=ctx.settings.session.cookie_secure,
        httponly=True,
        samesite="strict",
    )
