"""Signing a test client in to a node's pages, as a browser would.

The session cookie is ``Secure``: a browser sends it to ``http://localhost`` too, but
httpx's cookie jar sends ``Secure`` cookies over HTTPS only, so the tests carry it
themselves, as a ``Cookie`` header. :func:`sign_in` posts the token form (with the
``Origin`` a browser sends) and returns that header.
"""

from __future__ import annotations

from http.cookies import SimpleCookie

import httpx

from clearinghouse.node.auth.sessions import COOKIE

__all__ = ["COOKIE", "Sessions", "session_cookie", "sign_in", "signed_in_headers"]


def session_cookie(answer: httpx.Response) -> str | None:
    """The session id an answer sets, read from its ``Set-Cookie`` headers."""
    for header in answer.headers.get_list("set-cookie"):
        cookie = SimpleCookie()
        cookie.load(header)
        if COOKIE in cookie and cookie[COOKIE].value:
            return cookie[COOKIE].value
    return None


def sign_in(base_url: str, token: str) -> str | None:
    """Sign in to the node at ``base_url`` with ``token``; the session id, or None if the
    node refused the token (401: unknown, or a role that may not read the pages)."""
    origin = base_url.rstrip("/")
    with httpx.Client(base_url=origin, timeout=30) as client:
        answer = client.post("/ui/login", data={"token": token}, headers={"origin": origin})
    if answer.status_code == 401:
        return None
    assert answer.status_code == 303, (answer.status_code, answer.text[:300])
    session_id = session_cookie(answer)
    assert session_id, answer.headers
    return session_id


def signed_in_headers(base_url: str, token: str) -> dict[str, str]:
    """A ``Cookie`` header of a fresh session of ``token``; no header for a token the
    node refuses to sign in (its role may not read the pages)."""
    session = sign_in(str(base_url), token)
    return {"cookie": f"{COOKIE}={session}"} if session else {}


class Sessions:
    """One session per token, for one node's fixture (sessions last half an hour
    unused). Never share one between nodes: a port, and a token, may be used again by
    the next node, whose database knows none of these sessions."""

    def __init__(self, base_url: str) -> None:
        self.base_url = str(base_url).rstrip("/")
        self._held: dict[str, str | None] = {}

    def headers(self, token: str) -> dict[str, str]:
        if token not in self._held:
            self._held[token] = sign_in(self.base_url, token)
        session = self._held[token]
        return {"cookie": f"{COOKIE}={session}"} if session else {}
