"""Who may call what: every API endpoint, every kind of caller, against the README.

One node served for real on loopback. The callers: no credentials, a bearer token of
each role (submitter, analyst, auditor, admin), a peer's RFC 9421-signed request,
and a request signed by a key no participant holds. A call is *let in* when the
answer is neither 401 nor 403 (it may still be refused for its content: 404, 422);
exactly the cells below are let in, and every refusal is problem+json. Every route
in the OpenAPI document is in the matrix; the browser pages have their own.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from clearinghouse.node.app import create_app
from clearinghouse.node.localfed import LocalFederation, NodeHandle
from clearinghouse.node.settings import load_settings
from clearinghouse.protocol.keys import generate_private_key
from tests.nodes import built_federation, served_node
from tests.signer import participant_key, send, signed_request
from tests.ui_sessions import signed_in_headers

TOKENS = ("submitter", "analyst", "auditor", "admin")
CALLERS = ("none", *TOKENS, "peer", "unknown-peer")
EVERYONE = frozenset(CALLERS)
READERS = frozenset({"analyst", "auditor", "admin"})
AUDIT = frozenset({"auditor", "admin", "peer"})
TRUST = frozenset({"admin", "peer"})
PEER = frozenset({"peer"})
JTI = "0190d1f2-0000-7000-8000-000000000000"

# (method, path as called, body or None, who is let in): the README's API table.
MATRIX: list[tuple[str, str, object, frozenset[str]]] = [
    ("GET", "/v1/schemas", None, EVERYONE),
    ("GET", "/v1/schemas/conflict-event/1", None, EVERYONE),
    ("GET", "/v1/manifest", None, EVERYONE),
    ("GET", "/healthz", None, EVERYONE),
    ("GET", "/readyz", None, EVERYONE),
    ("GET", "/metrics", None, EVERYONE),
    ("POST", "/v1/packets", {"views": []}, PEER),
    ("GET", "/v1/packets?since=0", None, PEER),
    ("POST", "/v1/local/records", {"schema": "conflict-event/1", "records": []},
     frozenset({"submitter", "admin"})),
    # only the analysis pipeline issues results: no caller may submit one (403)
    ("POST", "/v1/local/records", {"schema": "analysis-result/1", "records": [{}]},
     frozenset()),
    ("GET", "/v1/local/packets", None, READERS),
    ("GET", "/v1/local/stats", None, READERS),
    ("GET", "/v1/local/analyzer", None, READERS),
    ("POST", f"/v1/local/packets/{JTI}/relay", {"recipients": ["unodc"]}, frozenset({"admin"})),
    ("POST", "/v1/local/sign-in-links", {"name": "analyst", "token": "x"}, frozenset({"admin"})),
    ("GET", "/v1/situation", None, READERS),
    ("GET", "/v1/audit/checkpoint", None, AUDIT),
    ("GET", "/v1/audit/checkpoints", None, AUDIT),
    ("GET", "/v1/audit/entries?start=0&end=1", None, AUDIT),
    ("GET", "/v1/audit/search", None, AUDIT),
    ("GET", "/v1/audit/proof/inclusion?index=0&size=1", None, AUDIT),
    ("GET", "/v1/audit/proof/consistency?old=1&new=1", None, AUDIT),
    ("GET", "/v1/audit/alerts", None, AUDIT),
    ("GET", "/v1/audit/witnessed", None, AUDIT),
    ("POST", "/v1/audit/cosign", {"cosignatures": []}, PEER),
    ("POST", "/v1/manifest", "held", TRUST),
    ("POST", "/v1/authorisations", {}, TRUST),
]  # fmt: skip

# Pages served to browsers (cookie sessions, not in the OpenAPI document): who gets the
# page; the others are sent to the login page (303) or shown a 403 page.
PAGES: list[tuple[str, frozenset[str]]] = [
    ("/ui/situation", READERS),
    (f"/ui/results/{JTI}", READERS),  # let in, then 404: no such result
    ("/ui/audit", frozenset({"auditor", "admin"})),
    ("/ui/audit/entries/0", frozenset({"auditor", "admin"})),
]


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory) -> LocalFederation:
    return built_federation(tmp_path_factory.mktemp("access"), ("mission", "unodc", "dpa"))


@pytest.fixture(scope="module")
def dpa(fed: LocalFederation) -> Iterator[NodeHandle]:
    with served_node(fed.nodes["dpa"]) as served:
        yield served.handle


def call(
    fed: LocalFederation, node: NodeHandle, caller: str, method: str, path: str, body: object
) -> httpx.Response:
    if body == "held":
        content = fed.manifest_path.read_bytes()  # the manifest in force: nothing changes
    else:
        content = b"" if body is None else json.dumps(body).encode()
    content_type = "application/json" if body is not None else None
    if caller in ("peer", "unknown-peer"):
        key = participant_key(fed.root, "mission") if caller == "peer" else generate_private_key()
        url = node.url + path
        return send(signed_request(method, url, content, key=key, content_type=content_type))
    headers = {"content-type": content_type} if content_type else {}
    if caller in TOKENS:
        headers["authorization"] = f"Bearer {node.tokens[caller]}"
    return send(httpx.Request(method, node.url + path, content=content, headers=headers))


@pytest.mark.parametrize(
    ("method", "path", "body", "allowed"),
    MATRIX,
    ids=[f"{m} {p.split('?')[0]}" for m, p, _, _ in MATRIX],
)
def test_exactly_the_documented_callers_are_let_in(
    fed: LocalFederation,
    dpa: NodeHandle,
    method: str,
    path: str,
    body: object,
    allowed: frozenset[str],
) -> None:
    let_in = set()
    for caller in CALLERS:
        response = call(fed, dpa, caller, method, path, body)
        assert response.status_code < 500, (caller, response.status_code, response.text)
        if response.status_code in (401, 403):
            assert response.headers["content-type"].startswith("application/problem+json")
            assert response.json()["detail"], (caller, response.text)
        else:
            let_in.add(caller)
    assert let_in == allowed


def test_every_route_is_in_the_matrix_or_covered_elsewhere(dpa: NodeHandle) -> None:
    """The OpenAPI document lists every route the app serves to programs."""
    document = create_app(load_settings(dpa.config, run_workers=False)).openapi()
    in_matrix = set()
    for method, path, _, _ in MATRIX:
        bare = path.split("?")[0].replace(JTI, "{jti}").replace("conflict-event/1", "{schema_id}")
        in_matrix.add((method, bare))
    served = {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
    }
    assert len(served) >= len(MATRIX) - 1
    assert served <= in_matrix, f"in no access test: {sorted(served - in_matrix)}"


@pytest.mark.parametrize(("path", "allowed"), PAGES, ids=[p for p, _ in PAGES])
def test_exactly_the_documented_roles_see_each_page(
    dpa: NodeHandle, path: str, allowed: frozenset[str]
) -> None:
    let_in = set()
    for caller in ("none", *TOKENS):
        cookie = signed_in_headers(dpa.url, dpa.tokens[caller]) if caller in TOKENS else {}
        response = httpx.get(dpa.url + path, headers=cookie, follow_redirects=False, timeout=30)
        assert response.status_code < 500, (caller, response.text)
        if response.status_code == 303:
            assert response.headers["location"] == "/ui/login"
        elif response.status_code != 403:
            let_in.add(caller)
    assert let_in == allowed
