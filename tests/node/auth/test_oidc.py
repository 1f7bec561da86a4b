"""Signing in through a real OpenID Connect provider, and its access tokens on the API.

panva's certified ``oidc-provider`` runs as a Node.js process (:mod:`tests.oidc_provider`)
beside one node served on loopback. The web flow is driven as a browser drives it:
the node's ``/ui/oidc/login`` redirect, the provider's login and consent forms, and
the redirect back to ``/ui/oidc/callback`` with the ``state`` cookie the node set.
No part of the protocol is mocked.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from clearinghouse.node.auth.people import person_id
from clearinghouse.node.context import NodeContext
from clearinghouse.node.localfed import NodeHandle
from clearinghouse.node.storage import auditlog, people
from clearinghouse.node.storage.db import transaction
from clearinghouse.node.storage.models import AuditEntry
from clearinghouse.protocol.encoding import b64url_decode
from tests.nodes import built_federation, served_node
from tests.oidc_provider import (
    OTHER_AUDIENCE,
    Client,
    OidcProvider,
    Resource,
    resigned_with_foreign_key,
    running_provider,
)
from tests.ui_sessions import COOKIE, session_cookie

SECRET = "node client secret: with a colon and spaces"
STATE_COOKIE = "clearinghouse_oidc_state"
ROLE_MAP = {"analysts": "analyst", "auditors": "auditor", "machines": "submitter"}


@dataclass
class Setup:
    op: OidcProvider
    handle: NodeHandle
    ctx: NodeContext

    @property
    def url(self) -> str:
        return self.handle.url

    def entries(self) -> list[AuditEntry]:
        with transaction(self.ctx.engine) as session:
            return auditlog.entries(session, 0, auditlog.head(session).size)

    def person(self, sub: str) -> str:
        """``sub``'s pseudonymous id at this node (the key read from its database)."""
        with transaction(self.ctx.engine) as session:
            key = b64url_decode(people.node_secret(session, "person-id-key"))
        return person_id(key, self.op.issuer, sub)

    def sign_in(self, account: str) -> httpx.Response:
        """The whole web sign-in of ``account``: the callback's answer (not followed)."""
        start = httpx.get(self.url + "/ui/oidc/login", follow_redirects=False, timeout=30)
        assert start.status_code == 303, start.text
        state_cookie = _cookie(start, STATE_COOKIE)
        back = self.op.sign_in(start.headers["location"], account)
        assert back.startswith(self.url + "/ui/oidc/callback?"), back
        return httpx.get(
            back,
            headers={"cookie": f"{STATE_COOKIE}={state_cookie.value}"},
            follow_redirects=False,
            timeout=30,
        )


def _cookie(answer: httpx.Response, name: str) -> SimpleCookie[str]:
    for header in answer.headers.get_list("set-cookie"):
        cookie: SimpleCookie[str] = SimpleCookie()
        cookie.load(header)
        if name in cookie:
            return cookie[name]  # type: ignore[return-value]
    raise AssertionError(f"no {name} cookie in {answer.headers}")


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    root = tmp_path_factory.mktemp("oidc")
    fed = built_federation(root / "fed", ("mission", "dpa"))
    handle = fed.nodes["dpa"]
    secret_file = root / "client-secret"
    secret_file.write_text(SECRET + "\n")
    os.chmod(secret_file, 0o600)
    node_client = Client(
        "clearinghouse-dpa",
        SECRET,
        redirect_uris=(handle.url + "/ui/oidc/callback",),
        token_claims={"groups": ["machines"]},
    )
    with running_provider(clients=[node_client], resources=[Resource(handle.url)]) as op:
        oidc = {
            "issuer": op.issuer,
            "client_id": node_client.client_id,
            "client_secret_file": secret_file,
            "scopes": ["openid", "profile", "email", "groups"],
            "role_map": ROLE_MAP,
            "provider_name": "the test provider",
        }
        with served_node(handle, oidc=oidc) as served:
            yield Setup(op, handle, served.context)


# --- the web pages -------------------------------------------------------------------


def test_a_person_signs_in_and_is_named_by_a_pseudonym_in_the_log(setup: Setup) -> None:
    login_page = httpx.get(setup.url + "/ui/login", timeout=30).text
    assert 'href="/ui/oidc/login"' in login_page and "Sign in with the test provider" in login_page

    answer = setup.sign_in("alice")
    assert answer.status_code == 303 and answer.headers["location"] == "/ui/situation"
    cookie = _cookie(answer, COOKIE)
    assert cookie["secure"] and cookie["httponly"] and cookie["samesite"].lower() == "lax"
    assert cookie["path"] == "/"
    page = httpx.get(
        setup.url + "/ui/situation", headers={"cookie": f"{COOKIE}={cookie.value}"}, timeout=30
    )
    assert page.status_code == 200 and "Signed in as Alice Analyst" in page.text

    alice = "person:" + setup.person("alice")
    started = [e for e in setup.entries() if e.act == "session.started" and e.actor == alice]
    assert len(started) >= 1 and '"how":"oidc"' in started[-1].body
    read = [e for e in setup.entries() if e.act == "data.read" and e.actor == alice]
    assert read and '"what":"situation"' in read[-1].body
    # Peers read these entries: nothing in them says who Alice is.
    for entry in setup.entries():
        assert "alice" not in entry.body.lower() and "Alice Analyst" not in entry.body
    with transaction(setup.ctx.engine) as session:
        person = people.get(session, alice.removeprefix("person:"))
    assert person is not None and person.display_name == "Alice Analyst"
    assert (person.issuer, person.subject, person.roles) == (setup.op.issuer, "alice", "analyst")


def test_the_audit_page_filters_by_person_and_shows_their_name(setup: Setup) -> None:
    alice = "person:" + setup.person("alice")
    setup.sign_in("alice")  # an entry of hers at least
    oscar = session_cookie(setup.sign_in("oscar"))
    page = httpx.get(
        setup.url + "/ui/audit",
        params={"actor": alice, "limit": "500"},
        headers={"cookie": f"{COOKIE}={oscar}"},
        timeout=30,
    )
    assert page.status_code == 200, page.text
    assert f'<option value="{alice}" selected>Alice Analyst (analyst)</option>' in page.text
    shown = {int(s) for s in __import__("re").findall(r'<tr data-seq="(\d+)">', page.text)}
    held = {e.seq for e in setup.entries() if e.actor == alice}
    assert shown and shown <= held  # only hers (newer ones came after the page)
    assert 'Alice Analyst</a><br><span class="muted">' + alice in page.text
    oscar_id = "person:" + setup.person("oscar")
    reads = [e for e in setup.entries() if e.act == "data.read" and e.actor == oscar_id]
    assert any('"what":"audit"' in e.body for e in reads)


def test_a_person_without_a_role_here_is_refused(setup: Setup) -> None:
    answer = setup.sign_in("nobody")
    assert answer.status_code == 403
    assert "has no role on this node" in answer.text and "set-cookie" not in {
        k.lower() for k in answer.headers if COOKIE in answer.headers.get(k, "")
    }
    assert session_cookie(answer) is None


def test_the_redirect_back_needs_the_browser_that_started_it(setup: Setup) -> None:
    start = httpx.get(setup.url + "/ui/oidc/login", follow_redirects=False, timeout=30)
    state = _cookie(start, STATE_COOKIE).value
    assert parse_qs(urlsplit(start.headers["location"]).query)["code_challenge_method"] == ["S256"]
    back = setup.op.sign_in(start.headers["location"], "alice")
    # Another browser (no state cookie, or another one) is refused: no login CSRF.
    for cookie in ("", f"{STATE_COOKIE}=someone-else"):
        refused = httpx.get(back, headers={"cookie": cookie}, follow_redirects=False, timeout=30)
        assert refused.status_code == 400 and "not started in this browser" in refused.text
        assert session_cookie(refused) is None
    good = httpx.get(back, headers={"cookie": f"{STATE_COOKIE}={state}"}, timeout=30)
    assert session_cookie(good) is not None or good.status_code == 200
    # The same redirect again: the sign-in was taken once.
    again = httpx.get(
        back, headers={"cookie": f"{STATE_COOKIE}={state}"}, follow_redirects=False, timeout=30
    )
    assert again.status_code == 400 and "used already" in again.text


def test_a_provider_refusal_is_shown_not_a_session(setup: Setup) -> None:
    start = httpx.get(setup.url + "/ui/oidc/login", follow_redirects=False, timeout=30)
    state = _cookie(start, STATE_COOKIE).value
    back = setup.op.sign_in(start.headers["location"], "alice", consent=False)
    answer = httpx.get(back, headers={"cookie": f"{STATE_COOKIE}={state}"}, timeout=30)
    assert answer.status_code == 401 and "the provider did not sign you in" in answer.text
    assert session_cookie(answer) is None


def test_signing_out_ends_the_session_on_the_server(setup: Setup) -> None:
    session = session_cookie(setup.sign_in("alice"))
    cookie = {"cookie": f"{COOKIE}={session}"}
    page = httpx.get(setup.url + "/ui/situation", headers=cookie, timeout=30)
    assert 'action="/ui/logout"' in page.text
    cross_site = httpx.post(
        setup.url + "/ui/logout", headers={**cookie, "origin": "https://elsewhere.example"}
    )
    assert cross_site.status_code == 403  # a form of another site cannot sign anyone out
    out = httpx.post(setup.url + "/ui/logout", headers={**cookie, "origin": setup.url})
    assert out.status_code == 303 and out.headers["location"] == "/ui/login"
    assert f'{COOKIE}=""' in out.headers["set-cookie"] or "Max-Age=0" in out.headers["set-cookie"]
    after = httpx.get(setup.url + "/ui/situation", headers=cookie, follow_redirects=False)
    assert after.status_code == 303 and after.headers["location"] == "/ui/login"
    alice = "person:" + setup.person("alice")
    assert any(e.act == "session.ended" and e.actor == alice for e in setup.entries())


# --- the API -------------------------------------------------------------------------


def test_an_access_token_of_the_provider_is_a_bearer_token_for_its_person(setup: Setup) -> None:
    token = setup.op.access_token("alice", setup.url)
    answer = httpx.get(
        setup.url + "/v1/local/packets", headers={"authorization": f"Bearer {token}"}, timeout=30
    )
    assert answer.status_code == 200, answer.text
    alice = "person:" + setup.person("alice")
    last = setup.entries()[-1]
    assert (last.act, last.actor) == ("data.read", alice) and '"what":"packets"' in last.body
    # Alice is an analyst: submitting records is not hers to do.
    refused = httpx.post(
        setup.url + "/v1/local/records",
        json={"schema": "conflict-event/1", "records": []},
        headers={"authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert refused.status_code == 403 and "Alice Analyst" in refused.json()["detail"]


def test_a_machine_clients_token_carries_the_role_of_its_claims(setup: Setup) -> None:
    token = setup.op.client_credentials_token(setup.url, client_id="clearinghouse-dpa")
    headers = {"authorization": f"Bearer {token}"}
    read = httpx.get(setup.url + "/v1/local/packets", headers=headers, timeout=30)
    assert read.status_code == 403 and "submitter" in read.json()["detail"]


@pytest.mark.parametrize("kind", ["expired", "other audience", "foreign signature", "garbled"])
def test_tokens_the_node_must_not_take_are_refused(setup: Setup, kind: str) -> None:
    if kind == "expired":
        token = setup.op.expired_access_token(setup.url, "alice")
    elif kind == "other audience":
        token = setup.op.access_token("alice", OTHER_AUDIENCE)
    elif kind == "foreign signature":
        token = resigned_with_foreign_key(setup.op.access_token("alice", setup.url))
    else:
        good = setup.op.access_token("alice", setup.url)
        token = good[:-8] + ("A" * 8 if not good.endswith("A" * 8) else "B" * 8)
    answer = httpx.get(
        setup.url + "/v1/local/packets", headers={"authorization": f"Bearer {token}"}, timeout=30
    )
    assert answer.status_code == 401, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["detail"]


def test_a_node_whose_provider_is_down_says_so(tmp_path: Path) -> None:
    fed = built_federation(tmp_path / "fed", ("mission", "dpa"))
    handle = fed.nodes["dpa"]
    secret = tmp_path / "secret"
    secret.write_text("s")
    os.chmod(secret, 0o600)
    oidc = {"issuer": "http://127.0.0.1:9", "client_id": "x", "client_secret_file": secret}
    with served_node(handle, oidc=oidc):
        start = httpx.get(handle.url + "/ui/oidc/login", follow_redirects=False, timeout=30)
        assert start.status_code == 503 and "cannot be read" in start.text
        jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"
        answer = httpx.get(
            handle.url + "/v1/local/packets", headers={"authorization": f"Bearer {jwt}"}
        )
        assert answer.status_code == 503 and "identity provider" in answer.json()["detail"]
