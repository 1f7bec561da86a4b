"""Work done for a caller nobody authenticated is bounded: real nodes on loopback.

A request is judged from its headers before its body is read: an unsigned or badly
signed peer request is answered 401 and a body over the limit for its caller 413
while the client is still uploading (raw sockets declare 30 MB and send 1 KiB: an
answer proves the node did not wait for the rest). A sign-in form is read up to
``max_unauthenticated_body_bytes`` and parsed off the event loop, so a 30 MB one costs
neither memory nor the liveness of ``/healthz``. Failed requests are rate-limited per
client address (429 with ``Retry-After``), ``X-Forwarded-For`` believed only from a
trusted proxy.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from prometheus_client.parser import text_string_to_metric_families

from clearinghouse.node.api.rate_limit import RateLimiter
from clearinghouse.node.localfed import LocalFederation
from clearinghouse.protocol.keys import generate_private_key
from tests.nodes import ServedNode, built_federation, served_node
from tests.signer import SIGNATURE_HEADERS, participant_key, send, signed_request

MB = 1024 * 1024
HUGE = 30 * MB
FORM = "application/x-www-form-urlencoded"
#: a node answering within this while the client still uploads has not waited for the body
PROMPT_S = 2.0


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory) -> LocalFederation:
    return built_federation(tmp_path_factory.mktemp("unauthenticated"), ("mission", "unodc", "dpa"))


@pytest.fixture(scope="module")
def dpa(fed: LocalFederation) -> Iterator[ServedNode]:
    """dpa with the default limits, served directly (no proxy)."""
    with served_node(fed.nodes["dpa"]) as served:
        yield served


@pytest.fixture(scope="module")
def behind_proxy(fed: LocalFederation) -> Iterator[ServedNode]:
    """unodc configured to sit behind a reverse proxy on 127.0.0.1."""
    with served_node(fed.nodes["unodc"], trusted_proxies=["127.0.0.1"]) as served:
        yield served


@pytest.fixture
def mission_key(fed: LocalFederation) -> Ed25519PrivateKey:
    return participant_key(fed.root, "mission")


@pytest.fixture
def stopped_limiter(dpa: ServedNode) -> Iterator[RateLimiter]:
    """dpa's address limiter swapped for one with a stopped clock: burst 5, then 0.5/s,
    exact whatever the machine's speed (the code is the node's own)."""
    configured = dpa.app.state.address_limiter
    dpa.app.state.address_limiter = RateLimiter(0.5, 5, clock=lambda: 1000.0)
    try:
        yield dpa.app.state.address_limiter
    finally:
        dpa.app.state.address_limiter = configured


# -- helpers ----------------------------------------------------------------------------


def _rss_mb() -> float:
    """This process's resident memory (the node runs in it, in a thread)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float  # from the end of what was sent to the answer

    def problem(self) -> dict[str, Any]:
        assert self.headers["content-type"] == "application/problem+json", self.headers
        document: dict[str, Any] = json.loads(self.body)
        return document


def _declare_and_stall(
    port: int, method: str, path: str, headers: dict[str, str], declared: int, sent: bytes
) -> Answer:
    """Declare ``declared`` body bytes, send only ``sent``, and read the answer: it can only
    come within the socket's timeout if the node answered without the rest of the body."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        lines.append(f"Content-Length: {declared}")
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + sent)
        started = time.monotonic()
        response = http.client.HTTPResponse(sock)
        response.begin()
        body = response.read()
        return Answer(
            response.status,
            {k.lower(): v for k, v in response.getheaders()},
            body,
            time.monotonic() - started,
        )


def _signed_headers(
    url: str, key: Ed25519PrivateKey, *, created: datetime | None = None
) -> dict[str, str]:
    """The headers of a POST /v1/packets signed by ``key`` over a small body."""
    body = b'{"views": []}'
    request = signed_request("POST", url + "/v1/packets", body, key=key, created=created)
    return {name: request.headers[name] for name in ("content-type", *SIGNATURE_HEADERS)}


def _metric(node: ServedNode, name: str, **labels: str) -> float:
    page = httpx.get(node.handle.url + "/metrics", timeout=30).text
    for family in text_string_to_metric_families(page):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return 0.0


def _bogus(node: ServedNode, **headers: str) -> httpx.Response:
    """A POST /v1/packets signed by a key no participant holds."""
    signed = _signed_headers(node.handle.url, generate_private_key())
    return httpx.post(
        node.handle.url + "/v1/packets",
        content=b'{"views": []}',
        headers={**signed, **headers},
        timeout=30,
    )


# -- the sign-in form -------------------------------------------------------------------


def test_a_30_mb_sign_in_form_is_refused_413_before_it_is_read(dpa: ServedNode) -> None:
    before = _rss_mb()
    answer = _declare_and_stall(
        dpa.port, "POST", "/ui/login", {"Content-Type": FORM}, HUGE, b"token=" + b"a" * 1024
    )
    assert answer.status == 413, answer.body
    problem = answer.problem()
    assert problem["type"] == "urn:clearinghouse:problem:payload-too-large"
    assert f"{HUGE} bytes exceeds the limit of 8192" in problem["detail"]
    assert answer.seconds < PROMPT_S
    assert _rss_mb() - before < 16


def test_a_30_mb_streamed_sign_in_form_is_cut_off_and_healthz_stays_responsive(
    dpa: ServedNode,
) -> None:
    """No Content-Length: the node reads 8 KiB, answers 413 and takes in the rest
    without keeping it; /healthz answers promptly all the while."""
    before = _rss_mb()
    chunk = b"token=" + b"a" * (64 * 1024 - 6)
    outcome: dict[str, Any] = {}

    def upload() -> None:
        with socket.create_connection(("127.0.0.1", dpa.port), timeout=30) as sock:
            head = (
                f"POST /ui/login HTTP/1.1\r\nHost: 127.0.0.1:{dpa.port}\r\n"
                f"Content-Type: {FORM}\r\nTransfer-Encoding: chunked\r\n\r\n"
            )
            sock.sendall(head.encode())
            sent = 0
            try:
                while sent < HUGE:
                    sock.sendall(b"%x\r\n%b\r\n" % (len(chunk), chunk))
                    sent += len(chunk)
                sock.sendall(b"0\r\n\r\n")
            except OSError as exc:  # the node may close on us once it answered
                outcome["error"] = exc
            outcome["sent"] = sent
            response = http.client.HTTPResponse(sock)
            response.begin()
            outcome["status"], outcome["body"] = response.status, response.read()

    uploader = threading.Thread(target=upload)
    uploader.start()
    latencies = []
    with httpx.Client(base_url=dpa.handle.url, timeout=30) as client:
        while uploader.is_alive() or not latencies:
            started = time.monotonic()
            assert client.get("/healthz").status_code == 200
            latencies.append(time.monotonic() - started)
    uploader.join()

    assert outcome["status"] == 413, outcome
    assert "exceeds the limit of 8192" in json.loads(outcome["body"])["detail"]
    assert max(latencies) < 1.0, latencies
    assert _rss_mb() - before < 16


def test_signing_in_still_works(dpa: ServedNode) -> None:
    url, origin = dpa.handle.url + "/ui/login", {"origin": dpa.handle.url}
    token = dpa.handle.tokens["analyst"]
    good = httpx.post(url, data={"token": token}, headers=origin, timeout=30)
    assert good.status_code == 303 and good.headers["location"] == "/ui/situation"
    bad = httpx.post(url, data={"token": "not-a-token"}, headers=origin, timeout=30)
    assert bad.status_code == 401 and "unknown token" in bad.text


# -- peer requests: the headers first -----------------------------------------------------


def test_an_unsigned_30_mb_batch_is_refused_401_before_it_is_read(dpa: ServedNode) -> None:
    before = _rss_mb()
    answer = _declare_and_stall(
        dpa.port, "POST", "/v1/packets", {"Content-Type": "application/json"}, HUGE, b"{" * 1024
    )
    assert answer.status == 401, answer.body
    assert answer.problem()["type"] == "urn:clearinghouse:problem:signature-missing"
    assert answer.seconds < PROMPT_S
    assert _rss_mb() - before < 16


@pytest.mark.parametrize(
    ("signer", "created", "code", "words"),
    [
        ("stranger", None, "unknown-keyid", "not a key of any participant"),
        ("mission", timedelta(hours=-1), "stale-signature", "in the past"),
        ("mission", timedelta(hours=1), "stale-signature", "in the future"),
    ],
)
def test_a_30_mb_batch_signed_by_an_unknown_key_or_out_of_time_is_refused_unread(
    dpa: ServedNode,
    mission_key: Ed25519PrivateKey,
    signer: str,
    created: timedelta | None,
    code: str,
    words: str,
) -> None:
    key = mission_key if signer == "mission" else generate_private_key()
    when = datetime.now(UTC) + created if created is not None else None
    headers = _signed_headers(dpa.handle.url, key, created=when)
    answer = _declare_and_stall(dpa.port, "POST", "/v1/packets", headers, HUGE, b"{" * 1024)
    assert answer.status == 401, answer.body
    problem = answer.problem()
    assert problem["type"] == f"urn:clearinghouse:problem:{code}"
    assert words in problem["detail"]
    assert answer.seconds < PROMPT_S


def test_a_signature_that_does_not_verify_is_refused_unread(
    dpa: ServedNode, mission_key: Ed25519PrivateKey
) -> None:
    """mission's keyid and a fresh created, but a signature by another key: the
    signature is checked over the headers (they cover Content-Digest), before any body."""
    headers = _signed_headers(dpa.handle.url, mission_key)
    forged = _signed_headers(dpa.handle.url, generate_private_key())
    headers["signature"] = forged["signature"]
    answer = _declare_and_stall(dpa.port, "POST", "/v1/packets", headers, HUGE, b"{" * 1024)
    assert answer.status == 401, answer.body
    assert answer.problem()["type"] == "urn:clearinghouse:problem:request-signature-invalid"
    assert answer.seconds < PROMPT_S


def test_a_peer_declaring_more_than_max_body_bytes_is_refused_413_unread(
    dpa: ServedNode, mission_key: Ed25519PrivateKey
) -> None:
    declared = dpa.app.state.node.settings.max_body_bytes + 1
    headers = _signed_headers(dpa.handle.url, mission_key)
    answer = _declare_and_stall(dpa.port, "POST", "/v1/packets", headers, declared, b"{" * 1024)
    assert answer.status == 413, answer.body
    assert f"body of {declared} bytes exceeds the limit" in answer.problem()["detail"]
    assert answer.seconds < PROMPT_S


# -- bearer-token routes ------------------------------------------------------------------


def test_a_30_mb_body_with_an_unknown_token_is_refused_unread(dpa: ServedNode) -> None:
    headers = {"Content-Type": "application/json", "Authorization": "Bearer not-a-token"}
    records = _declare_and_stall(dpa.port, "POST", "/v1/local/records", headers, HUGE, b"{")
    assert records.status == 401, records.body
    assert "not known to this node" in records.problem()["detail"]
    relay = _declare_and_stall(dpa.port, "POST", "/v1/local/packets/x/relay", headers, HUGE, b"{")
    assert relay.status == 401, relay.body
    assert "not known to this node" in relay.problem()["detail"]
    assert max(records.seconds, relay.seconds) < PROMPT_S


# -- the per-address rate limit -------------------------------------------------------------


def test_the_configured_address_limit_is_the_settings(dpa: ServedNode) -> None:
    limiter = dpa.app.state.address_limiter
    settings = dpa.app.state.node.settings
    assert (limiter.rate, limiter.burst) == (20.0, 100)
    assert (limiter.rate, limiter.burst) == (
        settings.address_rate_limit_per_s,
        settings.address_rate_burst,
    )


def test_a_flood_of_bogus_signatures_gets_429_with_retry_after(
    dpa: ServedNode, stopped_limiter: RateLimiter, mission_key: Ed25519PrivateKey
) -> None:
    counted = _metric(dpa, "clearinghouse_address_rate_limited_total", kind="failed-auth")
    answers = [_bogus(dpa) for _ in range(7)]
    assert [a.status_code for a in answers] == [401] * 5 + [429] * 2
    refused = answers[-1]
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.headers["retry-after"] == "2"  # one token at 0.5/s
    problem = refused.json()
    assert problem["type"] == "urn:clearinghouse:problem:rate-limited"
    assert "127.0.0.1" in problem["detail"] and "not a key of any participant" in problem["detail"]
    after = _metric(dpa, "clearinghouse_address_rate_limited_total", kind="failed-auth")
    assert after - counted == 2

    # a bad bearer token from the same address: 429 too
    bad_token = httpx.get(
        dpa.handle.url + "/v1/local/stats", headers={"authorization": "Bearer x"}, timeout=30
    )
    assert bad_token.status_code == 429
    # sign-in attempts are unauthenticated work: refused as well
    login = httpx.post(dpa.handle.url + "/ui/login", data={"token": "x"}, timeout=30)
    assert login.status_code == 429 and login.headers["retry-after"] == "2"
    assert _metric(dpa, "clearinghouse_address_rate_limited_total", kind="login") >= 1

    # valid credentials from the same address take no token and pass
    signed = signed_request(
        "GET", dpa.handle.url + "/v1/packets?since=0", key=mission_key, content_type=None
    )
    assert send(signed).status_code == 200
    token = {"authorization": f"Bearer {dpa.handle.tokens['analyst']}"}
    assert (
        httpx.get(dpa.handle.url + "/v1/local/stats", headers=token, timeout=30).status_code == 200
    )


def test_x_forwarded_for_is_ignored_from_an_untrusted_client(
    dpa: ServedNode, stopped_limiter: RateLimiter
) -> None:
    """dpa trusts no proxy: varying X-Forwarded-For does not buy a fresh bucket."""
    statuses = [_bogus(dpa, **{"x-forwarded-for": f"198.51.100.{i}"}).status_code for i in range(6)]
    assert statuses == [401] * 5 + [429]


def test_x_forwarded_for_is_honoured_from_a_trusted_proxy(behind_proxy: ServedNode) -> None:
    configured = behind_proxy.app.state.address_limiter
    behind_proxy.app.state.address_limiter = RateLimiter(0.5, 2, clock=lambda: 1000.0)
    try:
        client_a = {"x-forwarded-for": "198.51.100.7"}
        assert [_bogus(behind_proxy, **client_a).status_code for _ in range(3)] == [401, 401, 429]
        refused = _bogus(behind_proxy, **client_a)
        assert "198.51.100.7" in refused.json()["detail"]
        # another client behind the proxy has its own bucket
        assert _bogus(behind_proxy, **{"x-forwarded-for": "198.51.100.8"}).status_code == 401
        # client A cannot escape by writing an address of its own to the left
        forged = {"x-forwarded-for": "203.0.113.9, 198.51.100.7"}
        assert _bogus(behind_proxy, **forged).status_code == 429
    finally:
        behind_proxy.app.state.address_limiter = configured
