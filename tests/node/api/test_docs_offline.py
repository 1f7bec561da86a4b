"""``/docs`` works offline: Swagger UI served by the node itself, nothing from elsewhere.

One node (dpa) served on loopback. Over HTTP: the page and every file it references come
from the node (no absolute URL anywhere in the page or its start-up script), each with
its type, and the page carries a Content-Security-Policy that runs the node's scripts
only. In a real browser (Debian's Chromium): every request the page makes goes to the
node, nothing breaks the policy, and Swagger UI renders the whole document (OpenAPI
3.1), operations and security schemes included.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import ConsoleMessage, Route

from clearinghouse.node.localfed import LocalFederation, NodeHandle
from tests.browser import launched_chromium
from tests.nodes import built_federation, served_node

ABSOLUTE_URL = re.compile(r"(?:https?:)?//[a-z0-9]", re.IGNORECASE)
REFERENCE = re.compile(r'(?:src|href)="([^"]+)"')


@pytest.fixture(scope="module")
def dpa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeHandle]:
    fed: LocalFederation = built_federation(tmp_path_factory.mktemp("docs"), ("mission", "dpa"))
    with served_node(fed.nodes["dpa"]) as served:
        yield served.handle


def test_the_page_and_each_file_it_references_come_from_the_node(dpa: NodeHandle) -> None:
    page = httpx.get(dpa.url + "/docs", timeout=30)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert not ABSOLUTE_URL.search(page.text), page.text
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src 'self';" in policy
    assert "connect-src 'self';" in policy and "frame-ancestors 'none'" in policy
    assert "<script>" not in page.text  # no inline script: the policy would refuse it
    referenced = REFERENCE.findall(page.text)
    assert len(referenced) == 4, referenced  # icon, stylesheet, bundle, start-up script
    types = {}
    for path in referenced:
        assert path.startswith("/docs/"), path
        answer = httpx.get(dpa.url + path, timeout=30)
        assert answer.status_code == 200, path
        assert answer.headers["x-content-type-options"] == "nosniff"
        types[path.rsplit("/", 1)[-1]] = answer.headers["content-type"].split(";")[0]
        if path.endswith("init.js"):
            assert not ABSOLUTE_URL.search(answer.text), answer.text
            assert "validatorUrl: null" in answer.text  # no call to an online validator
    assert types == {
        "favicon.png": "image/png",
        "swagger-ui.css": "text/css",
        "swagger-ui-bundle.js": "text/javascript",
        "init.js": "text/javascript",
    }
    assert httpx.get(dpa.url + "/openapi.json", timeout=30).json()["openapi"].startswith("3.1")


def test_only_the_listed_assets_are_served(dpa: NodeHandle) -> None:
    for name in ("index.html", "..%2F..%2Fcore.py", "swagger-ui.js"):
        answer = httpx.get(f"{dpa.url}/docs/assets/{name}", timeout=30)
        assert answer.status_code == 404, name
        assert answer.headers["content-type"] == "application/problem+json"


def test_the_oauth2_redirect_page_runs_only_its_own_script(dpa: NodeHandle) -> None:
    page = httpx.get(dpa.url + "/docs/oauth2-redirect", timeout=30)
    assert page.status_code == 200
    policy = page.headers["content-security-policy"]
    [allowed] = re.findall(r"script-src ('sha256-[A-Za-z0-9+/=]+');", policy)
    assert "'self'" not in policy.split("script-src", 1)[1].split(";", 1)[0]
    assert allowed and "swaggerUIRedirectOauth2" in page.text


def test_swagger_ui_renders_the_document_offline(dpa: NodeHandle) -> None:
    elsewhere: list[str] = []
    problems: list[str] = []

    def only_the_node(route: Route) -> None:
        url = route.request.url
        if url.startswith(dpa.url + "/") or url.startswith("data:"):
            route.continue_()
        else:  # an air-gapped network: nothing else answers
            elsewhere.append(url)
            route.abort()

    def watch(message: ConsoleMessage) -> None:
        if message.type == "error" or "Content Security Policy" in message.text:
            problems.append(message.text)

    with launched_chromium() as browser:
        context = browser.new_context()
        try:
            context.route("**/*", only_the_node)
            page = context.new_page()
            page.on("console", watch)
            page.goto(dpa.url + "/docs")
            page.wait_for_selector(".opblock", timeout=30_000)
            text = page.inner_text("#swagger-ui")
            operations = page.locator(".opblock").count()
            authorize = page.locator("button.authorize").count()
        finally:
            context.close()
    assert "Unable to render" not in text
    assert operations >= 26, operations  # every operation of the document
    assert "Submit records" in text and "Catch-up feed" in text
    assert authorize == 1  # the security schemes
    assert not elsewhere, elsewhere
    assert not problems, problems
