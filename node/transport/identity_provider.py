"""Outbound calls to the node's OpenID Connect provider: its discovery document and
JWKS (GET, JSON), its token endpoint (a form POST with client_secret_basic) and its
userinfo endpoint (GET with the access token). :mod:`node.auth.oidc` decides what the
answers mean; this module only carries them.

Failures to reach the provider, or an answer that is not a JSON object where one is
needed, are :class:`ServiceUnavailable` (503) naming the URL and what was asked for.
Redirects are never followed: a provider's endpoints are the ones it published.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from clearinghouse.node.errors import ServiceUnavailable

__all__ = ["ProviderClient"]


class ProviderClient:
    """One HTTP client to the provider, shared by the threads that verify and sign in."""

    def __init__(self, *, timeout: float, transport: httpx.BaseTransport | None = None) -> None:
        self._client = httpx.Client(timeout=timeout, transport=transport, follow_redirects=False)

    def close(self) -> None:
        self._client.close()

    def get_json(self, url: str, what: str) -> dict[str, Any]:
        """The JSON object at ``url`` (``what`` names it in errors)."""
        try:
            answer = self._client.get(url, headers={"accept": "application/json"})
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(
                f"the identity provider's {what} at {url} cannot be read: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        if answer.status_code != 200:
            raise ServiceUnavailable(
                f"the identity provider answered {answer.status_code} for its {what} at {url}"
            )
        document = _json_object(answer)
        if document is None:
            raise ServiceUnavailable(f"the identity provider's {what} is not a JSON object")
        return document

    def post_form(
        self, url: str, form: dict[str, str], *, basic_auth: tuple[str, str]
    ) -> tuple[int, dict[str, Any]]:
        """POST ``form`` to ``url`` with HTTP Basic client authentication, the id and
        secret form-urlencoded first (RFC 6749 section 2.3.1); the status and the JSON
        object answered ({} if the answer is not one)."""
        user, secret = (quote(part, safe="") for part in basic_auth)
        try:
            answer = self._client.post(
                url, data=form, auth=(user, secret), headers={"accept": "application/json"}
            )
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(
                f"the identity provider's token endpoint {url} cannot be reached: "
                f"{type(exc).__name__}"
            ) from exc
        return answer.status_code, _json_object(answer) or {}

    def userinfo(self, url: str, access_token: str) -> dict[str, Any] | None:
        """The userinfo claims for ``access_token``; None if they cannot be had."""
        try:
            answer = self._client.get(url, headers={"authorization": f"Bearer {access_token}"})
        except httpx.HTTPError:
            return None
        return _json_object(answer) if answer.status_code == 200 else None


def _json_object(answer: httpx.Response) -> dict[str, Any] | None:
    try:
        document = answer.json()
    except ValueError:
        return None
    return document if isinstance(document, dict) else None
