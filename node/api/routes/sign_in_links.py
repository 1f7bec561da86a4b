"""Sign-in links: ``POST /v1/local/sign-in-links`` mints one, ``GET /ui/sign-in/{code}`` uses it.

An admin (the demo, on the node that serves the situation page) mints a link for a
token that may read the pages (``analyst``, ``auditor`` or ``admin``), by name; the
answer (201) is the link's path and full URL, usable once until its expiry
(:mod:`node.services.sign_in_links`). Following the link starts a session as that
token, as ``POST /ui/login`` does (``session.started``, how ``link``), and redirects
(303) to the situation page; a link used already, unknown or expired gets the sign-in
page saying so (404), never a cookie. Each use of a link costs the client address a
token of its sign-in rate limit, as a sign-in does.
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
from clearinghouse.node.api.openapi import json_request
from clearinghouse.node.api.problems import problem_responses
from clearinghouse.node.api.ui_session import UI_ROLES, start_session, templates
from clearinghouse.node.auth.principal import Principal, token_principal
from clearinghouse.node.errors import NotFound
from clearinghouse.node.services.sign_in_links import mint_sign_in_link, redeem_sign_in_link

__all__ = ["router"]

router = APIRouter()
Admin = Annotated[Principal, Depends(require_role("admin"))]
#: A link's answers, good or bad, are never kept by a cache.
NO_STORE = {"cache-control": "no-store"}


class SignInLinkIn(BaseModel):
    """Which token the link signs in as: its name (its secret is never needed)."""

    model_config = {"extra": "forbid"}

    name: str = Field(min_length=1, max_length=255, description="A configured token's name.")


_LINK_EXAMPLE = {
    "path": "/ui/sign-in/k3J9x0Qm2b7TqW1vYz8rLp4Nf6Hc5Ds0",
    "url": "https://dpa.example/ui/sign-in/k3J9x0Qm2b7TqW1vYz8rLp4Nf6Hc5Ds0",
    "token": "analyst-desk",
    "role": "analyst",
    "expires_at": "2026-11-29T10:10:00+00:00",
}


class SignInLinkOut(BaseModel):
    path: str = Field(description="/ui/sign-in/{code}: the link on this node.")
    url: str = Field(description="The link at this node's public URL.")
    token: str = Field(description="The name of the token the link signs in with.")
    role: str
    expires_at: str = Field(description="RFC 3339: the link may be used once until then.")


@router.post(
    "/v1/local/sign-in-links",
    operation_id="mintSignInLink",
    tags=["local"],
    status_code=201,
    response_model=SignInLinkOut,
    summary="Mint a single-use sign-in link for the browser pages",
    description="A link that signs a browser in once, within minutes, with the named "
    "token (role `analyst`, `auditor` or `admin`), by name. 404 for a token name "
    "this node does not have; 422 for a token of another role. Links are held in the "
    "node's memory only. Role `admin`.",
    responses={
        201: {"content": {"application/json": {"example": _LINK_EXAMPLE}}},
        **problem_responses(400, 401, 403, 404, 413, 415, 422),
    },
    openapi_extra=json_request(SignInLinkIn, example={"name": "analyst-desk"}),
)
async def mint(ctx: ContextDep, admin: Admin, request: Request) -> SignInLinkOut:
    raw = await read_body(request, ctx)  # read only once the admin token checked
    require_json(request)
    body = await run_in_threadpool(parsed_body, SignInLinkIn, raw)
    link = mint_sign_in_link(
        ctx, body.name, roles=UI_ROLES, minted_by=admin.describe(), now=ctx.clock.now()
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
        token = redeem_sign_in_link(ctx, code, now=ctx.clock.now())
    except NotFound as exc:
        return templates.TemplateResponse(
            request,
            "login.html",
            {"participant": ctx.participant, "error": f"{exc.detail}. Sign in with a token:"},
            status_code=404,
            headers=NO_STORE,
        )
    response = RedirectResponse("/ui/situation", status_code=303, headers=NO_STORE)
    await start_session(ctx, token_principal(token), response, "link")
    return response
