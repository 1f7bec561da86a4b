"""``/v1/situation``: the common situation analysis as JSON, CSV, XLSX or GeoJSON.

For the ``analyst`` and ``auditor`` roles. The filters are the situation page's
(:class:`node.ui.situation_query.SituationQuery`): a period range, an area, an
analyzer, a minimum level, a handling code, an actor and an as-of date, so that the
page's download links give what the page shows. JSON is paged by area and period;
the exports stream every finding that matches (CSV and GeoJSON as they are read,
XLSX through a temporary file), each row naming its result, issuer, analyzer and
version, and CSV and XLSX carry an HXL hashtag row under the header
(:mod:`node.services.exports`).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from clearinghouse.node.api.deps import ContextDep, require_role
from clearinghouse.node.api.models import Situation
from clearinghouse.node.api.problems import problem_responses
from clearinghouse.node.auth.principal import Principal
from clearinghouse.node.context import NodeContext
from clearinghouse.node.errors import Unprocessable
from clearinghouse.node.services import exports
from clearinghouse.node.services.reads import record_read
from clearinghouse.node.services.situation import MAX_AREAS, situation
from clearinghouse.node.services.situation_views import situation_rows
from clearinghouse.node.ui.situation_query import SituationQuery

__all__ = ["EXPORT_ROLES", "Format", "export_file", "router"]

router = APIRouter(tags=["analysis"], responses=problem_responses(400, 401, 403, 422))
#: Who may read the situation and take it away (the API and the page's downloads).
EXPORT_ROLES = ("analyst", "auditor")
Analyst = Annotated[Principal, Depends(require_role(*EXPORT_ROLES))]
#: A period filter: a year, a month or a day (``2016``, ``2016-01``, ``2016-01-15``).
_PERIOD = r"^[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?$"
Format = Literal["json", "csv", "xlsx", "geojson"]


def export_query(
    start: Annotated[
        str | None, Query(alias="from", pattern=_PERIOD, description="First period, e.g. 2016-01.")
    ] = None,
    end: Annotated[
        str | None, Query(alias="to", pattern=_PERIOD, description="Last period, e.g. 2016-12.")
    ] = None,
    country: Annotated[str | None, Query(max_length=255)] = None,
    admin1: Annotated[str | None, Query(max_length=255)] = None,
    analyzer: Annotated[str | None, Query(max_length=128, description="One analyzer id.")] = None,
    level: Annotated[
        Literal["low", "medium", "high", "critical"] | None,
        Query(description="Findings of this level or higher."),
    ] = None,
    hc: Annotated[Literal["H0", "H1", "H2", "H3"] | None, Query(description="Handling.")] = None,
    actor: Annotated[str | None, Query(max_length=255, description="An actor's name.")] = None,
    as_of: Annotated[
        str | None,
        Query(
            pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
            description="YYYY-MM-DD: the situation as this node held it at the end of that "
            "day (UTC).",
        ),
    ] = None,
) -> SituationQuery:
    if start and end and start > end[: len(start)]:
        raise Unprocessable(f"from={start} is after to={end}")
    try:
        day = date.fromisoformat(as_of) if as_of else None
    except ValueError:
        raise Unprocessable(f"as_of={as_of!r} is not a date of the calendar") from None
    return SituationQuery(
        start=start,
        end=end,
        country=country or None,
        admin1=admin1 or None,
        analyzer=analyzer or None,
        level=level,
        hc=hc,
        actor=actor or None,
        as_of=day,
    )


@router.get(
    "/v1/situation",
    operation_id="getSituation",
    summary="The common situation analysis",
    description="Every result held (this node's and its peers'), fused per area and period: "
    "each analyzer's latest findings, who produced them from which input, and where "
    "analyzers agree or disagree. Findings that no longer hold are left out; with "
    "`history=true` each finding lists the versions it superseded and the withdrawn "
    "findings are listed apart. `format=csv|xlsx|geojson` exports every matching "
    "finding instead (CSV and XLSX with an HXL hashtag row; GeoJSON: the findings this "
    "node can place), each with its result's jti, issuer, analyzer and version.",
    # documented, not validated: JSON or a file by `format`, and a page can be large
    response_model=None,
    responses={
        200: {
            "description": "The situation as JSON, or the export asked for by `format`.",
            "model": Situation,
            "content": {
                "application/json": {},
                exports.CSV.media_type.split(";")[0]: {},
                exports.XLSX.media_type: {},
                exports.GEOJSON.media_type: {},
            },
        }
    },
)
async def get_situation(
    request: Request,
    ctx: ContextDep,
    reader: Analyst,
    q: Annotated[SituationQuery, Depends(export_query)],
    format: Annotated[Format, Query(description="json, csv, xlsx or geojson.")] = "json",
    history: bool = Query(
        False, description="Also list each finding's earlier versions and the withdrawn ones."
    ),
    limit: int = Query(1000, ge=1, le=5000, description="JSON: area-period groups per page."),
    offset: int = Query(0, ge=0, description="JSON: the page's first group (`page.next`)."),
) -> Response | dict[str, Any]:
    filters = request.url.query[:1000] or None
    if format == "json":
        picture = await run_in_threadpool(
            situation, ctx, where=q.where(), history=history, limit=limit, offset=offset
        )
        await run_in_threadpool(
            lambda: record_read(ctx, reader.actor, "situation", details={"filters": filters})
        )
        return picture
    await run_in_threadpool(
        lambda: record_read(
            ctx, reader.actor, "export", details={"format": format, "filters": filters}
        )
    )
    return await export_file(ctx, q, format)


async def export_file(ctx: NodeContext, q: SituationQuery, format: str) -> Response:
    """Every finding matching ``q`` as a download: ``csv``, ``xlsx``, ``geojson``, or
    ``json`` (the first page of :func:`situation`, the largest page there is)."""
    provenance = _provenance(ctx, q)
    name = f"situation-{ctx.participant}-{provenance['exported_at'][:10]}"
    attachment = {"content-disposition": f'attachment; filename="{name}.{format}"'}
    if format == "json":
        picture = await run_in_threadpool(situation, ctx, where=q.where(), limit=MAX_AREAS)
        return JSONResponse(jsonable_encoder(picture), headers=attachment)
    if format == "xlsx":
        path = await run_in_threadpool(_xlsx, ctx, q, provenance)
        return FileResponse(
            path,
            media_type=exports.XLSX.media_type,
            filename=f"{name}.xlsx",
            background=BackgroundTask(os.unlink, path),
        )
    chosen = exports.FORMATS[format]
    body: Iterator[bytes] = (
        exports.csv_chunks(situation_rows(ctx, q.where()))
        if format == "csv"
        else exports.geojson_chunks(situation_rows(ctx, q.where()), provenance=provenance)
    )
    return StreamingResponse(body, media_type=chosen.media_type, headers=attachment)


def _provenance(ctx: NodeContext, q: SituationQuery) -> dict[str, str]:
    """What an export says about itself: which node, when, under which filters."""
    return {
        "node": ctx.participant,
        "federation": ctx.manifest.federation,
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "filters": "; ".join(f"{k}={v}" for k, v in q.params().items()) or "none",
    }


def _xlsx(ctx: NodeContext, q: SituationQuery, provenance: dict[str, str]) -> Path:
    handle, name = tempfile.mkstemp(suffix=".xlsx", prefix="situation-")
    os.close(handle)
    path = Path(name)
    try:
        exports.write_xlsx(
            situation_rows(ctx, q.where()),
            path,
            title=f"Common situation held by {ctx.participant}",
            provenance=provenance,
        )
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path
