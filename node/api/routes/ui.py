"""``/ui/*``: server-rendered pages for analysts (token kept in an HttpOnly cookie)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from node.api.deps import ContextDep, read_body
from node.errors import NotFound
from node.ui.pages import provenance_page, situation_page

__all__ = ["router"]

router = APIRouter(prefix="/ui", include_in_schema=False)
templates = Jinja2Templates(
    directory=Path(__file__).resolve().parent.parent.parent / "ui" / "templates"
)
COOKIE = "clearinghouse_token"
UI_ROLES = ("analyst", "auditor", "admin")


def _signed_in(request: Request) -> bool:
    token = request.cookies.get(COOKIE)
    found = request.app.state.node.token(token) if token else None
    return found is not None and found.role in UI_ROLES


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, ctx: ContextDep) -> Response:
    return templates.TemplateResponse(
        request, "login.html", {"participant": ctx.participant, "error": None}
    )


@router.post("/login")
async def login(request: Request, ctx: ContextDep) -> Response:
    form = parse_qs((await read_body(request, ctx)).decode("utf-8", "replace"))
    token = (form.get("token") or [""])[0].strip()
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


@router.get("/situation", response_class=HTMLResponse)
async def situation_ui(
    request: Request,
    ctx: ContextDep,
    country: str | None = Query(None),
    admin1: str | None = Query(None),
    start: str | None = Query(None, alias="from"),
    end: str | None = Query(None, alias="to"),
) -> Response:
    if not _signed_in(request):
        return RedirectResponse("/ui/login", status_code=303)
    page = await run_in_threadpool(
        situation_page,
        ctx,
        country=country or None,
        admin1=admin1 or None,
        start=start or None,
        end=end or None,
    )
    return templates.TemplateResponse(
        request, "situation.html", {"participant": ctx.participant, **page}
    )


@router.get("/results/{jti}", response_class=HTMLResponse)
async def result_ui(request: Request, ctx: ContextDep, jti: str) -> Response:
    if not _signed_in(request):
        return RedirectResponse("/ui/login", status_code=303)
    page = await run_in_threadpool(provenance_page, ctx, jti)
    if page is None:
        raise NotFound(f"no analysis result {jti!r} is held here")
    return templates.TemplateResponse(
        request, "result.html", {"participant": ctx.participant, **page}
    )
