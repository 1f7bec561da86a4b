"""``/ui/situation``, ``/ui/areas`` and ``/ui/actors``: the analyst's workspace.

One set of filters (:class:`node.ui.situation_query.SituationQuery`) for all three
pages and the page's downloads (``/ui/situation/export``), read from the query
string and checked here: a month range (``from``, ``to``:
``YYYY-MM``, as the period selector sends them), an area, an analyzer, a minimum
level, a handling code, an actor and an as-of date. A value out of form is a 422
problem naming the parameter, never a page built on a guess.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from clearinghouse.node.api.deps import ContextDep
from clearinghouse.node.api.routes.situation import EXPORT_ROLES, Format, export_file
from clearinghouse.node.api.ui_session import audited_read, page_principal, templates
from clearinghouse.node.errors import Forbidden, Unprocessable
from clearinghouse.node.ui.drilldown import actor_page, area_page
from clearinghouse.node.ui.situation_page import situation_page
from clearinghouse.node.ui.situation_query import MONTH, SituationQuery

__all__ = ["router", "situation_query"]

router = APIRouter(prefix="/ui", include_in_schema=False)
Level = Literal["low", "medium", "high", "critical"]
Handling = Literal["H0", "H1", "H2", "H3"]


def _blank(value: str | None) -> str | None:
    return value.strip() or None if value is not None else None


def situation_query(
    start: Annotated[str | None, Query(alias="from", max_length=7)] = None,
    end: Annotated[str | None, Query(alias="to", max_length=7)] = None,
    country: Annotated[str | None, Query(max_length=255)] = None,
    admin1: Annotated[str | None, Query(max_length=255)] = None,
    analyzer: Annotated[str | None, Query(max_length=128)] = None,
    level: Annotated[Level | Literal[""] | None, Query()] = None,
    hc: Annotated[Handling | Literal[""] | None, Query()] = None,
    actor: Annotated[str | None, Query(max_length=255)] = None,
    as_of: Annotated[str | None, Query(max_length=10)] = None,
) -> SituationQuery:
    """The page's filters from the query string (an empty field is no filter)."""
    months = {"from": _blank(start), "to": _blank(end)}
    for name, value in months.items():
        if value is not None and not re.match(MONTH, value):
            raise Unprocessable(f"{name}={value!r} is not a month: write it YYYY-MM, e.g. 2016-08")
    if months["from"] and months["to"] and months["from"] > months["to"]:
        raise Unprocessable(f"from={months['from']} is after to={months['to']}")
    day = None
    if _blank(as_of):
        try:
            day = date.fromisoformat(str(as_of).strip())
        except ValueError:
            raise Unprocessable(f"as_of={as_of!r} is not a date: write it YYYY-MM-DD") from None
    return SituationQuery(
        start=months["from"],
        end=months["to"],
        country=_blank(country),
        admin1=_blank(admin1),
        analyzer=_blank(analyzer),
        level=level or None,
        hc=hc or None,
        actor=_blank(actor),
        as_of=day,
    )


QueryDep = Annotated[SituationQuery, Depends(situation_query)]


@router.get("/situation", response_class=HTMLResponse)
async def situation_ui(request: Request, ctx: ContextDep, q: QueryDep) -> Response:
    reader = await page_principal(request)
    if reader is None:
        return RedirectResponse("/ui/login", status_code=303)
    page = await run_in_threadpool(situation_page, ctx, q)
    await audited_read(
        ctx, reader, "situation", details={"filters": request.url.query[:1000] or None}
    )
    return templates.TemplateResponse(
        request, "situation.html", {"participant": ctx.participant, **page}
    )


@router.get("/areas", response_class=HTMLResponse)
async def area_ui(request: Request, ctx: ContextDep, q: QueryDep) -> Response:
    """One area over time, all analyzers (``country`` and/or ``admin1`` required)."""
    reader = await page_principal(request)
    if reader is None:
        return RedirectResponse("/ui/login", status_code=303)
    if not (q.country or q.admin1):
        raise Unprocessable("name the area: country=…, admin1=… or both")
    page = await run_in_threadpool(
        area_page, ctx, q.without_area(), country=q.country, admin1=q.admin1
    )
    await audited_read(ctx, reader, "area", details={"filters": request.url.query[:1000] or None})
    return templates.TemplateResponse(
        request, "area.html", {"participant": ctx.participant, **page}
    )


@router.get("/actors", response_class=HTMLResponse)
async def actor_ui(
    request: Request,
    ctx: ContextDep,
    q: QueryDep,
    name: Annotated[str, Query(min_length=1, max_length=255)],
) -> Response:
    """One actor: typology calls, sanctions hits, network role and events."""
    reader = await page_principal(request)
    if reader is None:
        return RedirectResponse("/ui/login", status_code=303)
    page = await run_in_threadpool(actor_page, ctx, q, name=name.strip())
    await audited_read(ctx, reader, "actor", details={"filters": request.url.query[:1000] or None})
    return templates.TemplateResponse(
        request, "actor.html", {"participant": ctx.participant, **page}
    )


@router.get("/situation/export")
async def situation_export_ui(
    request: Request,
    ctx: ContextDep,
    q: QueryDep,
    format: Annotated[Format, Query()] = "csv",
) -> Response:
    """The page's download links: ``GET /v1/situation?format=`` for a signed-in browser
    (the page cookie, not a bearer token), the same filters, the same roles."""
    reader = await page_principal(request)
    if reader is None:
        return RedirectResponse("/ui/login", status_code=303)
    if not reader.has(*EXPORT_ROLES):
        raise Forbidden(
            f"exports are for the roles {', '.join(EXPORT_ROLES)}; {reader.describe()} is not"
        )
    await audited_read(
        ctx,
        reader,
        "export",
        details={"format": format, "filters": request.url.query[:1000] or None},
    )
    return await export_file(ctx, q, format)
