"""Signing in to the pages and out again: a token form, the OpenID Connect provider,
and ``/ui/logout``.

Every sign-in starts a server-side session (:mod:`node.auth.sessions`) and records
``session.started``; ``POST /ui/logout`` ends it on the server, records
``session.ended`` and clears the cookie. The two forms (token sign-in, sign-out) are
accepted only from the node's own pages (:func:`node.auth.origin.require_same_origin`).

With ``oidc`` configured, ``GET /ui/oidc/login`` sends the browser to the provider
(authorization code, PKCE S256, ``state`` and ``nonce``): the verifier and nonce wait in
``oidc_login`` under the SHA-256 of the ``state``, and the ``state`` itself rides in a
short-lived cookie (``SameSite=Lax``, path ``/ui/oidc``) so that the redirect back is
accepted only in the browser that started it (no login CSRF). ``GET
/ui/oidc/callback`` checks the two agree, takes the pending sign-in (once), redeems the
code and checks the ID token (:meth:`node.auth.oidc.RelyingParty.complete`), and
signs the person in under their pseudonymous id.

Each attempt costs the client address a token of its rate limit (429 beyond), as the
token form always did.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import parse_qs

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from clearinghouse.node.api.deps import ContextDep, charge_address, read_body
from clearinghouse.node.api.ui_session import UI_ROLES, start_session, templates
from clearinghouse.node.auth import sessions
from clearinghouse.node.auth.directory import person_principal
from clearinghouse.node.auth.oidc import NoRole
from clearinghouse.node.auth.origin import require_same_origin
from clearinghouse.node.auth.principal import token_principal
from clearinghouse.node.context import NodeContext
from clearinghouse.node.errors import ServiceUnavailable, Unauthenticated

__all__ = ["router"]

router = APIRouter(prefix="/ui", include_in_schema=False)

#: The cookie that binds a sign-in at the provider to the browser that started it.
STATE_COOKIE = "clearinghouse_oidc_state"
STATE_PATH = "/ui/oidc"
NO_STORE = {"cache-control": "no-store"}


def _login_page(
    request: Request, ctx: NodeContext, error: str | None = None, status_code: int = 200
) -> Response:
    return templates.TemplateResponse(
        request,
        "login.html",
        {
            "participant": ctx.participant,
            "error": error,
            "provider": ctx.oidc.settings.provider_name if ctx.oidc is not None else None,
        },
        status_code=status_code,
        headers=NO_STORE,
    )


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, ctx: ContextDep) -> Response:
    return _login_page(request, ctx)


def _login_token(raw: bytes) -> str:
    """The ``token`` field of a sign-in form (``application/x-www-form-urlencoded``)."""
    form = parse_qs(raw.decode("utf-8", "replace"))
    return (form.get("token") or [""])[0].strip()


@router.post("/login")
async def login(request: Request, ctx: ContextDep) -> Response:
    """Sign in with a token: work done for anybody, so bounded. Each attempt costs the
    client address a token of its rate limit (429 beyond); the form is read up to
    ``max_unauthenticated_body_bytes`` (413 beyond, from ``Content-Length`` before
    reading when declared) and parsed in a worker thread, never on the event loop."""
    charge_address(request, "login", "sign-in attempts")
    raw = await read_body(request, ctx, limit=ctx.settings.max_unauthenticated_body_bytes)
    require_same_origin(request, ctx.public_url)  # after the bound: a huge form is a 413
    token = await run_in_threadpool(_login_token, raw)
    found = ctx.token(token) if token else None
    if found is None or found.role not in UI_ROLES:
        return _login_page(request, ctx, "unknown token, or its role may not read", 401)
    response = RedirectResponse("/ui/situation", status_code=303, headers=NO_STORE)
    await start_session(ctx, token_principal(found), response, "token")
    return response


@router.post("/logout")
async def logout(request: Request, ctx: ContextDep) -> Response:
    """End the session on the server and clear its cookie (a form of the pages only)."""
    require_same_origin(request, ctx.public_url)
    session_id = request.cookies.get(sessions.COOKIE)
    if session_id:
        await run_in_threadpool(sessions.end, ctx, session_id)
    response = RedirectResponse("/ui/login", status_code=303, headers=NO_STORE)
    sessions.clear_cookie(response, ctx)
    return response


# --- OpenID Connect ----------------------------------------------------------------------


@router.get("/oidc/login")
async def oidc_login(request: Request, ctx: ContextDep) -> Response:
    """To the provider's sign-in page (404 when no provider is configured)."""
    charge_address(request, "login", "sign-in attempts")
    if ctx.oidc is None:
        return _login_page(request, ctx, "this node signs in with tokens only", 404)
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    code_verifier = secrets.token_urlsafe(64)  # 86 characters: RFC 7636 allows 43 to 128
    try:
        target = await run_in_threadpool(
            ctx.oidc.authorization_url, state=state, nonce=nonce, code_verifier=code_verifier
        )
    except ServiceUnavailable as exc:
        return _login_page(request, ctx, f"sign-in through the provider failed: {exc.detail}", 503)
    await run_in_threadpool(sessions.await_provider, ctx, state, code_verifier, nonce)
    response = RedirectResponse(target, status_code=303, headers=NO_STORE)
    response.set_cookie(
        STATE_COOKIE,
        state,
        max_age=int(sessions.PENDING.total_seconds()),
        path=STATE_PATH,
        secure=ctx.settings.session.cookie_secure,
        httponly=True,
        samesite="lax",
    )
    return response


@router.get("/oidc/callback")
async def oidc_callback(
    request: Request,
    ctx: ContextDep,
    code: str | None = Query(None, max_length=2048),
    state: str | None = Query(None, max_length=256),
    error: str | None = Query(None, max_length=256),
    error_description: str | None = Query(None, max_length=1024),
) -> Response:
    """The provider's redirect back: sign the person in, or say why not."""
    charge_address(request, "login", "sign-in attempts")
    if ctx.oidc is None:
        return _login_page(request, ctx, "this node signs in with tokens only", 404)
    bound = request.cookies.get(STATE_COOKIE, "")
    failure: str | None = None
    status = 400
    if error:
        failure = f"the provider did not sign you in: {error}" + (
            f" ({error_description})" if error_description else ""
        )
        status = 401
    elif not code or not state:
        failure = "the provider's answer lacks its code or state: start the sign-in again"
    elif not bound or not hmac.compare_digest(bound, state):
        failure = "this sign-in was not started in this browser (or took too long): start it again"
    pending = (
        None
        if failure or state is None
        else await run_in_threadpool(sessions.back_from_provider, ctx, state)
    )
    if failure is None and pending is None:
        failure = "this sign-in is unknown, used already or expired: start it again"
    if failure is not None or pending is None or code is None:
        response = _login_page(request, ctx, failure, status)
        response.delete_cookie(STATE_COOKIE, path=STATE_PATH)
        return response
    try:
        identity = await run_in_threadpool(
            ctx.oidc.complete, code=code, code_verifier=pending.code_verifier, nonce=pending.nonce
        )
    except NoRole as exc:
        return _login_page(request, ctx, exc.detail, 403)
    except (Unauthenticated, ServiceUnavailable) as exc:
        return _login_page(request, ctx, f"sign-in failed: {exc.detail}", exc.status)
    principal = await run_in_threadpool(lambda: person_principal(ctx, identity, sign_in=True))
    if not principal.has(*UI_ROLES):
        roles = ", ".join(sorted(principal.roles))
        return _login_page(
            request,
            ctx,
            f"{principal.display_name}: your role here ({roles}) may not read the pages",
            403,
        )
    response = RedirectResponse("/ui/situation", status_code=303, headers=NO_STORE)
    response.delete_cookie(STATE_COOKIE, path=STATE_PATH)
    # Lax: this answer ends a navigation the provider's site started (module docstring)
    await start_session(ctx, principal, response, "oidc", samesite="lax")
    return response
