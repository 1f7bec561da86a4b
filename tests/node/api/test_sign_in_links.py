"""Sign-in links (``POST /v1/local/sign-in-links``, ``GET /ui/sign-in/{code}``) on one node
served for real on loopback, on a clock the test moves.

An admin mints a link for the analyst token, by name; a browser-less client following
it gets a session cookie and the situation page, once; a second use, an unknown code
and an expired link get the sign-in page saying so, never a cookie. The admin API
refuses other roles (401, 403), an unknown token name (404) and a token of a role
without pages (422), each as problem+json.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
import pytest

from clearinghouse.node.app import create_app
from clearinghouse.node.clock import OffsetClock
from clearinghouse.node.context import NodeContext
from clearinghouse.node.localfed import LocalFederation, NodeHandle
from clearinghouse.node.settings import load_settings
from tests.node.conftest import LogLines
from tests.nodes import built_federation, served_node
from tests.ui_sessions import COOKIE, session_cookie

LINKS = "/v1/local/sign-in-links"
PROBLEM = "application/problem+json"


@dataclass
class Node:
    handle: NodeHandle
    ctx: NodeContext
    clock: OffsetClock

    def mint(self, name: str = "analyst", *, by: str = "admin") -> httpx.Response:
        with self.handle.client(by) as client:
            return client.post(LINKS, json={"name": name})

    def follow(self, path: str) -> httpx.Response:
        """``path`` as a fresh browser-less client gets it (no cookie, no redirect followed)."""
        return httpx.get(self.handle.url + path, follow_redirects=False, timeout=30)


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory) -> LocalFederation:
    return built_federation(tmp_path_factory.mktemp("sign-in-links"), ("mission", "dpa"))


@pytest.fixture(scope="module")
def node(fed: LocalFederation) -> Iterator[Node]:
    handle = fed.nodes["mission"]
    clock = OffsetClock(timedelta(0))
    app = create_app(load_settings(handle.config, run_workers=False), clock=clock)
    with served_node(handle, app) as served:
        yield Node(handle, served.context, clock)


@pytest.fixture
def later(node: Node) -> Iterator[OffsetClock]:
    """The node's clock, for the test to move; set back afterwards."""
    yield node.clock
    node.clock.offset = timedelta(0)


def test_a_link_signs_in_once_and_lands_on_the_situation_page(node: Node) -> None:
    minted = node.mint()
    assert minted.status_code == 201, minted.text
    link = minted.json()
    assert link["token"] == "analyst" and link["role"] == "analyst"
    assert link["path"].startswith("/ui/sign-in/") and link["url"] == node.handle.url + link["path"]
    expires = datetime.fromisoformat(link["expires_at"])
    assert timedelta(minutes=9) < expires - node.ctx.clock.now() <= timedelta(minutes=10)
    # Only the code's SHA-256 is held, beside the name of the token it signs in as.
    code = link["path"].removeprefix("/ui/sign-in/")
    assert hashlib.sha256(code.encode()).hexdigest() in node.ctx.sign_in_links
    assert code not in str(node.ctx.sign_in_links)

    first = node.follow(link["path"])
    assert first.status_code == 303 and first.headers["location"] == "/ui/situation"
    session = session_cookie(first)
    assert session and node.handle.tokens["analyst"] not in first.headers["set-cookie"]
    set_cookie = first.headers["set-cookie"].lower()
    assert "httponly" in set_cookie and "samesite=strict" in set_cookie and "secure" in set_cookie
    assert first.headers["cache-control"] == "no-store"
    page = httpx.get(
        node.handle.url + "/ui/situation",
        headers={"cookie": f"{COOKIE}={session}"},
        follow_redirects=False,
        timeout=30,
    )
    assert page.status_code == 200 and "<h2>Sign in</h2>" not in page.text
    assert "Signed in as analyst (token)" in page.text

    again = node.follow(link["path"])
    assert again.status_code == 404
    assert "used already" in again.text and "<form" in again.text  # the sign-in page
    assert "set-cookie" not in again.headers
    assert hashlib.sha256(code.encode()).hexdigest() not in node.ctx.sign_in_links


def test_an_expired_link_is_refused_and_forgotten(node: Node, later: OffsetClock) -> None:
    in_time, too_late = node.mint().json(), node.mint().json()
    later.offset = timedelta(minutes=9, seconds=50)
    assert node.follow(in_time["path"]).status_code == 303
    later.offset = timedelta(minutes=10, seconds=1)
    refused = node.follow(too_late["path"])
    assert refused.status_code == 404 and "expired" in refused.text
    assert "set-cookie" not in refused.headers
    assert not node.ctx.sign_in_links  # expired links are dropped, used ones too


def test_an_unknown_code_gets_the_sign_in_page(node: Node) -> None:
    for path in ("/ui/sign-in/nothing-like-a-code", "/ui/sign-in/" + "A" * 43):
        refused = node.follow(path)
        assert refused.status_code == 404 and "unknown" in refused.text
        assert "set-cookie" not in refused.headers


@pytest.mark.parametrize("name", ["auditor", "admin"])
def test_a_link_may_sign_in_with_any_token_that_reads_the_pages(node: Node, name: str) -> None:
    link = node.mint(name).json()
    session = session_cookie(node.follow(link["path"]))
    page = httpx.get(
        node.handle.url + "/ui/audit", headers={"cookie": f"{COOKIE}={session}"}, timeout=30
    )
    assert page.status_code == 200 and f"Signed in as {name} (token)" in page.text


@pytest.mark.parametrize("caller", ["submitter", "analyst", "auditor"])
def test_only_an_admin_mints_links(node: Node, caller: str) -> None:
    refused = node.mint(by=caller)
    assert refused.status_code == 403 and refused.headers["content-type"] == PROBLEM
    anonymous = httpx.post(node.handle.url + LINKS, json={"name": "analyst"})
    assert anonymous.status_code == 401 and anonymous.headers["content-type"] == PROBLEM


def test_an_unknown_token_name_is_not_found(node: Node) -> None:
    refused = node.mint("visitor")
    assert refused.status_code == 404 and refused.headers["content-type"] == PROBLEM
    assert "no token named 'visitor'" in refused.json()["detail"]


def test_a_token_whose_role_has_no_pages_is_refused(node: Node) -> None:
    refused = node.mint("submitter")
    assert refused.status_code == 422 and refused.headers["content-type"] == PROBLEM
    assert "role 'submitter'" in refused.json()["detail"]


@pytest.mark.parametrize(
    ("content", "content_type", "status"),
    [
        (b"{}", "application/json", 400),
        (b'{"name": "analyst", "token": "x"}', "application/json", 400),
        (b'{"name": "analyst", "role": "admin"}', "application/json", 400),
        (b"[]", "application/json", 400),
        (b"not json", "application/json", 400),
        (b'{"name": "analyst"}', "text/plain", 415),
    ],
)
def test_a_malformed_request_is_a_problem(
    node: Node, content: bytes, content_type: str, status: int
) -> None:
    with node.handle.client("admin") as client:
        refused = client.post(LINKS, content=content, headers={"content-type": content_type})
    assert refused.status_code == status, refused.text
    assert refused.headers["content-type"] == PROBLEM and refused.json()["detail"]


def test_the_log_names_tokens_never_a_secret(node: Node, log_lines: LogLines) -> None:
    link = node.mint().json()
    node.follow(link["path"])
    lines = [line for line in log_lines() if line["logger"] == "clearinghouse.sign_in"]
    assert [line["message"].split(" ")[:3] for line in lines] == [
        ["sign-in", "link", "for"],
        ["sign-in", "link", "used:"],
    ]
    code = link["path"].removeprefix("/ui/sign-in/")
    text = str(lines)
    assert node.handle.tokens["analyst"] not in text and code not in text
