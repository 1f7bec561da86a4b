"""``/v1/situation``: the common situation analysis as JSON (role analyst)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from starlette.concurrency import run_in_threadpool

from clearinghouse.node.api.deps import ContextDep, require_role
from clearinghouse.node.api.problems import problem_responses
from clearinghouse.node.services.situation import situation
from clearinghouse.node.settings import TokenSetting

__all__ = ["router"]

router = APIRouter(tags=["analysis"], responses=problem_responses(400, 401, 403, 422))
Analyst = Annotated[TokenSetting, Depends(require_role("analyst", "auditor"))]
#: A period filter: a year, a month or a day (``2016``, ``2016-01``, ``2016-01-15``).
_PERIOD = r"^[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?$"


@router.get(
    "/v1/situation",
    summary="The common situation analysis",
    description="Every result held (this node's and its peers'), fused per area and period: "
    "each analyzer's latest findings, who produced them from which input, and where "
    "analyzers agree or disagree. Findings that no longer hold are left out; with "
    "`history=true` each finding lists the versions it superseded and the withdrawn "
    "findings are listed apart.",
)
async def get_situation(
    ctx: ContextDep,
    _: Analyst,
    country: str | None = Query(None),
    admin1: str | None = Query(None),
    start: str | None = Query(
        None, alias="from", pattern=_PERIOD, description="First period, e.g. 2016-01."
    ),
    end: str | None = Query(
        None, alias="to", pattern=_PERIOD, description="Last period, e.g. 2016-12."
    ),
    history: bool = Query(
        False, description="Also list each finding's earlier versions and the withdrawn ones."
    ),
) -> dict[str, Any]:
    return await run_in_threadpool(
        situation, ctx, country=country, admin1=admin1, start=start, end=end, history=history
    )
