"""Cross-site form posts refused: the ``Origin`` check on every state-changing form.

A browser names the page a form was posted from in ``Origin`` (every current browser
does for a POST); the node accepts the post only from its own origin: the one the
request was addressed to (``Host``, with the scheme of ``public_url`` when it names
the same host) or its configured ``public_url``. Without ``Origin`` (or with
``null``), the ``Referer``'s origin is used; with neither, the post is refused: a
form of this node's pages always has one. This is OWASP's "verifying origin with
standard headers" defence against cross-site request forgery, login forms included
(login CSRF signs a victim in as the attacker).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import Request

from clearinghouse.node.errors import Forbidden

__all__ = ["require_same_origin"]


def _origin_of(url: str) -> str | None:
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def _own_origins(request: Request, public_url: str) -> set[str]:
    own = {o for o in (_origin_of(public_url),) if o}
    host = request.headers.get("host", "").lower()
    if host:
        for scheme in {request.url.scheme, urlsplit(public_url).scheme or "https"}:
            own.add(f"{scheme}://{host}")
    return own


def require_same_origin(request: Request, public_url: str) -> None:
    """Refuse (403) a form post that does not come from this node's own pages."""
    claimed = request.headers.get("origin")
    if not claimed or claimed == "null":
        referer = request.headers.get("referer")
        claimed = _origin_of(referer) if referer else None
    if not claimed:
        raise Forbidden(
            "this form post names no Origin or Referer: the node accepts its forms only "
            "from its own pages"
        )
    if claimed.lower().rstrip("/") not in _own_origins(request, public_url):
        raise Forbidden(f"a form post from {claimed[:200]!r} is refused: not this node's pages")
