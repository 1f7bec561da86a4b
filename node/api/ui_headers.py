"""The security headers of every ``/ui`` answer: one pure ASGI middleware.

Each response whose path is ``/ui`` or under it (pages, redirects, the 401/403 pages,
problem+json refusals such as 404, 413 or 422, static files) leaves with

* ``X-Content-Type-Options: nosniff``, so that no answer is read as another type;
* a ``Content-Security-Policy`` that lets the page load nothing from elsewhere and
  nothing inline: styles come from ``/ui/static/ui.css``, a page runs no script
  (:data:`PAGE_POLICY`), and the audit pages, which may run the node's own script
  (``/ui/audit/entries/{seq}`` loads ``/ui/static/audit-verify.js``), set
  :data:`SCRIPTED_PAGE_POLICY` themselves, which this middleware keeps. The charts and
  grid are inline SVG with presentation attributes only (:mod:`node.ui.charts`), which
  no policy directive governs, and ``<script type="application/json">`` data blocks are
  never executed, so neither needs a source.

Both policies deny framing (``frame-ancestors 'none'``: no clickjacking), ``<base>``
(``base-uri 'none'``), plug-ins (``object-src 'none'``), and send forms only to the node
itself (``form-action 'self'``, which also covers the sign-in's redirect).

An error the app does not handle is answered by Starlette's ``ServerErrorMiddleware``,
outside every middleware added to the app; :func:`security_headers` is what its
handler (:mod:`node.api.problems`) adds for such an answer on a ``/ui`` path.
"""

from __future__ import annotations

from typing import Final

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "CSP",
    "PAGE_POLICY",
    "SCRIPTED_PAGE_POLICY",
    "UiHeadersMiddleware",
    "content_security_policy",
    "is_ui_path",
    "security_headers",
]

UI_PREFIX: Final = "/ui"
CSP: Final = "content-security-policy"
NOSNIFF: Final = ("x-content-type-options", "nosniff")


def content_security_policy(*, own_scripts: bool = False) -> str:
    """The policy of a ``/ui`` page: its stylesheet from this node, no other resource;
    scripts from this node only when ``own_scripts`` (never inline ones)."""
    directives = {
        "default-src": "'none'",
        "script-src": "'self'" if own_scripts else "'none'",
        "style-src": "'self'",
        "object-src": "'none'",
        "base-uri": "'none'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }
    return "; ".join(f"{name} {sources}" for name, sources in directives.items())


#: Every ``/ui`` answer that does not ask for more: no script at all.
PAGE_POLICY: Final = content_security_policy()
#: A page that loads its own script from ``/ui/static`` (the audit entry's proof check).
SCRIPTED_PAGE_POLICY: Final = content_security_policy(own_scripts=True)


def is_ui_path(path: str) -> bool:
    """Whether ``path`` is ``/ui`` or under it (``/uix`` is not)."""
    return path == UI_PREFIX or path.startswith(UI_PREFIX + "/")


def security_headers(path: str) -> dict[str, str]:
    """The headers an answer on ``path`` must carry (none off ``/ui``)."""
    if not is_ui_path(path):
        return {}
    return {CSP: PAGE_POLICY, NOSNIFF[0]: NOSNIFF[1]}


class UiHeadersMiddleware:
    """Add ``nosniff`` and the page policy (unless the route set its own) to ``/ui``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_ui_path(scope.get("path", "")):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers[NOSNIFF[0]] = NOSNIFF[1]
                if CSP not in headers:
                    headers[CSP] = PAGE_POLICY
            await send(message)

        await self.app(scope, receive, send_with_headers)
