"""The node as an OpenID Connect relying party of its agency's provider.

Web sign-in is the authorization code flow (OpenID Connect Core 1.0 section 3.1)
with PKCE (RFC 7636, ``S256``), a ``state`` bound to the browser and a ``nonce``
bound to the ID token: :meth:`RelyingParty.authorization_url` starts it,
:meth:`RelyingParty.complete` exchanges the code (client_secret_basic, RFC 6749
section 2.3.1) and checks the ID token (3.1.3.7: signature by a key of the
provider's JWKS with an allowed algorithm, ``iss``, ``aud``, ``azp``, ``exp``,
``iat``, ``nonce``). The local API takes the provider's access tokens as bearer
tokens when they are JWTs (RFC 9068) signed by the provider for this node's
audience: :meth:`RelyingParty.verify_access_token`.

The provider's metadata (its ``/.well-known/openid-configuration``, validated with
Authlib) and keys (its JWKS, read with joserfc) are fetched on first use and kept;
the JWKS is fetched again when a token names a key it lacks (a rotation), at most
once every :data:`JWKS_REFRESH_S`. Signatures and claims are checked by joserfc.

A person's roles on this node are the values of one claim (``roles_claim``) mapped
through ``role_map``; a person with none is refused (:class:`NoRole`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.discovery import OpenIDProviderMetadata
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from clearinghouse.node.errors import Forbidden, ServiceUnavailable, Unauthenticated
from clearinghouse.node.keyfiles import refuse_world_readable
from clearinghouse.node.settings import OidcSettings
from clearinghouse.node.transport.identity_provider import ProviderClient
from clearinghouse.protocol.encoding import b64url_decode, parse_json
from clearinghouse.protocol.errors import KeyUnusable, ProtocolError

__all__ = [
    "JWKS_REFRESH_S",
    "Identity",
    "NoRole",
    "RelyingParty",
    "claim_values",
    "looks_like_jwt",
]

#: The least time between two fetches of the provider's JWKS for an unknown key id.
JWKS_REFRESH_S = 30.0


class NoRole(Forbidden):
    """The person signed in at the provider, but none of their claims gives a role here."""


@dataclass(frozen=True)
class Identity:
    """Who the provider says signed in: issuer and subject, name, email, roles here."""

    issuer: str
    subject: str
    display_name: str
    email: str | None
    roles: frozenset[str]


def looks_like_jwt(bearer: str) -> bool:
    """Three base64url parts: a JWS compact serialisation (a static token never is)."""
    parts = bearer.split(".")
    return (
        len(parts) == 3
        and all(parts[:2])
        and all(c.isalnum() or c in "-_" for part in parts for c in part)
    )


def claim_values(claims: Mapping[str, Any], path: str) -> list[str]:
    """The string values at ``path`` (dotted: ``realm_access.roles``) in ``claims``: a
    string gives one, a list its strings, a space-separated ``scope`` style string its
    words is *not* split (a group name may hold a space)."""
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return []
        value = value[part]
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


class RelyingParty:
    """This node at its provider; thread-safe (pages and API calls use it at once)."""

    def __init__(
        self,
        settings: OidcSettings,
        *,
        redirect_uri: str,
        audience: str,
        http: ProviderClient | None = None,
    ) -> None:
        self.settings = settings
        self.redirect_uri = redirect_uri
        self.audience = settings.audience or audience
        self._secret = _read_secret(settings)
        self._http = http or ProviderClient(timeout=settings.http_timeout_s)
        self._lock = threading.Lock()
        self._metadata: dict[str, Any] | None = None
        self._keys: KeySet | None = None
        self._keys_at = 0.0

    def close(self) -> None:
        self._http.close()

    @property
    def issuer(self) -> str:
        return self.settings.issuer

    # -- the provider's metadata and keys ------------------------------------------

    def metadata(self) -> dict[str, Any]:
        """The provider's discovery document, fetched once and validated.

        :raises ServiceUnavailable: the provider cannot be reached, or its document is
            not one (unparsable, missing a required member, another issuer).
        """
        with self._lock:
            if self._metadata is None:
                url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
                document = self._get_json(url, "discovery document")
                try:
                    OpenIDProviderMetadata(document).validate()
                except ValueError as exc:
                    raise ServiceUnavailable(f"the provider's {url} is not valid: {exc}") from exc
                if document.get("issuer") != self.issuer:
                    raise ServiceUnavailable(
                        f"the provider's discovery document names issuer "
                        f"{document.get('issuer')!r}, not the configured {self.issuer!r}"
                    )
                self._metadata = dict(document)
            return self._metadata

    def _key_set(self, kid: str | None) -> KeySet:
        """The provider's keys; fetched again if ``kid`` is not among them (rotation)."""
        metadata = self.metadata()
        with self._lock:
            known = self._keys is not None and (
                kid is None or any(k.kid == kid for k in self._keys.keys)
            )
            due = time.monotonic() - self._keys_at >= JWKS_REFRESH_S
            if self._keys is None or (not known and due):
                document = self._get_json(str(metadata["jwks_uri"]), "JWKS")
                try:
                    self._keys = KeySet.import_key_set(document)  # type: ignore[arg-type]
                except (JoseError, ValueError, TypeError) as exc:
                    raise ServiceUnavailable(f"the provider's JWKS is not usable: {exc}") from exc
                self._keys_at = time.monotonic()
            assert self._keys is not None
            return self._keys

    def _get_json(self, url: str, what: str) -> dict[str, Any]:
        return self._http.get_json(url, what)

    # -- web sign-in ---------------------------------------------------------------

    def authorization_url(self, *, state: str, nonce: str, code_verifier: str) -> str:
        """Where to send the browser to sign in (code flow, PKCE S256)."""
        scopes = ["openid", *[s for s in self.settings.scopes if s != "openid"]]
        url: str = prepare_grant_uri(
            self.metadata()["authorization_endpoint"],
            client_id=self.settings.client_id,
            response_type="code",
            redirect_uri=self.redirect_uri,
            scope=" ".join(scopes),
            state=state,
            nonce=nonce,
            code_challenge=create_s256_code_challenge(code_verifier),  # type: ignore[no-untyped-call]
            code_challenge_method="S256",
        )
        return url

    def complete(self, *, code: str, code_verifier: str, nonce: str) -> Identity:
        """Exchange ``code`` at the token endpoint and check the ID token.

        :raises Unauthenticated: the provider refused the code, or the ID token does
            not verify (signature, issuer, audience, time, nonce).
        :raises NoRole: the person has no role on this node.
        :raises ServiceUnavailable: the provider cannot be reached.
        """
        metadata = self.metadata()
        if self._secret is None:
            raise ServiceUnavailable(
                "oidc.client_secret_file is not set: this node cannot redeem a sign-in"
            )
        status, tokens = self._http.post_form(
            str(metadata["token_endpoint"]),
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": self.redirect_uri,
                "code_verifier": code_verifier,
            },
            basic_auth=(self.settings.client_id, self._secret),
        )
        if status != 200:
            error = tokens.get("error", "")
            raise Unauthenticated(
                f"the identity provider refused the sign-in code ({status}"
                + (f", {error}" if isinstance(error, str) and error else "")
                + ")"
            )
        id_token = tokens.get("id_token")
        if not isinstance(id_token, str):
            raise Unauthenticated("the identity provider's answer holds no ID token")
        claims = self._verified(id_token, audience=self.settings.client_id, what="ID token")
        if claims.get("nonce") != nonce:
            raise Unauthenticated("the ID token's nonce is not the one this sign-in sent")
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if len(audiences) > 1 and claims.get("azp") != self.settings.client_id:
            raise Unauthenticated("the ID token has several audiences and another azp")
        access = tokens.get("access_token")
        if isinstance(access, str) and not claim_values(claims, self.settings.roles_claim):
            claims = {**self._userinfo(metadata, access, str(claims["sub"])), **claims}
        return self._identity(claims)

    def _userinfo(self, metadata: Mapping[str, Any], access: str, subject: str) -> dict[str, Any]:
        """The userinfo claims (when the ID token lacks the roles claim); ``sub`` must
        be the ID token's (Core 5.3.2)."""
        endpoint = metadata.get("userinfo_endpoint")
        if not isinstance(endpoint, str):
            return {}
        info = self._http.userinfo(endpoint, access)
        if info is None or info.get("sub") != subject:
            return {}
        return info

    # -- bearer JWTs on the local API ------------------------------------------------

    def verify_access_token(self, bearer: str) -> Identity:
        """The person (or client) an access token JWT of the provider stands for.

        :raises Unauthenticated: not a JWT of the provider for this node's audience, or
            expired, or its signature does not verify.
        :raises NoRole: valid, but its claims give no role here.
        """
        claims = self._verified(bearer, audience=self.audience, what="access token")
        return self._identity(claims)

    # -- shared --------------------------------------------------------------------

    def _verified(self, token: str, *, audience: str, what: str) -> dict[str, Any]:
        kid = _header_of(token).get("kid")
        keys = self._key_set(kid if isinstance(kid, str) else None)
        try:
            decoded = jwt.decode(token, keys, algorithms=self.settings.algorithms)
        except JoseError as exc:
            raise Unauthenticated(f"the {what} does not verify: {exc.description}") from exc
        except ValueError as exc:
            raise Unauthenticated(f"the {what} is malformed: {exc}") from exc
        registry = jwt.JWTClaimsRegistry(
            leeway=self.settings.leeway_s,
            iss={"essential": True, "value": self.issuer},
            aud={"essential": True, "value": audience},
            sub={"essential": True},
            exp={"essential": True},
        )
        try:
            registry.validate(decoded.claims)
        except JoseError as exc:
            raise Unauthenticated(f"the {what} is not valid here: {exc.description}") from exc
        return dict(decoded.claims)

    def _identity(self, claims: Mapping[str, Any]) -> Identity:
        values = claim_values(claims, self.settings.roles_claim)
        roles = frozenset(self.settings.role_map[v] for v in values if v in self.settings.role_map)
        subject = str(claims["sub"])
        name = claims.get(self.settings.display_name_claim)
        email = claims.get("email")
        identity = Identity(
            issuer=self.issuer,
            subject=subject,
            display_name=name if isinstance(name, str) and name else subject,
            email=email if isinstance(email, str) else None,
            roles=roles,
        )
        if not roles:
            shown = ", ".join(repr(v) for v in values[:10]) or "none"
            raise NoRole(
                f"{identity.display_name} has no role on this node: claim "
                f"{self.settings.roles_claim!r} holds {shown}, and oidc.role_map maps "
                f"none of them"
            )
        return identity


def _header_of(token: str) -> dict[str, Any]:
    """The JOSE header of a compact JWS, unverified (to pick the key); {} if unreadable."""
    try:
        header = parse_json(b64url_decode(token.split(".", 1)[0]))
    except ProtocolError:
        return {}
    return header if isinstance(header, dict) else {}


def _read_secret(settings: OidcSettings) -> str | None:
    path = settings.client_secret_file
    if path is None:
        return None
    try:
        refuse_world_readable(path, "OpenID Connect client secret")
        secret = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise KeyUnusable(
            f"cannot read the OpenID Connect client secret {path}: {exc.strerror}"
        ) from exc
    if not secret:
        raise KeyUnusable(f"the OpenID Connect client secret file {path} is empty")
    return secret
