"""``/docs``: the API's Swagger UI, served by the node itself, so that it works offline.

Swagger UI's files come from a Python package that ships them (``fastapi-offline``:
``swagger-ui-bundle.js`` and ``swagger-ui.css`` of Swagger UI 5, which reads OpenAPI
3.1), never from a CDN: on an air-gapped network ``/docs`` renders as anywhere else.
The page is the node's own: it loads the bundle and :data:`INIT_SCRIPT` (served as
``/docs/init.js``, no inline script) and reads ``/openapi.json``; Swagger UI's call to
an online validator is turned off. ``/docs/oauth2-redirect`` ends the OpenID Connect
sign-in that the "Authorize" button starts on a node configured for it (FastAPI's page,
its one inline script allowed by its hash).

Every answer carries ``X-Content-Type-Options: nosniff``; the pages a
``Content-Security-Policy`` (:func:`docs_policy`) that loads scripts, styles, images and
JSON from the node only (and, with OpenID Connect, asks its provider's discovery and
token endpoints), and allows no framing, no plug-in and no ``<base>``.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

import fastapi_offline
from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_oauth2_redirect_html
from fastapi.responses import FileResponse, HTMLResponse, Response

from clearinghouse.node.api.deps import ContextDep
from clearinghouse.node.errors import NotFound

__all__ = ["ASSETS", "INIT_SCRIPT", "docs_policy", "router"]

router = APIRouter(prefix="/docs", include_in_schema=False)

#: The files of Swagger UI this node serves under ``/docs/assets``, with their type.
ASSETS: Final = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon.png": "image/png",
}
_PACKAGE: Final = Path(fastapi_offline.__file__).parent / "static"
NOSNIFF: Final = {"x-content-type-options": "nosniff"}
_ASSET_CACHE: Final = {"cache-control": "public, max-age=86400", **NOSNIFF}

#: Starts Swagger UI on the page's ``#swagger-ui``, with the URLs its data attributes give.
INIT_SCRIPT: Final = """\
"use strict";
(function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    dom_id: "#swagger-ui",
    oauth2RedirectUrl: new URL(root.dataset.oauth2RedirectUrl, window.location.href).href,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
    layout: "BaseLayout",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    displayRequestDuration: true,
    validatorUrl: null
  });
})();
"""

_PAGE: Final = """\
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} - API</title>
<link rel="icon" type="image/png" href="{root}/docs/assets/favicon.png">
<link rel="stylesheet" href="{root}/docs/assets/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{root}/openapi.json"
     data-oauth2-redirect-url="{root}/docs/oauth2-redirect"></div>
<script src="{root}/docs/assets/swagger-ui-bundle.js"></script>
<script src="{root}/docs/init.js"></script>
</body>
</html>
"""

_REDIRECT_PAGE: Final = bytes(get_swagger_ui_oauth2_redirect_html().body).decode()
_REDIRECT_SCRIPT = re.search(r"<script>(.*?)</script>", _REDIRECT_PAGE, re.DOTALL)
if _REDIRECT_SCRIPT is None:  # FastAPI's page changed: refuse to start rather than break
    raise RuntimeError("FastAPI's OAuth2 redirect page has no inline script to allow")
_REDIRECT_HASH: Final = base64.b64encode(
    hashlib.sha256(_REDIRECT_SCRIPT.group(1).encode()).digest()
).decode()


def docs_policy(*, scripts: str = "'self'", provider: str | None = None) -> str:
    """The ``Content-Security-Policy`` of the docs pages; ``provider``: the OpenID
    Connect issuer whose discovery and token endpoints Swagger UI may call."""
    origin = ""
    if provider:
        parts = urlsplit(provider)
        origin = f" {parts.scheme}://{parts.netloc}"
    directives = {
        "default-src": "'none'",
        "script-src": scripts,
        # Swagger UI sets style attributes on its elements as it renders
        "style-src": "'self' 'unsafe-inline'",
        "img-src": "'self' data:",
        "connect-src": "'self'" + origin,
        "object-src": "'none'",
        "base-uri": "'none'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }
    return "; ".join(f"{name} {sources}" for name, sources in directives.items())


def _issuer(ctx: ContextDep) -> str | None:
    oidc = getattr(ctx.settings, "oidc", None)
    return None if oidc is None else str(oidc.issuer)


@router.get("")
async def swagger_ui(request: Request, ctx: ContextDep) -> HTMLResponse:
    root = html.escape(request.scope.get("root_path", "").rstrip("/"))
    page = _PAGE.format(title=html.escape(ctx.participant), root=root)
    policy = docs_policy(provider=_issuer(ctx))
    return HTMLResponse(page, headers={"content-security-policy": policy, **NOSNIFF})


@router.get("/init.js")
async def init_script() -> Response:
    return Response(INIT_SCRIPT, media_type="text/javascript; charset=utf-8", headers=NOSNIFF)


@router.get("/oauth2-redirect")
async def oauth2_redirect(ctx: ContextDep) -> HTMLResponse:
    policy = docs_policy(scripts=f"'sha256-{_REDIRECT_HASH}'", provider=_issuer(ctx))
    return HTMLResponse(_REDIRECT_PAGE, headers={"content-security-policy": policy, **NOSNIFF})


@router.get("/assets/{name}")
async def asset(name: str) -> FileResponse:
    if name not in ASSETS:
        raise NotFound(f"no documentation asset {name!r}; there are {', '.join(ASSETS)}")
    return FileResponse(_PACKAGE / name, media_type=ASSETS[name], headers=_ASSET_CACHE)
