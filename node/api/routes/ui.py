"""``/ui/*``: server-rendered pages for analysts (token kept in an HttpOnly cookie).

``/ui/audit`` (the audit log, one entry's inclusion proof) is for the ``auditor`` and
``admin`` roles only; an analyst gets a 403 page saying so, and the audit pages are never
cached. Every ``/ui`` answer carries a Content-Security-Policy and ``nosniff``
(:mod:`node.api.ui_headers`): the pages' one stylesheet is ``/ui/static/ui.css`` and they
run no script, except the audit pages, whose one script is
``/ui/static/audit-verify.js`` (both served from ``node/ui/static``, no CDN) and whose
proof data rides in a JSON data block.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from clearinghouse.node.api.deps import MAX_INT, ContextDep, charge_address, read_body
from clearinghouse.node.api.ui_headers import CSP, SCRIPTED_PAGE_POLICY
from clearinghouse.node.errors import NotFound
from clearinghouse.node.settings import TokenSetting
from clearinghouse.node.ui.audit_page import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    audit_page,
    entry_page,
    parse_query,
)
from clearinghouse.node.ui.pages import provenance_page

__all__ = ["COOKIE", "router", "signed_in", "signed_in_token", "templates"]

router = APIRouter(prefix="/ui", include_in_schema=False)
UI_DIR = Path(__file__).resolve().parent.parent.parent / "ui"
templates = Jinja2Templates(directory=UI_DIR / "templates")
COOKIE = "clearinghouse_token"
UI_ROLES = ("analyst", "auditor", "admin")
AUDIT_ROLES = ("auditor", "admin")
STATIC_DIR = UI_DIR / "static"
#: The audit pages are not kept in any cache, and may run the node's own scripts (the
#: entry page's in-browser inclusion check); the other pages' policy and ``nosniff`` are
#: added to every ``/ui`` answer by :class:`node.api.ui_headers.UiHeadersMiddleware`.
AUDIT_HEADERS = {"cache-control": "no-store", CSP: SCRIPTED_PAGE_POLICY}
#: Static files change with the installed version: revalidated on each use.
STATIC_HEADERS = {"cache-control": "no-cache"}


def signed_in_token(request: Request) -> TokenSetting | None:
    """The signed-in user's token, if the cookie holds one with a UI role."""
    token = request.cookies.get(COOKIE)
    found: TokenSetting | None = request.app.state.node.token(token) if token else None
    return found if found is not None and found.role in UI_ROLES else None


def signed_in(request: Request) -> bool:
    return signed_in_token(request) is not None


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, ctx: ContextDep) -> Response:
    return templates.TemplateResponse(
        request, "login.html", {"participant": ctx.participant, "error": None}
    )


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
    token = await run_in_threadpool(_login_token, raw)
    found = ctx.token(token) if token else None
    if found is None or found.role not in UI_ROLES:
        return templates.TemplateResponse(
            request,
            "login.html",
            {"participant": ctx.participant, "error": "unknown token, or its role may not read"},
            status_code=401,
        )
    response = RedirectResponse("/ui/situation", status_code=303)
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict", max_age=8 * 3600)
    return response


@router.get("/results/{jti}", response_class=HTMLResponse)
async def result_ui(request: Request, ctx: ContextDep, jti: str) -> Response:
    if not signed_in(request):
        return RedirectResponse("/ui/login", status_code=303)
    page = await run_in_threadpool(provenance_page, ctx, jti)
    if page is None:
        raise NotFound(f"no analysis result {jti!r} is held here")
    return templates.TemplateResponse(
        request, "result.html", {"participant": ctx.participant, **page}
    )


def _audit_refusal(request: Request, participant: str) -> Response | None:
    """Not signed in: to the login page. Signed in without an audit role: a 403 page."""
    token = signed_in_token(request)
    if token is None:
        return RedirectResponse("/ui/login", status_code=303)
    if token.role in AUDIT_ROLES:
        return None
    message = (
        f"The audit log is for auditors: you are signed in with token {token.name!r}, "
        f"role {token.role!r}. Sign in with an auditor or admin token to see it."
    )
    return templates.TemplateResponse(
        request,
        "forbidden.html",
        {"participant": participant, "message": message},
        status_code=403,
        headers=AUDIT_HEADERS,
    )


@router.get("/audit", response_class=HTMLResponse)
async def audit_ui(
    request: Request,
    ctx: ContextDep,
    act: str | None = Query(None, max_length=32),
    peer: str | None = Query(None, max_length=64),
    jti: str | None = Query(None, max_length=64),
    start: str | None = Query(None, alias="from", max_length=40),
    end: str | None = Query(None, alias="to", max_length=40),
    before: int | None = Query(None, ge=0, le=MAX_INT),
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
) -> Response:
    refused = _audit_refusal(request, ctx.participant)
    if refused is not None:
        return refused
    query = parse_query(
        act=act, peer=peer, jti=jti, start=start, end=end, before=before, limit=limit
    )
    page = await run_in_threadpool(audit_page, ctx, query)
    return templates.TemplateResponse(
        request,
        "audit.html",
        {"participant": ctx.participant, **page},
        status_code=400 if query.errors else 200,
        headers=AUDIT_HEADERS,
    )


@router.get("/audit/entries/{seq}", response_class=HTMLResponse)
async def audit_entry_ui(request: Request, ctx: ContextDep, seq: int) -> Response:
    refused = _audit_refusal(request, ctx.participant)
    if refused is not None:
        return refused
    view = await run_in_threadpool(entry_page, ctx, seq) if 0 <= seq <= MAX_INT else None
    if view is None:
        raise NotFound(f"the audit log has no entry {seq}")
    return templates.TemplateResponse(
        request,
        "audit_entry.html",
        {"participant": ctx.participant, "view": view},
        headers=AUDIT_HEADERS,
    )


@router.get("/static/audit-verify.js")
async def audit_script() -> Response:
    """The entry page's in-browser inclusion check (no secret in it: no sign-in needed)."""
    return FileResponse(
        STATIC_DIR / "audit_verify.js",
        media_type="text/javascript; charset=utf-8",
        headers=STATIC_HEADERS,
    )


@router.get("/static/ui.css")
async def stylesheet() -> Response:
    """The pages' one stylesheet (their policy allows no inline style; no sign-in needed)."""
    return FileResponse(
        STATIC_DIR / "ui.css", media_type="text/css; charset=utf-8", headers=STATIC_HEADERS
    )
