"""Sign-in links: ``POST /v1/local/sign-in-links`` mints one, ``GET /ui/sign-in/{code}`` uses it.

An admin (the demo, on the node that serves the situation page) mints a link for a
token that may read the pages (``analyst``, ``auditor`` or ``admin``), giving that
token's name and the token itself; the answer (201) is the link's path and full URL,
usable once until its expiry (:mod:`node.services.sign_in_links`). Following the link
sets the same cookie ``POST /ui/login`` sets and redirects (303) to the situation page;
a link used already, unknown or expired gets the sign-in page saying so (404), never a
cookie. Each use of a link costs the client address a token of its sign-in rate limit,
as a sign-in does.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from clearinghouse.node.api.deps import (
    ContextDep,
    charge_address,
    parsed_body,
    read_body,
    require_json,
    require_role,
)
from clearinghouse.node.api.problems import problem_responses
from clearinghouse.node.api.routes.ui import COOKIE, UI_ROLES, templates
from clearinghouse.node.errors import NotFound
from clearinghouse.node.services.sign_in_links import mint_sign_in_link, redeem_sign_in_link
from clearinghouse.node.settings import TokenSetting

__all__ = ["router"]

router = APIRouter()
Admin = Annotated[TokenSetting, Depends(require_role("admin"))]
#: The cookie lasts as long as one set by ``POST /ui/login``.
COOKIE_MAX_AGE = 8 * 3600
#: A link's answers, good or bad, are never kept by a cache.
NO_STORE = {"cache-control": "no-store"}


class SignInLinkIn(BaseModel):
    """Which token the link signs in with: its name and the token itself."""

    model_config = {"extra": "forbid"}

    name: str = Field(min_length=1, max_length=255, description="A configured token's name.")
    token: str = Field(
        min_length=1, max_length=1024, description="That token (the bearer secret) in clear."
    )


class SignInLinkOut(BaseModel):
    path: str = Field(description="/ui/sign-in/{code}: the link on this node.")
    url: str = Field(description="The link at this node's public URL.")
    token: str = Field(description="The name of the token the link signs in with.")
    role: str
    expires_at: str = Field(description="RFC 3339: the link may be used once until then.")


@router.post(
    "/v1/local/sign-in-links",
    tags=["local"],
    status_code=201,
    response_model=SignInLinkOut,
    summary="Mint a single-use sign-in link for the browser pages",
    description="A link that signs a browser in once, within minutes, with the named "
    "token (role `analyst`, `auditor` or `admin`), given in clear. 404 for a token name "
    "this node does not have; 422 for a token of another role, or one that is not the "
    "named token. Links are held in the node's memory only. Role `admin`.",
    responses=problem_responses(400, 401, 403, 404, 413, 415, 422),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": SignInLinkIn.model_json_schema()}},
        }
    },
)
async def mint(ctx: ContextDep, admin: Admin, request: Request) -> SignInLinkOut:
    raw = await read_body(request, ctx)  # read only once the admin token checked
    require_json(request)
    body = await run_in_threadpool(parsed_body, SignInLinkIn, raw)
    link = mint_sign_in_link(
        ctx, body.name, body.token, roles=UI_ROLES, minted_by=admin.name, now=ctx.clock.now()
    )
    return SignInLinkOut(
        path=link.path,
        url=ctx.public_url + link.path,
        token=link.token,
        role=link.role,
        expires_at=link.expires_at.isoformat(),
    )


@router.get("/ui/sign-in/{code}", include_in_schema=False)
async def sign_in(request: Request, ctx: ContextDep, code: str) -> Response:
    charge_address(request, "login", "sign-in attempts")
    try:
        bearer, _ = redeem_sign_in_link(ctx, code, now=ctx.clock.now())
    except NotFound as exc:
        return templates.TemplateResponse(
            request,
            "login.html",
            {"participant": ctx.participant, "error": f"{exc.detail}. Sign in with a token:"},
            status_code=404,
            headers=NO_STORE,
        )
    response = RedirectResponse("/ui/situation", status_code=303, headers=NO_STORE)
    response.set_cookie(COOKIE, bearer, httponly=True, samesite="strict", max_age=COOKIE_MAX_AGE)
    return response
