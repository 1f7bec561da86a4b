"""A real OpenID Connect provider for tests: panva's ``oidc-provider`` run by Node.js.

:func:`running_provider` starts ``node tests/oidc/provider.mjs`` (which documents what
it configures and why) on a free loopback port, waits until it prints ``READY`` and
serves its discovery document, and always stops it when the block ends. The
:class:`OidcProvider` it yields drives the provider as a browser and as clients would,
over HTTP, with no mock of the protocol:

* :meth:`OidcProvider.sign_in` follows the provider's own login and consent pages
  (``devInteractions``) from an authorization URL that a relying party (a node) made,
  and returns where the provider finally redirects: the client's ``redirect_uri`` with
  ``code``, ``state`` and ``iss``, to hand to the node's callback;
  :meth:`OidcProvider.sign_out` does the same for the end-session page;
* :meth:`OidcProvider.code_flow_tokens`, :meth:`OidcProvider.access_token` and
  :meth:`OidcProvider.client_credentials_token` obtain tokens as a client (PKCE S256,
  the client's secret at the token endpoint, RFC 8707 resource indicators);
* :meth:`OidcProvider.expired_access_token` and :data:`OTHER_AUDIENCE` give tokens the
  provider itself signed that a resource server must refuse (expired; another
  audience), and :func:`resigned_with_foreign_key` a token with a wrong signature.

Every provider also has :data:`HARNESS_CLIENT` and :data:`EXPIRED_CLIENT` (redirect URI
:data:`HARNESS_REDIRECT`, where nothing listens: the harness never follows it) and the
resource :data:`OTHER_AUDIENCE`, besides what the test configures.

It needs Node.js and ``node_modules/oidc-provider`` (``make test`` runs ``npm ci``); it
fails, never skips, without them. Errors of the flows raise :class:`ProviderError`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, quote, urlencode, urljoin, urlsplit

import httpx
import pytest
from joserfc import jws, jwt
from joserfc.jwk import KeySet, RSAKey

from clearinghouse.node.localfed import free_port
from tests.support import ROOT

__all__ = [
    "DEFAULT_ACCOUNTS",
    "EXPIRED_CLIENT",
    "HARNESS_CLIENT",
    "HARNESS_REDIRECT",
    "ID_SCOPE",
    "OTHER_AUDIENCE",
    "PROVIDER_SCRIPT",
    "Account",
    "Client",
    "OidcProvider",
    "ProviderError",
    "Resource",
    "pkce_pair",
    "resigned_with_foreign_key",
    "running_provider",
]

PROVIDER_SCRIPT = ROOT / "tests" / "oidc" / "provider.mjs"
#: Seconds the provider gets to start (and to stop after SIGTERM, then SIGKILL).
START_TIMEOUT, STOP_TIMEOUT = 30.0, 10.0
#: Redirects and pages a browser flow may take before it is deemed to loop.
MAX_STEPS = 20


class ProviderError(RuntimeError):
    """The provider refused a step of a flow, or answered what a flow cannot continue from."""


@dataclass(frozen=True)
class Account:
    """A person at the provider; they sign in with ``sub`` as their login (any password).

    ``groups`` is released as the ``groups`` claim and ``roles`` under the provider's
    ``role_claim``, both with the ``groups`` scope and in access tokens."""

    sub: str
    name: str
    email: str
    groups: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()


@dataclass(frozen=True)
class Client:
    """A client registered at the provider (a web client: http redirect URIs allowed).

    ``access_token_ttl`` overrides the resource's access token lifetime (seconds) for
    this client; ``access_token_backdate`` makes the provider stamp this client's JWT
    access tokens that many seconds earlier (``iat`` and ``exp``); ``token_claims`` are
    added to its client_credentials tokens (e.g. ``{"groups": ["machines"]}``)."""

    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...] = ()
    post_logout_redirect_uris: tuple[str, ...] = ()
    auth_method: Literal["client_secret_basic", "client_secret_post"] = "client_secret_basic"
    grant_types: tuple[str, ...] = ("authorization_code", "refresh_token", "client_credentials")
    id_token_alg: Literal["RS256", "EdDSA", "Ed25519"] = "RS256"
    access_token_ttl: int | None = None
    access_token_backdate: int = 0
    token_claims: Mapping[str, Any] = field(default_factory=dict)

    def config(self) -> dict[str, Any]:
        """This client as ``provider.mjs`` reads it."""
        return {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "redirect_uris": list(self.redirect_uris),
            "post_logout_redirect_uris": list(self.post_logout_redirect_uris),
            "token_endpoint_auth_method": self.auth_method,
            "grant_types": list(self.grant_types),
            "id_token_signed_response_alg": self.id_token_alg,
            "access_token_ttl": self.access_token_ttl,
            "access_token_backdate": self.access_token_backdate,
            "token_claims": dict(self.token_claims),
        }


@dataclass(frozen=True)
class Resource:
    """A resource server (RFC 8707): its access tokens are JWTs with ``aud`` = ``audience``
    (a node's URL), signed with ``alg``, carrying scopes out of ``scope``."""

    audience: str
    scope: str = "api"
    alg: Literal["RS256", "EdDSA", "Ed25519"] = "RS256"
    access_token_ttl: int = 600


HARNESS_REDIRECT = "http://127.0.0.1:9/harness/callback"
#: The client the token helpers use unless told another.
HARNESS_CLIENT = Client("harness", secrets.token_urlsafe(24), redirect_uris=(HARNESS_REDIRECT,))
#: A client whose access tokens the provider signs already expired (an hour ago).
EXPIRED_CLIENT = Client(
    "harness-expired",
    secrets.token_urlsafe(24),
    redirect_uris=(HARNESS_REDIRECT,),
    access_token_ttl=60,
    access_token_backdate=3600,
)
#: A resource that is not any node: its tokens are for another audience.
OTHER_AUDIENCE = "https://other-service.invalid/api"
#: The accounts of a provider unless a test gives its own: two with a group and a
#: role each, one with neither.
DEFAULT_ACCOUNTS = (
    Account("alice", "Alice Analyst", "alice@example.org", ("analysts",), ("analyst",)),
    Account("oscar", "Oscar Auditor", "oscar@example.org", ("auditors",), ("auditor",)),
    Account("nobody", "No Body", "nobody@example.org"),
)
#: The scopes that release all of an account's claims into the ID token.
ID_SCOPE = "openid profile email groups"


def pkce_pair() -> tuple[str, str]:
    """A fresh PKCE ``(code_verifier, code_challenge)`` for ``S256`` (RFC 7636 4.1-4.2)."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def resigned_with_foreign_key(token: str) -> str:
    """``token``'s header and claims signed again with a fresh RSA key that the provider
    never published (same ``kid`` and ``alg`` RS256): a token whose signature is wrong."""
    compact = jws.extract_compact(token.encode("ascii"))
    header = {**compact.protected, "alg": "RS256"}
    return jwt.encode(header, json.loads(compact.payload), RSAKey.generate_key(2048))


class _Page(HTMLParser):
    """The form fields, named buttons and links of one of the provider's pages."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self.links: list[str] = []
        self.text: list[str] = []
        self._skip = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self._skip = tag in ("style", "script")
        if tag == "form" and self.action is None:
            self.action = a.get("action", "")
        elif tag == "input" and a.get("name"):
            self.fields[a["name"]] = a.get("value", "")
        elif tag == "button" and a.get("name") and a["name"] not in self.fields:
            self.fields[a["name"]] = a.get("value", "")  # the first named button is pressed
        elif tag == "a" and a.get("href"):
            self.links.append(a["href"])

    def handle_endtag(self, tag: str) -> None:
        self._skip = False

    def handle_data(self, data: str) -> None:
        if data.strip() and not self._skip:
            self.text.append(data.strip())


@dataclass(frozen=True)
class OidcProvider:
    """A running provider: where it is, what it knows, and flows against it."""

    issuer: str
    discovery: dict[str, Any]
    accounts: dict[str, Account]
    clients: dict[str, Client]
    resources: dict[str, Resource]
    role_claim: str | None
    log: Path
    process: subprocess.Popen[bytes] = field(repr=False)

    def jwks(self) -> dict[str, Any]:
        """The provider's public keys, as its ``jwks_uri`` serves them."""
        answer = httpx.get(self.discovery["jwks_uri"])
        answer.raise_for_status()
        keys: dict[str, Any] = answer.json()
        return keys

    def key_set(self) -> KeySet:
        """The provider's public keys as a joserfc key set (to verify its tokens with)."""
        return KeySet.import_key_set(self.jwks())  # type: ignore[arg-type]

    def authorization_url(
        self,
        client_id: str,
        *,
        code_challenge: str,
        state: str,
        scope: str = ID_SCOPE,
        resource: str | None = None,
        nonce: str | None = None,
        redirect_uri: str | None = None,
    ) -> str:
        """An authorization request (code flow, PKCE S256) of ``client_id``, to its first
        redirect URI unless ``redirect_uri``."""
        params = {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri or self.clients[client_id].redirect_uris[0],
            "scope": scope,
            "state": state,
            "code_challenge": code_challenge,
            "code_challenge_method": "S256",
        }
        if nonce is not None:
            params["nonce"] = nonce
        if resource is not None:
            params["resource"] = resource
        return f"{self.discovery['authorization_endpoint']}?{urlencode(params)}"

    def sign_in(
        self,
        authorize_url: str,
        account_id: str,
        *,
        http: httpx.Client | None = None,
        consent: bool = True,
    ) -> str:
        """Follow ``authorize_url`` as a browser: log in as ``account_id`` on the login
        page, then confirm (or, with ``consent=False``, cancel) the consent page.

        Returns the URL the provider redirects to in the end, not followed: the client's
        redirect URI with ``code``, ``state`` and ``iss`` (or ``error``). ``http`` keeps
        the provider's session cookies across calls, as one browser would: a second
        sign-in then skips the login page, and ``account_id`` is not used (the session's
        account signs in) until :meth:`sign_out`.

        :raises ProviderError: the provider showed an error page."""
        return self._browse(authorize_url, http, login=account_id, consent=consent)

    def sign_out(self, end_session_url: str, *, http: httpx.Client | None = None) -> str:
        """Follow a relying party's ``end_session_endpoint`` URL as a browser and confirm
        the sign-out; returns the ``post_logout_redirect_uri`` it redirects to (with its
        ``state``), or the provider's own success page.

        :raises ProviderError: the provider showed an error page."""
        return self._browse(end_session_url, http, login=None, consent=True)

    def _browse(
        self, url: str, http: httpx.Client | None, *, login: str | None, consent: bool
    ) -> str:
        own = http is None
        browser = http or httpx.Client(timeout=30)
        method, data = "GET", None
        try:
            for _ in range(MAX_STEPS):
                answer = browser.request(method, url, data=data, follow_redirects=False)
                if answer.is_redirect:
                    url = urljoin(url, answer.headers["location"])
                    if not url.startswith(self.issuer + "/"):
                        return url  # back at the client: where the browser goes next
                    method, data = "GET", None
                    continue
                page = _Page()
                page.feed(answer.text)
                if answer.status_code == 200 and urlsplit(url).path == "/session/end/success":
                    return url
                if answer.status_code != 200 or page.action is None:
                    shown = " ".join(page.text)[-500:]
                    raise ProviderError(f"{answer.status_code} at {url}: {shown}")
                prompt = page.fields.get("prompt")
                if prompt == "login":
                    if login is None:
                        raise ProviderError(f"the provider asks to log in at {url}")
                    page.fields.update(login=login, password="any password")
                elif prompt == "consent" and not consent:
                    abort = next((h for h in page.links if h.endswith("/abort")), None)
                    if abort is None:
                        raise ProviderError(f"no way to cancel the consent page at {url}")
                    method, url, data = "GET", urljoin(url, abort), None
                    continue
                method, url, data = "POST", urljoin(url, page.action), page.fields
            raise ProviderError(f"no way back to the client after {MAX_STEPS} steps: {url}")
        finally:
            if own:
                browser.close()

    def token_request(self, client_id: str, data: Mapping[str, str]) -> httpx.Response:
        """A raw request to the token endpoint, the client authenticated by its method
        (client_secret_basic: id and secret form-encoded, RFC 6749 2.3.1)."""
        client = self.clients[client_id]
        form = dict(data)
        auth: tuple[str, str] | None = None
        if client.auth_method == "client_secret_basic":
            auth = (quote(client.client_id, safe=""), quote(client.client_secret, safe=""))
        else:
            form.update(client_id=client.client_id, client_secret=client.client_secret)
        return httpx.post(self.discovery["token_endpoint"], data=form, auth=auth)

    def code_flow_tokens(
        self,
        account_id: str,
        *,
        client_id: str = HARNESS_CLIENT.client_id,
        scope: str = ID_SCOPE,
        resource: str | None = None,
        nonce: str | None = None,
    ) -> dict[str, Any]:
        """The token response of a whole authorization code flow with PKCE for
        ``account_id`` (signed in as by :meth:`sign_in`): ``access_token``,
        ``id_token`` when ``scope`` has ``openid``, ``refresh_token``, ``expires_in``.
        With ``resource`` the access token is a JWT for it.

        :raises ProviderError: the provider refused the authorization or the code."""
        verifier, challenge = pkce_pair()
        state = secrets.token_urlsafe(16)
        url = self.authorization_url(
            client_id,
            code_challenge=challenge,
            state=state,
            scope=scope,
            resource=resource,
            nonce=nonce,
        )
        back = parse_qs(urlsplit(self.sign_in(url, account_id)).query)
        if "code" not in back:
            raise ProviderError(f"authorization refused: {back}")
        if back.get("state") != [state] or back.get("iss") != [self.issuer]:
            raise ProviderError(f"authorization response with wrong state or iss: {back}")
        exchange = {
            "grant_type": "authorization_code",
            "code": back["code"][0],
            "redirect_uri": self.clients[client_id].redirect_uris[0],
            "code_verifier": verifier,
        }
        if resource is not None:
            exchange["resource"] = resource
        return self._tokens(self.token_request(client_id, exchange))

    def access_token(
        self,
        account_id: str,
        resource: str,
        scope: str = "api",
        *,
        client_id: str = HARNESS_CLIENT.client_id,
    ) -> str:
        """A JWT access token (RFC 9068) for ``account_id`` at ``resource`` (``aud``),
        with ``scope`` and the account's ``groups`` and role claim, obtained by the code
        flow with PKCE and the resource indicator.

        :raises ProviderError: the provider refused (e.g. an unknown resource)."""
        tokens = self.code_flow_tokens(
            account_id, client_id=client_id, scope=f"openid {scope}", resource=resource
        )
        return str(tokens["access_token"])

    def client_credentials_token(
        self, resource: str, scope: str = "api", *, client_id: str = HARNESS_CLIENT.client_id
    ) -> str:
        """A JWT access token of the client ``client_id`` itself (``sub`` = its id,
        its ``token_claims`` added) at ``resource``, by the client_credentials grant.

        :raises ProviderError: the provider refused."""
        data = {"grant_type": "client_credentials", "resource": resource, "scope": scope}
        return str(self._tokens(self.token_request(client_id, data))["access_token"])

    def expired_access_token(
        self, resource: str, account_id: str | None = None, scope: str = "api"
    ) -> str:
        """A JWT access token for ``resource`` that the provider signed with an ``exp``
        almost an hour past (:data:`EXPIRED_CLIENT`): of ``account_id`` by the code
        flow, or of the client itself (client_credentials) without one."""
        if account_id is None:
            return self.client_credentials_token(
                resource, scope, client_id=EXPIRED_CLIENT.client_id
            )
        return self.access_token(account_id, resource, scope, client_id=EXPIRED_CLIENT.client_id)

    @staticmethod
    def _tokens(answer: httpx.Response) -> dict[str, Any]:
        if answer.status_code != 200:
            raise ProviderError(f"token endpoint answered {answer.status_code}: {answer.text}")
        tokens: dict[str, Any] = answer.json()
        return tokens


@contextmanager
def running_provider(
    *,
    accounts: Sequence[Account] = DEFAULT_ACCOUNTS,
    clients: Sequence[Client] = (),
    resources: Sequence[Resource] = (),
    role_claim: str | None = "roles",
    port: int | None = None,
    workdir: Path | None = None,
) -> Iterator[OidcProvider]:
    """A provider on 127.0.0.1:``port`` (a free one by default) knowing ``accounts``,
    ``clients`` and ``resources`` (plus :data:`HARNESS_CLIENT`, :data:`EXPIRED_CLIENT`
    and :data:`OTHER_AUDIENCE`), ready; stopped (SIGTERM, then SIGKILL) when the block
    ends, also when it fails. Its output goes to ``provider.out``/``provider.log`` in
    ``workdir`` (a temporary folder, removed afterwards, by default).

    :raises RuntimeError: the provider exited during start-up (with its log's end).
    :raises TimeoutError: it was not ready within :data:`START_TIMEOUT`."""
    node = shutil.which("node")
    if node is None or not (ROOT / "node_modules" / "oidc-provider").is_dir():
        pytest.fail(
            "the OIDC provider needs Node.js and node_modules/oidc-provider: run `make test`, "
            "or `npm ci` in the project's root, to install the tests' Node.js tooling",
            pytrace=False,
        )
    clients = [*clients, HARNESS_CLIENT, EXPIRED_CLIENT]
    resources = [*resources, Resource(OTHER_AUDIENCE)]
    port = port or free_port()
    config = {
        "port": port,
        "role_claim": role_claim,
        "accounts": [asdict(a) for a in accounts],
        "clients": [c.config() for c in clients],
        "resources": [asdict(r) for r in resources],
    }
    with tempfile.TemporaryDirectory(prefix="oidc-provider-") as scratch:
        folder = workdir or Path(scratch)
        out, log = folder / "provider.out", folder / "provider.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("CLEARINGHOUSE_")}
        env["OIDC_PROVIDER_CONFIG"] = json.dumps(config)
        with out.open("wb") as stdout, log.open("wb") as stderr:
            process = subprocess.Popen(
                [node, str(PROVIDER_SCRIPT)], stdout=stdout, stderr=stderr, env=env, cwd=ROOT
            )
        try:
            issuer = f"http://127.0.0.1:{port}"
            discovery = _wait_ready(process, issuer, out, log)
            yield OidcProvider(
                issuer=issuer,
                discovery=discovery,
                accounts={a.sub: a for a in accounts},
                clients={c.client_id: c for c in clients},
                resources={r.audience: r for r in resources},
                role_claim=role_claim,
                log=log,
                process=process,
            )
        finally:
            process.terminate()
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=STOP_TIMEOUT)


def _wait_ready(
    process: subprocess.Popen[bytes], issuer: str, out: Path, log: Path
) -> dict[str, Any]:
    """The discovery document, once the provider printed READY and serves it."""
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"the OIDC provider exited with {process.returncode}:\n{tail}")
        if f"READY {issuer}" in out.read_text(errors="replace"):
            try:
                answer = httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=5)
                if answer.status_code == 200:
                    discovery: dict[str, Any] = answer.json()
                    return discovery
            except httpx.TransportError:
                pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"the OIDC provider was not ready in {START_TIMEOUT:.0f} s: {log}")
        time.sleep(0.05)
