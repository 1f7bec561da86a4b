"""Request ids (``node.api.request_id``) on a real node served on loopback: kept when
well-formed, replaced otherwise, returned in the header and in problem bodies, on the
log lines written while serving (the access log included, with the authenticated
peer), and sent with every outbound call to a peer."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from clearinghouse.node.api.request_id import accepted_request_id
from clearinghouse.node.clock import SystemClock
from clearinghouse.node.localfed import LocalFederation, NodeHandle
from clearinghouse.node.logs import REQUEST_ID
from clearinghouse.node.transport.httpsig import verify_request
from clearinghouse.node.transport.peer_client import PeerClient
from clearinghouse.protocol.keys import public_jwk
from tests.nodes import built_federation, node_app, served_node
from tests.signer import participant_key, send, signed_request

FRESH = re.compile(r"[0-9a-f]{32}")
LogLines = Callable[[], list[dict[str, Any]]]  # the log_lines fixture (tests/node/conftest.py)


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory) -> LocalFederation:
    return built_federation(tmp_path_factory.mktemp("request-id"), ("mission", "dpa"))


def _app(node: NodeHandle, **overrides: Any) -> FastAPI:
    app = node_app(node, **overrides)

    async def boom() -> None:
        raise RuntimeError("an unexpected failure")

    app.add_api_route("/boom", boom)
    return app


@pytest.fixture(scope="module")
def dpa(fed: LocalFederation) -> Iterator[NodeHandle]:
    """The dpa node, served in this process with its access log on."""
    node = fed.nodes["dpa"]
    with served_node(node, _app(node, access_log=True)):
        yield node


def get(node: NodeHandle, path: str, **headers: str) -> httpx.Response:
    return httpx.get(node.url + path, headers=headers, timeout=30)


def access_lines(
    lines: list[dict[str, Any]], request_id: str | None = None
) -> list[dict[str, Any]]:
    """The access lines (of one request): a line is written after its response is sent, so
    the previous test's line may land in this test's capture."""
    return [
        line
        for line in lines
        if line["logger"] == "clearinghouse.access"
        and (request_id is None or line.get("request_id") == request_id)
    ]


def the_access_line(log_lines: LogLines, request_id: str) -> dict[str, Any]:
    """The one access line of a request, waited for: the server writes it after the
    response has gone, so the client may read the log before it is there."""
    deadline = time.monotonic() + 10
    while not (found := access_lines(log_lines(), request_id)) and time.monotonic() < deadline:
        time.sleep(0.01)
    [line] = found
    return line


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        ("abc", True),
        ("A.b_C-9", True),
        ("x" * 128, True),
        ("x" * 129, False),
        ("", False),
        ("has space", False),
        ("a/b", False),
        ('quote"d', False),
        ("ünï", False),
        ("line\nbreak", False),
        (None, False),
    ],
)
def test_which_incoming_ids_are_accepted(value: str | None, accepted: bool) -> None:
    assert accepted_request_id(value) == (value if accepted else None)


def test_a_well_formed_id_is_kept_returned_and_logged(dpa: NodeHandle, log_lines: LogLines) -> None:
    response = get(dpa, "/healthz?probe=1", **{"X-Request-Id": "lb-7f3a.2_x"})
    assert response.status_code == 200
    assert response.headers["x-request-id"] == "lb-7f3a.2_x"
    line = the_access_line(log_lines, "lb-7f3a.2_x")
    assert line["request_id"] == "lb-7f3a.2_x" and line["participant"] == "testnode"
    assert (line["method"], line["path"], line["status"]) == ("GET", "/healthz", 200)
    assert line["message"] == "GET /healthz 200" and line["duration_ms"] >= 0
    assert "peer" not in line  # not a peer's signed request


@pytest.mark.parametrize("bad", ["x" * 129, "has space", "a/b", "ünï"])
def test_a_malformed_id_is_replaced(dpa: NodeHandle, bad: str) -> None:
    header = (b"x-request-id", bad.encode("latin-1"))
    response = httpx.get(dpa.url + "/healthz", headers=[header])
    assert FRESH.fullmatch(response.headers["x-request-id"])


def test_each_request_without_an_id_gets_a_fresh_one(dpa: NodeHandle) -> None:
    ids = {get(dpa, "/healthz").headers["x-request-id"] for _ in range(3)}
    assert len(ids) == 3 and all(FRESH.fullmatch(i) for i in ids)


def test_problem_bodies_carry_the_request_id(dpa: NodeHandle) -> None:
    refused = get(dpa, "/v1/local/stats", **{"x-request-id": "client-1"})
    assert refused.status_code == 401
    assert refused.json()["request_id"] == "client-1" == refused.headers["x-request-id"]
    missing = get(dpa, "/nowhere")
    assert missing.status_code == 404
    assert missing.json()["request_id"] == missing.headers["x-request-id"]


def test_an_unexpected_error_is_answered_and_logged_with_the_id(
    dpa: NodeHandle, log_lines: LogLines
) -> None:
    response = get(dpa, "/boom", **{"x-request-id": "boom-1"})
    assert response.status_code == 500
    assert response.headers["x-request-id"] == "boom-1" == response.json()["request_id"]
    lines = log_lines()
    [error] = [line for line in lines if line["logger"] == "clearinghouse.api"]
    assert error["request_id"] == "boom-1" and error["message"] == "unexpected error on GET /boom"
    assert "RuntimeError: an unexpected failure" in error["exception"]
    access = the_access_line(log_lines, "boom-1")
    assert (access["request_id"], access["status"]) == ("boom-1", 500)


def test_a_peers_request_is_logged_with_the_peer(
    fed: LocalFederation, dpa: NodeHandle, log_lines: LogLines
) -> None:
    request = signed_request(
        "GET",
        dpa.url + "/v1/packets?since=0&limit=5",
        key=participant_key(fed.root, "mission"),
        content_type=None,
        headers={"x-request-id": "from-mission"},
    )
    response = send(request)
    assert response.status_code == 200, response.text
    line = the_access_line(log_lines, "from-mission")
    assert (line["peer"], line["request_id"], line["path"]) == (
        "mission",
        "from-mission",
        "/v1/packets",  # never the query string
    )


def test_the_access_log_is_off_by_default(fed: LocalFederation, log_lines: LogLines) -> None:
    node = fed.nodes["mission"]
    with served_node(node, _app(node)):
        response = get(node, "/healthz")
    assert FRESH.fullmatch(response.headers["x-request-id"])
    assert access_lines(log_lines(), response.headers["x-request-id"]) == []


# -- outbound calls ----------------------------------------------------------------------------


def test_every_call_to_a_peer_carries_a_request_id(tmp_path: Path) -> None:
    built_federation(tmp_path, ("mission", "dpa"))
    key = participant_key(tmp_path, "mission")
    kid = public_jwk(key)["kid"]
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"ok": True})

    async def calls() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
            client = PeerClient(http, key=key, kid=kid, clock=SystemClock())
            await client.call("GET", "http://peer.test/a")
            await client.call("POST", "http://peer.test/b", {"x": 1})
            token = REQUEST_ID.set("serving-req-9")  # as while serving a request
            try:
                await client.call("GET", "http://peer.test/c")
            finally:
                REQUEST_ID.reset(token)

    asyncio.run(calls())
    ids = [r.headers["x-request-id"] for r in seen]
    assert FRESH.fullmatch(ids[0]) and FRESH.fullmatch(ids[1]) and ids[0] != ids[1]
    assert ids[2] == "serving-req-9"
    public = key.public_key()
    for request in seen:  # the header is outside the signature's coverage: still verifies
        verify_request(
            method=request.method,
            url=str(request.url),
            headers=list(request.headers.items()),
            body=request.content,
            resolve_key=lambda _kid: public,
            now=datetime.now(UTC),
            window=timedelta(seconds=60),
        )
