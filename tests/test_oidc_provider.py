"""The OIDC test provider (:mod:`tests.oidc_provider`) end to end: a real oidc-provider
process, its tokens checked with joserfc against its published JWKS as a relying party
would, and the process gone afterwards.

The relying party here is made with Authlib's and joserfc's own functions (authorization
URL, PKCE challenge, JWT and claims checks), not with the harness's, so that the harness
is checked against an independent client."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.errors import BadSignatureError, ExpiredTokenError, InvalidClaimError

from tests.oidc_provider import (
    OTHER_AUDIENCE,
    Client,
    OidcProvider,
    ProviderError,
    Resource,
    pkce_pair,
    resigned_with_foreign_key,
    running_provider,
)

NODE = "http://127.0.0.1:18001"  # a node's URL: the audience (never listened on here)
EDGE = "http://127.0.0.1:18002"  # a second resource, whose tokens are signed with Ed25519
WEB = Client(
    "node-web",
    "web secret with spaces & symbols",
    redirect_uris=(f"{NODE}/ui/auth/callback",),
    post_logout_redirect_uris=(f"{NODE}/ui/",),
)
MACHINE = Client(
    "ingest-bot",
    "machine-secret",
    auth_method="client_secret_post",
    grant_types=("client_credentials",),
    token_claims={"groups": ["machines"]},
)
ALGORITHMS = ["RS256", "Ed25519"]


@pytest.fixture(scope="module")
def op() -> Iterator[OidcProvider]:
    with running_provider(
        clients=[WEB, MACHINE],
        resources=[Resource(NODE), Resource(EDGE, alg="Ed25519")],
        role_claim="clearinghouse_roles",
    ) as provider:
        yield provider


def verified(op: OidcProvider, token: str, *, audience: str, leeway: int = 0) -> dict[str, Any]:
    """``token``'s claims, its signature checked against the provider's JWKS and its
    ``iss``, ``aud`` and ``exp`` as a relying party checks them."""
    decoded = jwt.decode(token, op.key_set(), algorithms=ALGORITHMS)
    jwt.JWTClaimsRegistry(
        leeway=leeway,
        iss={"essential": True, "value": op.issuer},
        aud={"essential": True, "value": audience},
        exp={"essential": True},
        sub={"essential": True},
    ).validate(decoded.claims)
    return {**decoded.claims, "_header": decoded.header}


def test_discovery_names_the_endpoints_and_features(op: OidcProvider) -> None:
    d = op.discovery
    assert d["issuer"] == op.issuer == f"http://127.0.0.1:{urlsplit(op.issuer).port}"
    for endpoint in ("authorization", "token", "jwks", "end_session", "revocation", "userinfo"):
        key = "jwks_uri" if endpoint == "jwks" else f"{endpoint}_endpoint"
        assert d[key].startswith(op.issuer + "/"), key
    assert d["code_challenge_methods_supported"] == ["S256"]
    assert d["response_types_supported"] == ["code"]
    assert {"authorization_code", "refresh_token", "client_credentials"} <= set(
        d["grant_types_supported"]
    )
    assert {"openid", "profile", "email", "groups"} <= set(d["scopes_supported"])
    assert {"name", "email", "groups", "clearinghouse_roles"} <= set(d["claims_supported"])
    keys = op.jwks()["keys"]
    assert {(k["kty"], k.get("alg"), k.get("crv")) for k in keys} == {
        ("RSA", "RS256", None),
        ("OKP", None, "Ed25519"),
    }
    assert all("d" not in k for k in keys), "private key material published"


def test_code_flow_with_pkce_gives_an_id_token_with_the_accounts_claims(
    op: OidcProvider,
) -> None:
    verifier, state, nonce = "v" * 43 + "-pkce", "state-1", "nonce-1"
    url = prepare_grant_uri(
        op.discovery["authorization_endpoint"],
        client_id=WEB.client_id,
        response_type="code",
        redirect_uri=WEB.redirect_uris[0],
        scope="openid profile email groups",
        state=state,
        nonce=nonce,
        code_challenge=create_s256_code_challenge(verifier),
        code_challenge_method="S256",
    )
    back = op.sign_in(url, "alice")
    assert back.startswith(WEB.redirect_uris[0] + "?")
    query = parse_qs(urlsplit(back).query)
    assert query["state"] == [state] and query["iss"] == [op.issuer]

    answer = httpx.post(
        op.discovery["token_endpoint"],
        data={
            "grant_type": "authorization_code",
            "code": query["code"][0],
            "redirect_uri": WEB.redirect_uris[0],
            "code_verifier": verifier,
        },
        auth=("node-web", "web+secret+with+spaces+%26+symbols"),  # form-encoded (RFC 6749 2.3.1)
    )
    assert answer.status_code == 200, answer.text
    tokens = answer.json()
    claims = verified(op, tokens["id_token"], audience=WEB.client_id)
    assert claims["_header"]["alg"] == "RS256"
    assert claims["sub"] == "alice" and claims["nonce"] == nonce
    assert claims["name"] == "Alice Analyst" and claims["email"] == "alice@example.org"
    assert claims["groups"] == ["analysts"]
    assert claims["clearinghouse_roles"] == ["analyst"]
    assert "refresh_token" in tokens

    userinfo = httpx.get(
        op.discovery["userinfo_endpoint"],
        headers={"authorization": f"Bearer {tokens['access_token']}"},
    ).json()
    assert userinfo["sub"] == "alice" and userinfo["groups"] == ["analysts"]

    refreshed = httpx.post(
        op.discovery["token_endpoint"],
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        auth=("node-web", "web+secret+with+spaces+%26+symbols"),
    )
    assert refreshed.status_code == 200, refreshed.text
    assert verified(op, refreshed.json()["id_token"], audience=WEB.client_id)["sub"] == "alice"


def test_pkce_is_required_and_checked(op: OidcProvider) -> None:
    without = op.authorization_url(WEB.client_id, code_challenge="", state="s").replace(
        "&code_challenge=&code_challenge_method=S256", ""
    )
    refused = parse_qs(urlsplit(op.sign_in(without, "alice")).query)
    assert refused["error"] == ["invalid_request"]
    assert "PKCE" in refused["error_description"][0]

    _, challenge = pkce_pair()
    back = parse_qs(
        urlsplit(
            op.sign_in(
                op.authorization_url(WEB.client_id, code_challenge=challenge, state="s"), "alice"
            )
        ).query
    )
    other_verifier, _ = pkce_pair()
    answer = op.token_request(
        WEB.client_id,
        {
            "grant_type": "authorization_code",
            "code": back["code"][0],
            "redirect_uri": WEB.redirect_uris[0],
            "code_verifier": other_verifier,
        },
    )
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"


def test_access_token_is_a_jwt_for_the_resource_with_the_groups(op: OidcProvider) -> None:
    token = op.access_token("oscar", NODE)
    claims = verified(op, token, audience=NODE)
    assert claims["_header"]["typ"] == "at+jwt"  # RFC 9068
    assert claims["aud"] == NODE and claims["iss"] == op.issuer
    assert claims["sub"] == "oscar" and claims["scope"] == "api"
    assert claims["groups"] == ["auditors"] and claims["clearinghouse_roles"] == ["auditor"]
    assert 0 < claims["exp"] - time.time() <= 600

    edge = verified(op, op.access_token("alice", EDGE, client_id=WEB.client_id), audience=EDGE)
    assert edge["_header"]["alg"] == "Ed25519" and edge["client_id"] == WEB.client_id


def test_client_credentials_token_of_a_machine_client(op: OidcProvider) -> None:
    claims = verified(op, op.client_credentials_token(NODE, client_id="ingest-bot"), audience=NODE)
    assert claims["sub"] == claims["client_id"] == "ingest-bot"
    assert claims["groups"] == ["machines"] and claims["scope"] == "api"

    wrong = op.token_request("ingest-bot", {"grant_type": "client_credentials"}).request
    stolen = httpx.post(  # the secret of another client
        str(wrong.url),
        data={
            "grant_type": "client_credentials",
            "client_id": "ingest-bot",
            "client_secret": WEB.client_secret,
            "resource": NODE,
        },
    )
    assert stolen.status_code == 401 and stolen.json()["error"] == "invalid_client"


def test_tokens_a_resource_server_must_refuse(op: OidcProvider) -> None:
    expired = op.expired_access_token(NODE, "alice")
    with pytest.raises(ExpiredTokenError):
        verified(op, expired, audience=NODE, leeway=600)
    assert jwt.decode(expired, op.key_set(), algorithms=ALGORITHMS).claims["groups"] == [
        "analysts"
    ]  # signed by the provider: only its time is wrong
    with pytest.raises(ExpiredTokenError):
        verified(op, op.expired_access_token(NODE), audience=NODE, leeway=600)

    other = op.access_token("alice", OTHER_AUDIENCE)
    assert verified(op, other, audience=OTHER_AUDIENCE)["aud"] == OTHER_AUDIENCE
    with pytest.raises(InvalidClaimError):
        verified(op, other, audience=NODE)

    with pytest.raises(BadSignatureError):
        verified(op, resigned_with_foreign_key(op.access_token("alice", NODE)), audience=NODE)


def test_refusals_come_back_as_errors(op: OidcProvider) -> None:
    with pytest.raises(ProviderError, match="unknown account"):
        op.access_token("mallory", NODE)
    with pytest.raises(ProviderError, match="invalid_target"):
        op.access_token("alice", "http://127.0.0.1:1/not-a-resource")
    _, challenge = pkce_pair()
    url = op.authorization_url(WEB.client_id, code_challenge=challenge, state="s2")
    denied = parse_qs(urlsplit(op.sign_in(url, "alice", consent=False)).query)
    assert denied["error"] == ["access_denied"] and denied["state"] == ["s2"]


def test_one_browser_signs_in_once_and_signs_out(op: OidcProvider) -> None:
    def subject_after_sign_in(account: str, browser: httpx.Client) -> tuple[str, str]:
        verifier, challenge = pkce_pair()
        url = op.authorization_url(WEB.client_id, code_challenge=challenge, state="s")
        back = parse_qs(urlsplit(op.sign_in(url, account, http=browser)).query)
        exchange = {
            "grant_type": "authorization_code",
            "code": back["code"][0],
            "redirect_uri": WEB.redirect_uris[0],
            "code_verifier": verifier,
        }
        id_token = op.token_request(WEB.client_id, exchange).json()["id_token"]
        return verified(op, id_token, audience=WEB.client_id)["sub"], id_token

    with httpx.Client() as browser:
        assert subject_after_sign_in("oscar", browser)[0] == "oscar"
        assert "op_session" in {c.name for c in browser.cookies.jar}
        # The provider's session stands: no login page, so the account given is not used.
        subject, id_token = subject_after_sign_in("alice", browser)
        assert subject == "oscar"
        end = (
            op.discovery["end_session_endpoint"]
            + "?"
            + urlencode(
                {
                    "id_token_hint": id_token,
                    "post_logout_redirect_uri": WEB.post_logout_redirect_uris[0],
                    "state": "bye",
                }
            )
        )
        assert op.sign_out(end, http=browser) == f"{NODE}/ui/?state=bye"
        assert subject_after_sign_in("alice", browser)[0] == "alice"


def test_the_process_is_gone_after_the_block_also_when_it_fails() -> None:
    with pytest.raises(ZeroDivisionError), running_provider() as provider:
        process, port = provider.process, urlsplit(provider.issuer).port
        assert process.poll() is None
        1 / 0  # noqa: B018
    assert process.poll() is not None
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/.well-known/openid-configuration")


def test_a_provider_that_cannot_start_is_reported() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(RuntimeError, match="cannot listen"), running_provider(port=port):
            pass
