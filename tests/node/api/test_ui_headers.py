"""Every ``/ui`` answer carries a Content-Security-Policy that loads nothing from
elsewhere and nothing inline, and ``X-Content-Type-Options: nosniff``: each route of the
app under ``/ui`` (taken from ``app.routes``, so a new page is checked without touching
this test), signed in or not, and the error answers on ``/ui`` paths. One mission node
served on loopback in this process (no workers), holding a few results."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from clearinghouse.node.api.ui_headers import PAGE_POLICY, SCRIPTED_PAGE_POLICY
from clearinghouse.node.localfed import LocalFederation
from tests.node._situation_support import load_mixed_situation
from tests.nodes import built_federation, served_node
from tests.ui_sessions import Sessions, signed_in_headers

#: Each directive a /ui policy must carry, with the one value it must have.
REQUIRED = {
    "default-src": ["'none'"],
    "object-src": ["'none'"],
    "base-uri": ["'none'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}
ROLES = (None, "analyst", "auditor")


@dataclass
class Node:
    fed: LocalFederation
    client: httpx.Client
    ui_routes: list[APIRoute]
    result_jti: str
    sessions: Sessions = field(init=False)

    def __post_init__(self) -> None:
        self.sessions = Sessions(str(self.client.base_url))

    def send(
        self, method: str, path: str, role: str | None = None, **options: Any
    ) -> httpx.Response:
        """``method path`` as a browser signed in as ``role`` sends it (with the Origin a
        browser puts on a form post, unless ``options`` give headers of their own)."""
        token = self.fed.nodes["mission"].tokens[role] if role else None
        if path == "/ui/logout" and token:  # a session of its own: signing out ends it
            headers = signed_in_headers(str(self.client.base_url), token)
        else:
            headers = self.sessions.headers(token) if token else {}
        if method == "POST":
            headers["origin"] = str(self.client.base_url).rstrip("/")
        headers.update(options.pop("headers", {}))
        return self.client.request(method, path, headers=headers, follow_redirects=False, **options)


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    fed = built_federation(tmp_path_factory.mktemp("ui-headers"), ("mission", "unodc", "dpa"))
    with (
        served_node(fed.nodes["mission"]) as served,
        httpx.Client(base_url=served.url, timeout=30) as client,
    ):
        load_mixed_situation(fed, served.context)
        routes = [r for r in api_routes(served.app.routes) if r.path.startswith("/ui")]
        probe = Node(fed, client, routes, "")
        situation = probe.send("GET", "/ui/situation", "analyst").text
        jti = re.search(r'href="/ui/results/([^"]+)"', situation)
        assert jti, "the situation links no result"
        yield Node(fed, client, routes, jti.group(1))


def api_routes(routes: Sequence[BaseRoute]) -> Iterator[APIRoute]:
    """The app's routes, also those of the routers it includes: FastAPI keeps an included
    router as one entry (``original_router``, included here without a further prefix)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from api_routes(included.routes)


def policy(response: httpx.Response) -> dict[str, list[str]]:
    """The response's Content-Security-Policy, one list of sources per directive."""
    header = response.headers.get("content-security-policy")
    assert header, f"{response.request.method} {response.request.url}: no policy"
    parsed: dict[str, list[str]] = {}
    for directive in filter(None, (d.strip() for d in header.split(";"))):
        name, *sources = directive.split()
        assert name not in parsed, f"{name} given twice in {header!r}"
        parsed[name] = sources
    return parsed


def assert_secured(response: httpx.Response) -> None:
    where = f"{response.request.method} {response.request.url} ({response.status_code})"
    assert response.headers.get("x-content-type-options") == "nosniff", where
    directives = policy(response)
    for name, sources in REQUIRED.items():
        assert directives.get(name) == sources, f"{where}: {name} {directives.get(name)}"
    for name, sources in directives.items():
        for source in sources:
            assert not re.match(r"(https?:|\*|data:|blob:)", source), f"{where}: {name} {source}"
    for name in ("script-src", "style-src"):
        unsafe = {"'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'"}
        assert not unsafe & set(directives.get(name, [])), f"{where}: {name}"


def concrete(path: str, node: Node) -> str:
    """A route's path with its parameters filled with things the node holds."""
    return path.replace("{jti}", node.result_jti).replace("{seq}", "0").replace("{code}", "none")


def test_the_ui_routes_are_all_found(node: Node) -> None:
    paths = {r.path for r in node.ui_routes}
    assert {
        "/ui/login",
        "/ui/situation",
        "/ui/results/{jti}",
        "/ui/audit",
        "/ui/audit/entries/{seq}",
        "/ui/static/audit-verify.js",
        "/ui/static/ui.css",
    } <= paths
    unknown = {p for p in paths if re.search(r"\{(?!jti\}|seq\}|code\})", p)}
    assert not unknown, f"fill these parameters in concrete(): {unknown}"


@pytest.mark.parametrize("role", ROLES)
def test_every_ui_route_answers_with_the_headers(node: Node, role: str | None) -> None:
    assert node.ui_routes
    for route in node.ui_routes:
        for method in sorted(route.methods - {"HEAD"}):
            data = {"token": node.fed.nodes["mission"].tokens[role]} if role else None
            response = node.send(method, concrete(route.path, node), role, data=data)
            assert response.status_code < 500, response.text
            assert_secured(response)


def test_pages_run_no_script_except_the_audit_pages(node: Node) -> None:
    for path in ("/ui/login", "/ui/situation", f"/ui/results/{node.result_jti}"):
        response = node.send("GET", path, "analyst")
        assert response.status_code == 200
        assert response.headers["content-security-policy"] == PAGE_POLICY
        assert "<script" not in response.text and "style=" not in response.text
        assert "<style" not in response.text
    for path in ("/ui/audit", "/ui/audit/entries/0"):
        response = node.send("GET", path, "auditor")
        assert response.status_code == 200
        assert response.headers["content-security-policy"] == SCRIPTED_PAGE_POLICY
        assert "style=" not in response.text and "<style" not in response.text
        scripts = re.findall(r"<script[^>]*>", response.text)
        assert all('type="application/json"' in s or 'src="/ui/static/' in s for s in scripts)


def test_the_stylesheet_is_served_from_the_node(node: Node) -> None:
    response = node.send("GET", "/ui/static/ui.css")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/css")
    assert "body {" in response.text
    assert_secured(response)


@pytest.mark.parametrize(
    ("method", "path", "role", "options", "status"),
    [
        ("GET", "/ui/no-such-page", None, {}, 404),
        ("GET", "/ui", None, {}, 404),
        ("GET", "/ui/results/no-such-result", "analyst", {}, 404),
        ("GET", "/ui/audit/entries/999999", "auditor", {}, 404),
        ("GET", "/ui/audit", "analyst", {}, 403),
        ("GET", "/ui/audit", "auditor", {"params": {"limit": "0"}}, 422),
        ("GET", "/ui/situation", "analyst", {"params": {"country": "a\x00b"}}, 400),
        ("DELETE", "/ui/situation", "analyst", {}, 405),
        ("POST", "/ui/login", None, {"data": {"token": "not-a-token"}}, 401),
        ("POST", "/ui/login", None, {"data": {"token": "x" * 1_000_000}}, 413),
        ("POST", "/ui/login", None, {"data": {"token": "x"}, "headers": {"origin": "null"}}, 403),
        ("POST", "/ui/logout", None, {"headers": {"origin": "https://evil.example"}}, 403),
    ],
)
def test_error_answers_on_ui_paths_carry_the_headers(
    node: Node,
    method: str,
    path: str,
    role: str | None,
    options: dict[str, object],
    status: int,
) -> None:
    response = node.send(method, path, role, **options)
    assert response.status_code == status, response.text
    assert_secured(response)


def test_signing_in_redirects_with_the_headers(node: Node) -> None:
    try:
        token = node.fed.nodes["mission"].tokens["analyst"]
        response = node.send("POST", "/ui/login", data={"token": token})
        assert (response.status_code, response.headers["location"]) == (303, "/ui/situation")
        assert_secured(response)
    finally:
        node.client.cookies.clear()


def test_other_paths_get_no_ui_policy(node: Node) -> None:
    response = node.send("GET", "/uix")
    assert "content-security-policy" not in response.headers


def test_an_unexpected_error_on_a_page_still_carries_the_headers(
    node: Node, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Starlette answers an unhandled error from its outermost middleware, past the one
    # that adds the /ui headers: the problem handler adds them itself.
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a page that breaks")

    monkeypatch.setattr("clearinghouse.node.api.routes.ui_situation.situation_page", broken)
    response = node.send("GET", "/ui/situation", "analyst")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert "a page that breaks" not in response.text
    assert response.headers["content-security-policy"] == PAGE_POLICY
    assert_secured(response)
