"""The pages' view of who is signed in, and the audit entries their reads and sign-ins
write.

:func:`page_principal` resolves the session cookie (:mod:`node.auth.sessions`) once
per request and keeps the answer on ``request.state``, where the templates find it
(:func:`template_context`: the header's "signed in as" and sign-out form).
:func:`start_session` makes a session for a principal, records ``session.started``
and sets the cookie on the answer; :func:`audited_read` records a page's
``data.read`` before the page is built.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import Request, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from clearinghouse.node.auth import sessions
from clearinghouse.node.auth.principal import Principal
from clearinghouse.node.context import NodeContext
from clearinghouse.node.services.reads import record_read
from clearinghouse.node.ui import UI_DIR

__all__ = [
    "AUDIT_ROLES",
    "UI_ROLES",
    "audited_read",
    "page_principal",
    "start_session",
    "templates",
]

#: The roles that may read the pages; the audit pages need one of AUDIT_ROLES.
UI_ROLES = ("analyst", "auditor", "admin")
AUDIT_ROLES = ("auditor", "admin")
_UNSET = object()


def template_context(request: Request) -> dict[str, Any]:
    """What every page's header needs: who is signed in (or None)."""
    principal = getattr(request.state, "principal", None)
    return {"principal": principal if isinstance(principal, Principal) else None}


templates = Jinja2Templates(directory=UI_DIR / "templates", context_processors=[template_context])


async def page_principal(request: Request) -> Principal | None:
    """Who the request's session is for, if they may read the pages; else None."""
    held = getattr(request.state, "principal", _UNSET)
    if held is not _UNSET:
        return held if isinstance(held, Principal) else None
    ctx: NodeContext = request.app.state.node
    session_id = request.cookies.get(sessions.COOKIE)
    principal = await run_in_threadpool(sessions.resolve, ctx, session_id) if session_id else None
    if principal is not None and not principal.has(*UI_ROLES):
        principal = None
    request.state.principal = principal
    return principal


async def start_session(
    ctx: NodeContext,
    principal: Principal,
    response: Response,
    how: str,
    samesite: Literal["strict", "lax"] = "strict",
) -> None:
    """A new session for ``principal`` (signed in ``how``), its cookie set on ``response``."""
    session_id = await run_in_threadpool(sessions.start, ctx, principal, how)
    sessions.set_cookie(response, ctx, session_id, samesite)


async def audited_read(
    ctx: NodeContext,
    principal: Principal,
    what: str,
    *,
    jti: str | None = None,
    details: dict[str, object] | None = None,
) -> None:
    """Record that ``principal`` reads ``what`` (see :func:`node.services.reads.record_read`)."""
    await run_in_threadpool(
        lambda: record_read(ctx, principal.actor, what, jti=jti, details=details)
    )
