"""The pages' sessions on one node served for real on loopback, on a clock the test moves.

The cookie holds an opaque random id, never the token; the database holds only its
SHA-256; a session ends at sign-out (on the server: the old cookie is worth nothing),
after ``session.idle_s`` unused and after ``session.max_s`` whatever; the token and
sign-out forms are taken only from the node's own pages (Origin).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
from sqlmodel import select

from clearinghouse.node.app import create_app
from clearinghouse.node.clock import OffsetClock
from clearinghouse.node.context import NodeContext
from clearinghouse.node.localfed import NodeHandle
from clearinghouse.node.services.housekeeping import forget_ended_sessions
from clearinghouse.node.settings import load_settings
from clearinghouse.node.storage import auditlog
from clearinghouse.node.storage.access_models import UiSession
from clearinghouse.node.storage.db import transaction
from tests.nodes import built_federation, served_node
from tests.ui_sessions import COOKIE, session_cookie

IDLE = timedelta(minutes=30)
ABSOLUTE = timedelta(hours=8)


@dataclass
class Node:
    handle: NodeHandle
    ctx: NodeContext
    clock: OffsetClock

    def sign_in(self, role: str = "analyst", **headers: str) -> httpx.Response:
        origin = {"origin": self.handle.url} if "origin" not in headers else {}
        return httpx.post(
            self.handle.url + "/ui/login",
            data={"token": self.handle.tokens[role]},
            headers={**origin, **headers},
            timeout=30,
        )

    def page(self, session: str | None, path: str = "/ui/situation") -> httpx.Response:
        cookie = {"cookie": f"{COOKIE}={session}"} if session else {}
        return httpx.get(self.handle.url + path, headers=cookie, follow_redirects=True, timeout=30)

    def acts(self) -> list[tuple[str, str]]:
        with transaction(self.ctx.engine) as session:
            size = auditlog.head(session).size
            return [(e.act, e.actor) for e in auditlog.entries(session, 0, size)]


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    fed = built_federation(tmp_path_factory.mktemp("sessions"), ("mission", "dpa"))
    handle = fed.nodes["dpa"]
    clock = OffsetClock(timedelta(0))
    app = create_app(load_settings(handle.config, run_workers=False), clock=clock)
    with served_node(handle, app) as served:
        yield Node(handle, served.context, clock)


@pytest.fixture
def later(node: Node) -> Iterator[OffsetClock]:
    yield node.clock
    node.clock.offset = timedelta(0)


def test_the_cookie_is_an_opaque_id_the_database_holds_only_hashed(node: Node) -> None:
    answer = node.sign_in()
    assert answer.status_code == 303 and answer.headers["location"] == "/ui/situation"
    session = session_cookie(answer)
    assert session and len(session) >= 43 and node.handle.tokens["analyst"] not in session
    attributes = answer.headers["set-cookie"].lower()
    for attribute in ("secure", "httponly", "samesite=strict", "path=/", "max-age=28800"):
        assert attribute in attributes, attribute
    with transaction(node.ctx.engine) as db:
        rows = db.exec(select(UiSession)).all()
    assert hashlib.sha256(session.encode()).hexdigest() in {r.id_sha256 for r in rows}
    assert all(session not in repr(r) for r in rows)
    assert node.page(session).status_code == 200
    assert ("session.started", "token:analyst") in node.acts()


def test_signing_out_ends_the_session_on_the_server(node: Node) -> None:
    session = session_cookie(node.sign_in())
    page = node.page(session)
    assert 'action="/ui/logout"' in page.text and "Signed in as analyst (token)" in page.text
    out = httpx.post(
        node.handle.url + "/ui/logout",
        headers={"cookie": f"{COOKIE}={session}", "origin": node.handle.url},
        timeout=30,
    )
    assert out.status_code == 303 and out.headers["location"] == "/ui/login"
    assert "max-age=0" in out.headers["set-cookie"].lower()
    again = node.page(session)  # the cookie kept by someone: worth nothing now
    assert again.status_code == 200 and "<h2>Sign in</h2>" in again.text  # the login page
    assert node.acts()[-1] == ("session.ended", "token:analyst")


def test_a_session_ends_when_idle_and_at_its_absolute_end(node: Node, later: OffsetClock) -> None:
    idle = session_cookie(node.sign_in())
    later.offset = IDLE - timedelta(seconds=5)
    assert "Signed in as" in node.page(idle).text  # used: its idle time starts again
    later.offset = 2 * IDLE - timedelta(seconds=10)
    assert "Signed in as" in node.page(idle).text
    later.offset = 3 * IDLE
    assert "<h2>Sign in</h2>" in node.page(idle).text  # unused for half an hour

    later.offset = timedelta(0)
    busy = session_cookie(node.sign_in())
    step = IDLE - timedelta(minutes=1)
    while later.offset + step < ABSOLUTE:
        later.offset += step
        assert "Signed in as" in node.page(busy).text
    later.offset = ABSOLUTE
    assert "<h2>Sign in</h2>" in node.page(busy).text  # used all day, still ends


def test_housekeeping_removes_ended_sessions(node: Node, later: OffsetClock) -> None:
    node.sign_in()
    later.offset = ABSOLUTE + timedelta(seconds=1)
    assert forget_ended_sessions(node.ctx) >= 1
    with transaction(node.ctx.engine) as db:
        assert db.exec(select(UiSession)).all() == []


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "https://elsewhere.example"},  # another site's form
        {"origin": "null"},  # a sandboxed or privacy-redirected form, no Referer
        {"origin": "", "referer": "https://elsewhere.example/page"},
    ],
    ids=["other-origin", "null-origin", "other-referer"],
)
def test_a_cross_site_sign_in_is_refused(node: Node, headers: dict[str, str]) -> None:
    refused = node.sign_in(**headers)
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert (
        "not this node's pages" in refused.json()["detail"]
        or "no Origin" in refused.json()["detail"]
    )
    assert session_cookie(refused) is None


def test_a_sign_in_from_the_nodes_own_page_by_referer_is_taken(node: Node) -> None:
    taken = node.sign_in(origin="", referer=node.handle.url + "/ui/login")
    assert taken.status_code == 303 and session_cookie(taken)


def test_an_old_token_cookie_is_no_session(node: Node) -> None:
    # A browser still holding a cookie from before sessions (the token itself).
    old = httpx.get(
        node.handle.url + "/ui/situation",
        headers={"cookie": f"clearinghouse_token={node.handle.tokens['analyst']}"},
        follow_redirects=False,
        timeout=30,
    )
    assert old.status_code == 303 and old.headers["location"] == "/ui/login"
    token_as_session = node.page(node.handle.tokens["analyst"])
    assert "<h2>Sign in</h2>" in token_as_session.text
