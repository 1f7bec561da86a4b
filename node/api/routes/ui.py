"""``/ui/*``: server-rendered pages for analysts, behind a server-side session
(:mod:`node.api.routes.ui_sign_in` signs in and out; :mod:`node.api.ui_session` says
who is signed in). Every page a person opens is recorded as ``data.read``.

``/ui/audit`` (the audit log, one entry's inclusion proof) is for the ``auditor`` and
``admin`` roles only; an analyst gets a 403 page saying so, and the audit pages are never
cached. Every ``/ui`` answer carries a Content-Security-Policy and ``nosniff``
(:mod:`node.api.ui_headers`): the pages' one stylesheet is ``/ui/static/ui.css`` and they
run no script, except the audit pages, whose one script is
``/ui/static/audit-verify.js`` (both served from ``node/ui/static``, no CDN) and whose
proof data rides in a JSON data block.
"""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from clearinghouse.node.api.deps import MAX_INT, ContextDep
from clearinghouse.node.api.ui_headers import CSP, SCRIPTED_PAGE_POLICY
from clearinghouse.node.api.ui_session import (
    AUDIT_ROLES,
    UI_ROLES,
    audited_read,
    page_principal,
    templates,
)
from clearinghouse.node.errors import NotFound
from clearinghouse.node.ui import UI_DIR
from clearinghouse.node.ui.audit_page import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    audit_page,
    entry_page,
    parse_query,
)
from clearinghouse.node.ui.pages import provenance_page

__all__ = ["UI_ROLES", "router", "templates"]

router = APIRouter(prefix="/ui", include_in_schema=False)
STATIC_DIR = UI_DIR / "static"
#: The audit pages are not kept in any cache, and may run the node's own scripts (the
#: entry page's in-browser inclusion check); the other pages' policy and ``nosniff`` are
#: added to every ``/ui`` answer by :class:`node.api.ui_headers.UiHeadersMiddleware`.
AUDIT_HEADERS = {"cache-control": "no-store", CSP: SCRIPTED_PAGE_POLICY}
#: Static files change with the installed version: revalidated on each use.
STATIC_HEADERS = {"cache-control": "no-cache"}


@router.get("/results/{jti}", response_class=HTMLResponse)
async def result_ui(request: Request, ctx: ContextDep, jti: str) -> Response:
    principal = await page_principal(request)
    if principal is None:
        return RedirectResponse("/ui/login", status_code=303)
    page = await run_in_threadpool(provenance_page, ctx, jti)
    if page is None:
        raise NotFound(f"no analysis result {jti!r} is held here")
    await audited_read(ctx, principal, "result", jti=jti)
    return templates.TemplateResponse(
        request, "result.html", {"participant": ctx.participant, **page}
    )


async def _audit_refusal(request: Request, participant: str) -> Response | None:
    """Not signed in: to the login page. Signed in without an audit role: a 403 page."""
    principal = await page_principal(request)
    if principal is None:
        return RedirectResponse("/ui/login", status_code=303)
    if principal.has(*AUDIT_ROLES):
        return None
    message = (
        f"The audit log is for auditors: you are signed in as {principal.describe()}. "
        "Sign in as an auditor or admin to see it."
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
    actor: str | None = Query(None, max_length=140),
) -> Response:
    refused = await _audit_refusal(request, ctx.participant)
    if refused is not None:
        return refused
    query = parse_query(
        act=act,
        peer=peer,
        jti=jti,
        start=start,
        end=end,
        before=before,
        limit=limit,
        actor=actor,
    )
    reader = await page_principal(request)
    assert reader is not None  # _audit_refusal let it through
    page = await run_in_threadpool(audit_page, ctx, query)
    await audited_read(
        ctx,
        reader,
        "audit",
        details={
            "filters": request.url.query[:1000] or None,
            "seqs": [e["seq"] for e in page["entries"]],
        },
    )
    return templates.TemplateResponse(
        request,
        "audit.html",
        {"participant": ctx.participant, **page},
        status_code=400 if query.errors else 200,
        headers=AUDIT_HEADERS,
    )


@router.get("/audit/entries/{seq}", response_class=HTMLResponse)
async def audit_entry_ui(request: Request, ctx: ContextDep, seq: int) -> Response:
    refused = await _audit_refusal(request, ctx.participant)
    if refused is not None:
        return refused
    reader = await page_principal(request)
    assert reader is not None  # _audit_refusal let it through
    view = await run_in_threadpool(entry_page, ctx, seq) if 0 <= seq <= MAX_INT else None
    if view is None:
        raise NotFound(f"the audit log has no entry {seq}")
    await audited_read(ctx, reader, "audit", details={"seqs": [seq]})
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
