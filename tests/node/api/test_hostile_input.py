"""Hostile and malformed input against a node's real HTTP API: one table, one row per case.

One node (dpa) is served for real on loopback; the test plays its peers (mission,
unodc) with their real keys and RFC 9421-signed requests, and its local users with
bearer tokens. Each row of :data:`CASES` sends one hostile input and says what must
come back and where the refusal must show:

* the HTTP status and the problem+json ``type`` (``urn:clearinghouse:problem:<code>``);
  for a view refused inside an accepted batch (200), the code of its signed receipt;
* words the ``detail`` (or the receipt's reason) must contain, naming the fault;
* that nothing was stored: no new row in ``packet``, ``outbox``, ``manifest`` or
  ``authorisation``;
* where the refusal is recorded: a counter on ``/metrics``
  (``clearinghouse_requests_refused_total`` by problem code for refused requests,
  ``clearinghouse_rate_limited_total`` by peer), and for refused views also an
  ``inbound_refusal`` row and a ``packet.received`` audit entry listing the view with
  its outcome and code; for manifests and local records the audit act (``manifest.refused``,
  ``record.rejected``) and its counter.

The federation's manifest (serial 5) gives mission two more keys, one revoked and
one expired, so that signatures by such keys can be tried. dpa holds two packets it
issued, for results to name as their input: one queued to its peers (``sent``), one
queued to nobody (``unsent``). The node runs on SQLite, and again on PostgreSQL when
``CLEARINGHOUSE_TEST_POSTGRES_URL`` is set.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import secrets
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import bindparam, text

from clearinghouse.node.api.peer_quota import PeerQuota
from clearinghouse.node.api.rate_limit import PeerRateLimiter, RateLimiter
from clearinghouse.node.keyfiles import read_pseudonym_key
from clearinghouse.node.localfed import LocalFederation, NodeHandle
from clearinghouse.node.services.ingest import ingest_records
from clearinghouse.node.services.manifests import sync_from_database
from clearinghouse.node.storage import packets
from clearinghouse.node.storage.db import transaction
from clearinghouse.node.storage.models import UTCDateTime
from clearinghouse.protocol.encoding import b64url_encode
from clearinghouse.protocol.ids import uuid7
from clearinghouse.protocol.keys import generate_private_key, public_jwk
from clearinghouse.protocol.manifest import (
    Manifest,
    ManifestSignature,
    manifest_json,
    parse_manifest,
    sign_manifest,
)
from clearinghouse.protocol.packet import PACKET_TYP, issue_packet, recipient_view
from clearinghouse.protocol.receipts import verify_receipt
from clearinghouse.protocol.results import result_record
from clearinghouse.protocol.sdjwt import CompactSdJwt, conceal_by_claim, make_disclosure, sign_jws
from tests.databases import throwaway_schema
from tests.nodes import built_federation, served_node
from tests.signer import participant_key, send, signed_request
from tests.support import EXAMPLES
from tests.ui_sessions import signed_in_headers

RECORD = json.loads((EXAMPLES / "records" / "conflict-event.json").read_text())
#: Claims of conflict-event/1 that the policy discloses to dpa: a view of just these is fine.
DPA_CLAIMS = {"event_id": "216780", "year": 2016, "country": "Syria", "admin1": "Idlib"}
HELD_SERIAL = 5
MAX_BODY = 200_000
MAX_BATCH = 50
STORED_TABLES = ("packet", "outbox", "manifest", "authorisation")


# -- the node under test ----------------------------------------------------------------


@dataclass
class Env:
    """The served node and what a hostile peer or user would hold."""

    fed: LocalFederation
    node: NodeHandle
    app: FastAPI
    manifest: Manifest
    keys: dict[str, Ed25519PrivateKey]
    revoked: Ed25519PrivateKey
    expired: Ed25519PrivateKey
    notes: dict[str, Any] = field(default_factory=dict)
    #: packets dpa issued, as a result names its input (jti, sha256, schema, issuer)
    issued_here: dict[str, dict[str, str]] = field(default_factory=dict)

    def kid(self, key: Ed25519PrivateKey) -> str:
        return public_jwk(key)["kid"]

    def signed(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        *,
        signer: str = "mission",
        key: Ed25519PrivateKey | None = None,
        kid: str | None = None,
        created: datetime | None = None,
        nonce: str | None = None,
        content_type: str | None = "application/json",
    ) -> httpx.Request:
        key = key or self.keys[signer]
        url = self.node.url + path
        return signed_request(
            method,
            url,
            body,
            key=key,
            kid=kid,
            created=created,
            nonce=nonce,
            content_type=content_type,
        )

    def send(self, request: httpx.Request) -> httpx.Response:
        return send(request)

    def call(self, method: str, path: str, role: str, **kwargs: Any) -> httpx.Response:
        headers = {"authorization": f"Bearer {self.node.tokens[role]}", **kwargs.pop("headers", {})}
        with httpx.Client(base_url=self.node.url, timeout=30) as client:
            return client.request(method, path, headers=headers, **kwargs)

    def post_views(self, *views: object) -> httpx.Response:
        return self.send(self.signed("POST", "/v1/packets", json.dumps({"views": views}).encode()))


def _manifest_with_more_keys(
    fed: LocalFederation, keys: dict[str, Ed25519PrivateKey], revoked: Any, expired: Any
) -> Manifest:
    """The federation's manifest at serial 5, mission also holding a revoked and an
    expired key, signed by the quorum (every participant)."""
    doc = json.loads(fed.manifest_path.read_bytes())
    doc.pop("signatures")
    doc["serial"] = HELD_SERIAL
    now = datetime.now(UTC).replace(microsecond=0)
    mission = next(p for p in doc["participants"] if p["id"] == "mission")
    mission["keys"] += [
        {
            **public_jwk(revoked),
            "not_before": (now - timedelta(days=30)).isoformat(),
            "not_after": (now + timedelta(days=300)).isoformat(),
            "revoked": True,
            "revoked_at": (now - timedelta(days=1)).isoformat(),
        },
        {
            **public_jwk(expired),
            "not_before": "2024-01-01T00:00:00+00:00",
            "not_after": "2024-06-01T00:00:00+00:00",
        },
    ]
    manifest = parse_manifest(doc)
    for signer in fed.participants:
        manifest = sign_manifest(manifest, signer, keys[signer])
    fed.manifest_path.write_bytes(manifest_json(manifest))
    return manifest


@pytest.fixture(scope="module")
def database_url(backend: str) -> Iterator[str | None]:
    """dpa's database: its own SQLite file (None), or a throwaway PostgreSQL schema."""
    if backend == "sqlite":
        yield None
        return
    with throwaway_schema() as (_, url):
        yield url


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, database_url: str | None) -> Iterator[Env]:
    root: Path = tmp_path_factory.mktemp("hostile")
    fed = built_federation(
        root,
        ("mission", "unodc", "dpa"),
        database_urls={"dpa": database_url} if database_url else None,
    )
    keys = {p: participant_key(root, p) for p in fed.participants}
    revoked, expired = generate_private_key(), generate_private_key()
    manifest = _manifest_with_more_keys(fed, keys, revoked, expired)
    with served_node(fed.nodes["dpa"], max_body_bytes=MAX_BODY, max_batch=MAX_BATCH) as served:
        env = Env(fed, served.handle, served.app, manifest, keys, revoked, expired)
        env.issued_here = _issued_by_dpa(env)
        yield env


def _issued_by_dpa(env: Env) -> dict[str, dict[str, str]]:
    """Two packets of dpa's: one ingested (queued to mission and unodc), one stored as
    issued and queued to nobody (as if the policy granted no peer anything of it)."""
    ctx = env.app.state.node
    done = ingest_records(ctx, "market-price/1", [MARKET])
    (sent,) = done.accepted
    assert {"mission", "unodc"} <= set(sent["recipients"]), sent
    # a conflict event dpa issued: its event_id is held, for a revision to collide with
    assert not ingest_records(ctx, "conflict-event/1", [RECORD]).rejected
    unsent = issued(env, MARKET, issuer="dpa", schema="market-price/1")
    with transaction(ctx.engine) as session:
        packets.add_issued(
            session, [unsent], issuer="dpa", kid=env.kid(env.keys["dpa"]), now=datetime.now(UTC)
        )
    market = {"schema": "market-price/1", "issuer": "dpa"}
    return {
        "sent": {"jti": sent["jti"], "sha256": sent["sha256"], **market},
        "unsent": {"jti": unsent.ref.jti, "sha256": unsent.ref.digest, **market},
    }


# -- what was stored and recorded -------------------------------------------------------


def _counts(env: Env) -> dict[str, int]:
    with env.app.state.node.engine.connect() as connection:
        return {
            t: int(connection.execute(text(f"SELECT count(*) FROM {t}")).scalar_one())
            for t in (*STORED_TABLES, "inbound_refusal")
        }


def _audit_after(env: Env, seq: int) -> list[dict[str, Any]]:
    with env.app.state.node.engine.connect() as connection:
        rows = connection.execute(
            text("SELECT body FROM audit_entry WHERE seq > :seq ORDER BY seq"), {"seq": seq}
        )
        return [json.loads(body) for (body,) in rows]


def _last_seq(env: Env) -> int:
    with env.app.state.node.engine.connect() as connection:
        return int(
            connection.execute(text("SELECT coalesce(max(seq), -1) FROM audit_entry")).one()[0]
        )


def _last_refusal(env: Env) -> tuple[str, str]:
    with env.app.state.node.engine.connect() as connection:
        row = connection.execute(
            text("SELECT disposition, code FROM inbound_refusal ORDER BY id DESC LIMIT 1")
        ).one()
        return str(row[0]), str(row[1])


def _metrics(env: Env) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    page = httpx.get(env.node.url + "/metrics", timeout=30).text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(page)
        for s in family.samples
    }


@dataclass(frozen=True)
class Recorded:
    """Where a refusal must show: a counter (labelled with the case's code under
    ``code_label``, and ``labels``), an audit act, an ``inbound_refusal`` row."""

    metric: str
    code_label: str | None = None
    labels: tuple[tuple[str, str], ...] = ()
    audit: str | None = None
    refusal: str | None = None  # rejected | quarantined

    def metric_key(self, code: str) -> tuple[str, tuple[tuple[str, str], ...]]:
        labels = dict(self.labels)
        if self.code_label:
            labels[self.code_label] = code
        return self.metric, tuple(sorted(labels.items()))


REQUEST = Recorded("clearinghouse_requests_refused_total", code_label="code")
REJECTED = Recorded(
    "clearinghouse_packets_rejected_total",
    code_label="reason",
    audit="packet.received",
    refusal="rejected",
)
QUARANTINED = Recorded(
    "clearinghouse_packets_rejected_total",
    code_label="reason",
    audit="packet.received",
    refusal="quarantined",
)
MANIFEST = Recorded("clearinghouse_manifests_refused_total", audit="manifest.refused")
RECORD_REFUSED = Recorded("clearinghouse_records_rejected_total", audit="record.rejected")
THROTTLED = Recorded("clearinghouse_rate_limited_total", labels=(("peer", "unodc"),))
DEFERRED = Recorded(
    "clearinghouse_packets_rejected_total",
    code_label="reason",
    audit="packet.received",
    refusal="deferred",
)
OVER_QUOTA = Recorded(
    "clearinghouse_peer_quota_exceeded_total", labels=(("kind", "views"), ("peer", "unodc"))
)
CHAIN_BROKEN = Recorded("clearinghouse_manifest_chain_breaks_total", audit="manifest.chain_broken")
ADDRESS_THROTTLED = Recorded(
    "clearinghouse_address_rate_limited_total", labels=(("kind", "failed-auth"),)
)


# -- hostile requests -------------------------------------------------------------------


def craft(
    env: Env,
    claims: dict[str, Any] | None = None,
    *,
    payload: dict[str, Any] | None = None,
    header: dict[str, Any] | None = None,
    key: Ed25519PrivateKey | None = None,
    extra: tuple[str, ...] = (),
) -> str:
    """A view signed by mission (or ``key``) with ``claims`` disclosed, every part
    overridable: the payload's and header's members, disclosures added (``extra``)."""
    key = key or env.keys["mission"]
    now = datetime.now(UTC)
    digests, disclosures, _ = conceal_by_claim(DPA_CLAIMS if claims is None else claims, os.urandom)
    body = {
        "iss": "mission",
        "jti": uuid7(now, os.urandom),
        "iat": int(now.timestamp()),
        "sch": "conflict-event/1",
        "hc": "H0",
        "_sd": digests,
        "_sd_alg": "sha-256",
        **(payload or {}),
    }
    head = {"alg": "EdDSA", "typ": PACKET_TYP, "kid": env.kid(key), **(header or {})}
    encoded = tuple(d.encoded for d in disclosures) + extra
    return CompactSdJwt(sign_jws(head, body, key), encoded).serialize()


def issued(env: Env, record: dict[str, Any], *, issuer: str = "mission", **kw: Any) -> Any:
    pseudonyms = read_pseudonym_key(env.fed.root / "keys" / "pseudonym.key")
    return issue_packet(
        record,
        schema=kw.pop("schema", "conflict-event/1"),
        issuer=issuer,
        key=env.keys[issuer],
        kid=env.kid(env.keys[issuer]),
        now=datetime.now(UTC),
        pseudonym_key=pseudonyms.key,
        pseudonym_epoch=pseudonyms.epoch,
        **kw,
    )


def view(make: Callable[[Env], object]) -> Callable[[Env], httpx.Response]:
    """Send the one view ``make`` builds in a signed batch from mission."""
    return lambda env: env.post_views(make(env))


def part(env: Env, index: int, change: Callable[[str], str]) -> str:
    """A good view with part ``index`` of its issuer JWT (0 header, 1 payload,
    2 signature) or, for 3, its first disclosure, replaced by ``change(part)``."""
    jwt, *disclosures = craft(env).split("~")[:-1]
    pieces = jwt.split(".")
    if index < 3:
        pieces[index] = change(pieces[index])
    else:
        disclosures[0] = change(disclosures[0])
    return ".".join(pieces) + "~" + "".join(d + "~" for d in disclosures)


def garble(piece: str) -> str:
    """Base64url that decodes to bytes that are not JSON."""
    return b64url_encode(b"\x00\x01not json") if piece else piece


def flip(piece: str) -> str:
    return piece[:-2] + ("A" if piece[-2] != "A" else "B") + piece[-1]


def batch(body: bytes, content_type: str | None = "application/json") -> Callable[..., Any]:
    """A signed POST /v1/packets with this exact body."""
    return lambda env: env.send(env.signed("POST", "/v1/packets", body, content_type=content_type))


def peer_get(path: str) -> Callable[[Env], httpx.Response]:
    return lambda env: env.send(env.signed("GET", path))


def as_role(method: str, path: str, role: str, **kw: Any) -> Callable[[Env], httpx.Response]:
    return lambda env: env.call(method, path, role, **kw)


def resigned(change: Callable[[httpx.Request], httpx.Request]) -> Callable[..., Any]:
    """A good signed POST /v1/packets, then ``change``d after signing."""
    return lambda env: env.send(change(env.signed("POST", "/v1/packets", b'{"views": []}')))


def _rebuilt(request: httpx.Request, *, body: bytes | None = None, **headers: str) -> Any:
    kept = {k: v for k, v in request.headers.items() if k != "content-length"}
    kept.update(headers)
    kept = {k: v for k, v in kept.items() if v}
    content = request.content if body is None else body
    return httpx.Request(request.method, request.url, content=content, headers=kept)


def no_signature(env: Env) -> httpx.Response:
    return env.send(httpx.Request("POST", env.node.url + "/v1/packets", json={"views": []}))


def replayed(env: Env) -> httpx.Response:
    nonce = secrets.token_urlsafe(16)
    assert env.send(env.signed("GET", "/v1/packets?since=0", nonce=nonce)).status_code == 200
    return env.send(env.signed("GET", "/v1/packets?since=0", nonce=nonce))


def without_keyid(env: Env) -> httpx.Response:
    request = env.signed("POST", "/v1/packets", b'{"views": []}')
    kid = env.kid(env.keys["mission"])
    stripped = request.headers["signature-input"].replace(f';keyid="{kid}"', "")
    return env.send(_rebuilt(request, **{"signature-input": stripped}))


def other_target(env: Env) -> httpx.Response:
    request = env.signed("GET", "/v1/packets?since=0")
    return env.send(httpx.Request("GET", env.node.url + "/v1/packets?since=1", headers={
        k: v for k, v in request.headers.items() if k != "content-length"
    }))  # fmt: skip


def chunked_oversized(env: Env) -> httpx.Response:
    body = json.dumps({"views": ["x" * (MAX_BODY + 10)]}).encode()
    headers = {k: v for k, v in env.signed("POST", "/v1/packets", body).headers.items()}
    headers.pop("content-length", None)
    chunks = iter([body[i : i + 65536] for i in range(0, len(body), 65536)])
    return env.send(httpx.Request("POST", env.node.url + "/v1/packets", content=chunks,
                                  headers=headers))  # fmt: skip


def deep_payload(env: Env) -> str:
    nested: list[Any] = []
    inner = nested
    for _ in range(300):
        deeper: dict[str, Any] = {"a": []}
        inner.append(deeper)
        inner = deeper["a"]
    return craft(env, payload={"x": nested})


def result_view(
    env: Env,
    *,
    issuer_of_input: str = "mission",
    analyzer_version: str | None = None,
    about: str | None = None,
    digest: str | None = None,
) -> str:
    """mission's result (its declared analyzer, its key) about a new packet of
    ``issuer_of_input``, or ``about`` one of :attr:`Env.issued_here` (its ``digest``
    replaced if given)."""
    declared = env.manifest.participant("mission").analyzer
    assert declared is not None
    if analyzer_version is not None:
        declared = declared.model_copy(update={"version": analyzer_version})
    named = env.issued_here[about] if about else {
        "jti": uuid7(datetime.now(UTC), os.urandom),
        "sha256": "ab" * 32,
        "schema": "conflict-event/1",
        "issuer": issuer_of_input,
    }  # fmt: skip
    record = result_record(
        analyzer=declared,
        input_jti=named["jti"],
        input_digest=digest or named["sha256"],
        input_schema=named["schema"],
        input_issuer=named["issuer"],
        findings=[{"kind": "hotspot", "subject": "Idlib", "explanation": "many events"}],
        explanation="one hotspot",
    )
    packet = issued(env, record, schema="analysis-result/1")
    return recipient_view(packet.sd_jwt, env.manifest, "dpa")


def h2_from_unodc(env: Env) -> str:
    """unodc's H2 packet (no onward dissemination), relayed to dpa by mission."""
    packet = issued(env, RECORD, issuer="unodc", hc="H2")
    return recipient_view(packet.sd_jwt, env.manifest, "dpa")


def successor(env: Env, serial: int, signers: tuple[str, ...]) -> Manifest:
    doc = json.loads(manifest_json(env.manifest))
    doc.pop("signatures")
    doc["serial"] = serial
    manifest = parse_manifest(doc)
    for signer in signers:
        manifest = sign_manifest(manifest, signer, env.keys[signer])
    return manifest


def post_manifest(make: Callable[[Env], Manifest | bytes]) -> Callable[[Env], httpx.Response]:
    def send(env: Env) -> httpx.Response:
        made = make(env)
        body = made if isinstance(made, bytes) else manifest_json(made)
        return env.send(env.signed("POST", "/v1/manifest", body))

    return send


def forged_signature(env: Env) -> Manifest:
    manifest = successor(env, HELD_SERIAL + 1, ("mission", "unodc"))
    forged = ManifestSignature(
        signer="dpa",
        kid=env.kid(env.keys["dpa"]),
        sig=b64url_encode(generate_private_key().sign(manifest.signing_input())),
    )
    doc = json.loads(manifest_json(manifest))
    doc["signatures"].append(forged.model_dump())
    return parse_manifest(doc)


def flood(env: Env) -> httpx.Response:
    """unodc floods dpa; dpa answers 429 with Retry-After, and mission still gets in.

    The node's limiter is swapped for one with the same code and a stopped clock, so
    that the burst and the wait are exact whatever the machine's speed."""
    configured = env.app.state.peer_limiter
    env.app.state.peer_limiter = PeerRateLimiter(0.5, 10, clock=lambda: 1000.0)
    try:
        answers = [env.send(env.signed("GET", "/v1/packets?since=0", signer="unodc"))
                   for _ in range(11)]  # fmt: skip
        assert [a.status_code for a in answers] == [200] * 10 + [429]
        other = env.send(env.signed("GET", "/v1/packets?since=0", signer="mission"))
        assert other.status_code == 200, other.text  # another peer is unaffected
        assert answers[-1].headers["retry-after"] == "2"  # 1 token at 0.5/s
        return answers[-1]
    finally:
        env.app.state.peer_limiter = configured


def stalled(
    path: str,
    *,
    key: Ed25519PrivateKey | None = None,
    content_type: str = "application/json",
    declared: int = 30 * 1024 * 1024,
) -> Callable[[Env], httpx.Response]:
    """Declare a 30 MB body (signed by ``key`` when given), send 1 KiB of it and read the
    answer: one that comes while the upload stalls shows the node judged the request
    from its headers and read no further."""

    def send(env: Env) -> httpx.Response:
        headers = {"content-type": content_type}
        if key is not None:
            signed = env.signed("POST", path, b"{}", key=key, content_type=content_type)
            names = ("content-type", "content-digest", "signature-input", "signature")
            headers = {name: signed.headers[name] for name in names}
        port = int(env.node.url.rsplit(":", 1)[1])
        lines = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", f"Content-Length: {declared}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + b"{" * 1024)
            answer = http.client.HTTPResponse(sock)
            answer.begin()
            return httpx.Response(answer.status, headers=answer.getheaders(), content=answer.read())

    return send


def address_flood(env: Env) -> httpx.Response:
    """Requests signed by a key no participant holds, all from 127.0.0.1: 401 until the
    address has spent its burst, then 429 with Retry-After; mission, from the same
    address, still gets in (valid credentials take no token). The address limiter is
    swapped for one with the same code and a stopped clock, as in :func:`flood`."""
    configured = env.app.state.address_limiter
    env.app.state.address_limiter = RateLimiter(0.5, 5, clock=lambda: 1000.0)
    stranger = generate_private_key()
    try:
        answers = [env.send(env.signed("POST", "/v1/packets", b'{"views": []}', key=stranger))
                   for _ in range(6)]  # fmt: skip
        assert [a.status_code for a in answers] == [401] * 5 + [429]
        other = env.send(env.signed("GET", "/v1/packets?since=0", signer="mission"))
        assert other.status_code == 200, other.text
        assert answers[-1].headers["retry-after"] == "2"  # 1 token at 0.5/s
        return answers[-1]
    finally:
        env.app.state.address_limiter = configured


def over_quota(env: Env) -> httpx.Response:
    """unodc pushes more views than its quota per period allows: the batch is refused
    whole (429, before any view is verified, stored or audited); mission still gets in.

    The node's quota is swapped for one with the same code, 2 views per hour and a
    stopped clock, so that the wait is exact whatever the machine's speed."""
    configured = env.app.state.peer_quota
    env.app.state.peer_quota = PeerQuota(2, 10**9, 3600.0, clock=lambda: 1000.0)
    try:

        def push(signer: str, views: list[str]) -> httpx.Response:
            body = json.dumps({"views": views}).encode()
            return env.send(env.signed("POST", "/v1/packets", body, signer=signer))

        refused = push("unodc", ["junk"] * 3)
        assert refused.headers["retry-after"] == "1800", refused.text  # 1 view at 2/hour
        other = push("mission", ["junk"])
        assert other.status_code == 200, other.text  # another peer has its own quota
        return refused
    finally:
        env.app.state.peer_quota = configured


def planted_manifest(env: Env) -> httpx.Response:
    """A forged manifest of the next serial written straight into dpa's database (plain
    SQL, as someone with database access would): dpa does not switch to it, and the
    genuine manifest of that serial, submitted meanwhile, is refused naming why. The
    planted row is removed afterwards."""
    ctx = env.app.state.node
    unsigned = successor(env, HELD_SERIAL + 1, ())
    attacker = generate_private_key()
    doc = json.loads(manifest_json(unsigned))
    doc["signatures"] = [
        ManifestSignature(
            signer=p,
            kid=env.kid(env.keys[p]),
            sig=b64url_encode(attacker.sign(unsigned.signing_input())),
        ).model_dump()
        for p in ("mission", "unodc", "dpa")
    ]
    document = manifest_json(parse_manifest(doc))
    insert = text(
        "INSERT INTO manifest (serial, federation, sha256, document, source, accepted_at)"
        " VALUES (:serial, :federation, :sha256, :document, 'token:admin', :at)"
    ).bindparams(bindparam("at", type_=UTCDateTime()))
    with ctx.engine.begin() as connection:
        connection.execute(
            insert,
            {
                "serial": HELD_SERIAL + 1,
                "federation": unsigned.federation,
                "sha256": hashlib.sha256(document).hexdigest(),
                "document": document.decode(),
                "at": datetime.now(UTC),
            },
        )
    try:
        assert sync_from_database(ctx) is False  # what the manifest sync loop runs
        assert ctx.manifest.serial == HELD_SERIAL
        genuine = successor(env, HELD_SERIAL + 1, ("mission", "unodc", "dpa"))
        return env.send(env.signed("POST", "/v1/manifest", manifest_json(genuine)))
    finally:
        with ctx.engine.begin() as connection:
            connection.execute(
                text("DELETE FROM manifest WHERE serial = :s"), {"s": HELD_SERIAL + 1}
            )


def result_page(env: Env) -> httpx.Response:
    cookie = signed_in_headers(env.node.url, env.node.tokens["analyst"])
    return httpx.get(env.node.url + "/ui/results/' OR 1=1--", headers=cookie, timeout=30)


def nul_in_view(env: Env) -> str:
    return "eyJ\x00~"


MARKET = json.loads((EXAMPLES / "records" / "market-price.json").read_text())
TOO_MANY = json.dumps({"views": ["x~"] * (MAX_BATCH + 1)}).encode()
DEEP = b"[" * 100_000 + b"]" * 100_000


def forged_result(env: Env) -> httpx.Response:
    """A submitter's copy of a real result's claims (dpa's own analyzer, findings
    edited), posted as a record: only the analysis pipeline issues results."""
    named = env.issued_here["sent"]
    declared = env.manifest.participant("dpa").analyzer
    assert declared is not None
    record = result_record(
        analyzer=declared,
        input_jti=named["jti"],
        input_digest=named["sha256"],
        input_schema=named["schema"],
        input_issuer=named["issuer"],
        findings=[{"kind": "hotspot", "subject": "Idlib", "explanation": "edited"}],
        explanation="a finding no analyzer made",
    )
    body = {"schema": "analysis-result/1", "record": record}
    return env.call("POST", "/v1/local/records", "submitter", json=body)


def reused_idempotency_key(env: Env) -> httpx.Response:
    """A key whose first request was answered (422: its record refused, nothing issued),
    then sent with another body."""
    key = {"idempotency-key": f"hostile-{secrets.token_hex(8)}"}
    bad = {"schema": "market-price/1", "record": {**MARKET, "price": -1}}
    first = env.call("POST", "/v1/local/records", "submitter", json=bad, headers=key)
    assert first.status_code == 422, first.text
    other = {"schema": "market-price/1", "record": {**MARKET, "price": -2}}
    return env.call("POST", "/v1/local/records", "submitter", json=other, headers=key)


@dataclass(frozen=True)
class Case:
    name: str
    send: Callable[[Env], httpx.Response]
    status: int
    code: str  # the problem type's code; for a refused view (200): its receipt's code
    words: tuple[str, ...]  # the detail (or the receipt's reason) names the fault
    recorded: Recorded


CASES: list[Case] = [
    # -- the request signature (RFC 9421) ---------------------------------------------
    Case("no signature", no_signature, 401, "signature-missing", ("signature",), REQUEST),
    Case("garbage signature", resigned(lambda r: _rebuilt(r, signature="ch=:AAAA")), 401,
         "request-signature-invalid", ("signature", "malformed"), REQUEST),
    Case("signature by another key", lambda e: e.send(e.signed(
        "POST", "/v1/packets", b'{"views": []}', key=generate_private_key(),
        kid=e.kid(e.keys["mission"]))), 401, "request-signature-invalid", ("not verify",), REQUEST),
    Case("keyid of another peer", lambda e: e.send(e.signed(
        "POST", "/v1/packets", b'{"views": []}', kid=e.kid(e.keys["unodc"]))), 401,
         "request-signature-invalid", ("not verify",), REQUEST),
    Case("keyid unknown", lambda e: e.send(e.signed(
        "POST", "/v1/packets", b'{"views": []}', key=generate_private_key())), 401,
         "unknown-keyid", ("not a key of any participant",), REQUEST),
    Case("keyid absent", without_keyid, 401, "request-signature-invalid", ("keyid",), REQUEST),
    Case("request key revoked", lambda e: e.send(e.signed("GET", "/v1/packets", key=e.revoked)),
         401, "unknown-keyid", ("revoked",), REQUEST),
    Case("request key expired", lambda e: e.send(e.signed("GET", "/v1/packets", key=e.expired)),
         401, "unknown-keyid", ("valid from", "2024-06-01"), REQUEST),
    Case("replayed nonce", replayed, 401, "replayed-nonce", ("already used",), REQUEST),
    Case("stale created", lambda e: e.send(e.signed(
        "GET", "/v1/packets", created=datetime.now(UTC) - timedelta(hours=1))), 401,
         "stale-signature", ("past", "window"), REQUEST),
    Case("future created", lambda e: e.send(e.signed(
        "GET", "/v1/packets", created=datetime.now(UTC) + timedelta(hours=1))), 401,
         "stale-signature", ("future", "window"), REQUEST),
    Case("content-digest mismatch", resigned(lambda r: _rebuilt(r, body=b'{"views": [1]}')), 401,
         "digest-mismatch", ("content-digest",), REQUEST),
    Case("body truncated in transit", resigned(lambda r: _rebuilt(r, body=r.content[:-3])), 401,
         "digest-mismatch", ("does not match",), REQUEST),
    Case("content-digest absent", resigned(lambda r: _rebuilt(r, **{"content-digest": ""})), 401,
         "signature-missing", ("content-digest",), REQUEST),
    Case("signed for another URI", other_target, 401, "request-signature-invalid",
         ("not verify",), REQUEST),
    # -- the body -------------------------------------------------------------------
    Case("oversized body", batch(json.dumps({"views": ["x" * MAX_BODY]}).encode()), 413,
         "payload-too-large", ("exceeds the limit",), REQUEST),
    Case("oversized chunked body", chunked_oversized, 413, "payload-too-large",
         ("exceeds the limit",), REQUEST),
    Case("too many views", batch(TOO_MANY), 413, "payload-too-large", ("at most 50",), REQUEST),
    Case("truncated JSON", batch(b'{"views": ["eyJ'), 400, "bad-request",
         ("not valid json", "unterminated"), REQUEST),
    Case("deeply nested JSON", batch(DEEP), 400, "bad-request", ("nested too deeply",), REQUEST),
    Case("duplicate JSON keys", batch(b'{"views": [], "views": ["x~"]}'), 400, "bad-request",
         ("duplicate key", "views"), REQUEST),
    Case("invalid UTF-8", batch(b'{"views": ["\xff\xfe~"]}'), 400, "bad-request",
         ("utf-8",), REQUEST),
    Case("NaN in JSON", batch(b'{"views": [], "n": NaN}'), 400, "bad-request", ("nan",), REQUEST),
    Case("views not an array", batch(b'{"views": "x~"}'), 400, "bad-request",
         ("'views' array",), REQUEST),
    Case("wrong content type", batch(b'{"views": []}', "text/plain"), 415,
         "unsupported-media-type", ("content-type", "text/plain"), REQUEST),
    Case("no content type", batch(b'{"views": []}', None), 415, "unsupported-media-type",
         ("content-type", "none"), REQUEST),
    # -- the SD-JWT of one view, each part (refused in its signed receipt) ---------------
    Case("not a string", view(lambda e: 12), 200, "malformed-packet", ("not a string",),
         REJECTED),
    Case("not an SD-JWT", view(lambda e: "hello"), 200, "malformed-packet", ("no '~'",), REJECTED),
    Case("JWT header not JSON", view(lambda e: part(e, 0, garble)), 200, "malformed-packet",
         ("issuer-signed jwt header", "not valid json"), REJECTED),
    Case("JWT header alg none", view(lambda e: craft(e, header={"alg": "none"})), 200,
         "malformed-packet", ("alg", "none"), REJECTED),
    Case("JWT payload not JSON", view(lambda e: part(e, 1, garble)), 200, "malformed-packet",
         ("issuer-signed jwt payload", "not valid json"), REJECTED),
    Case("JWT payload not an object", view(lambda e: part(e, 1, lambda p: b64url_encode(b"[]"))),
         200, "malformed-packet", ("issuer-signed jwt payload", "not a json object"), REJECTED),
    Case("JWT signature flipped", view(lambda e: part(e, 2, flip)), 200, "signature-invalid",
         ("does not verify",), REJECTED),
    Case("JWT signature not base64url", view(lambda e: part(e, 2, lambda s: "!!" + s)), 200,
         "malformed-packet", ("issuer-signed jwt signature", "base64url"), REJECTED),
    Case("disclosure not base64url JSON", view(lambda e: part(e, 3, garble)), 200,
         "malformed-packet", ("disclosure", "json"), REJECTED),
    Case("key binding JWT appended", view(lambda e: craft(e) + "eyJ.eyJ.sig"), 200,
         "malformed-packet", ("key binding",), REJECTED),
    Case("disclosure not in _sd", view(lambda e: craft(e, extra=(make_disclosure(
        os.urandom(16), "place", "Ariha").encoded,))), 200, "disclosure-mismatch",
         ("match no digest",), REJECTED),
    Case("duplicate disclosure", view(lambda e: part(e, 3, lambda d: d + "~" + d)), 200,
         "duplicate-disclosure", ("twice",), REJECTED),
    Case("unsupported _sd_alg", view(lambda e: craft(e, payload={"_sd_alg": "sha-512"})), 200,
         "malformed-packet", ("_sd_alg", "sha-512"), REJECTED),
    Case("deeply nested payload", view(deep_payload), 200, "malformed-packet",
         ("deeper than",), REJECTED),
    Case("jti with SQL", view(lambda e: craft(e, payload={"jti": "' OR 1=1--"})), 200,
         "malformed-packet", ("jti", "not a uuid"), REJECTED),
    Case("jti of 200 characters", view(lambda e: craft(e, payload={"jti": "7" * 200})), 200,
         "malformed-packet", ("jti", "not a uuid"), REJECTED),
    Case("jti with NUL", view(lambda e: craft(e, payload={"jti": "a\x00b"})), 200,
         "malformed-packet", ("jti", "a\\x00b", "not a uuid"), REJECTED),
    Case("NUL in the view", view(nul_in_view), 200, "malformed-packet", ("jwt",), REJECTED),
    Case("NUL in a claim name", view(lambda e: craft(e, {**DPA_CLAIMS, "a\x00b": 1})), 200,
         "schema-violation", ("a\\x00b", "not permitted"), REJECTED),
    Case("NUL in a payload key", view(lambda e: craft(e, payload={"x\x00": {"_sd": 5}})), 200,
         "malformed-packet", ("_sd at /x\\x00", "not an array"), REJECTED),
    Case("NUL in the schema id", view(lambda e: craft(e, payload={"sch": "x\x00/1"})), 200,
         "unknown-schema", ("x\\x00/1",), REJECTED),
    Case("issued in the future", view(lambda e: craft(e, payload={
        "iat": int((datetime.now(UTC) + timedelta(hours=2)).timestamp())})), 200,
         "issued-in-the-future", ("in the future", "clock skew"), DEFERRED),
    Case("views beyond the peer's quota", over_quota, 429, "quota-exceeded",
         ("unodc", "quota of 2 views"), OVER_QUOTA),
    # -- who signed the packet ---------------------------------------------------------
    Case("unknown key", view(lambda e: craft(e, header={"kid": "no-such-key"})), 200,
         "unknown-key", ("no key", "no-such-key"), REJECTED),
    Case("revoked key", view(lambda e: craft(e, key=e.revoked)), 200, "key-revoked",
         ("revoked",), REJECTED),
    Case("expired key", view(lambda e: craft(e, key=e.expired)), 200, "key-not-valid",
         ("valid from", "2024-06-01"), REJECTED),
    Case("issuer not a participant", view(lambda e: craft(e, payload={"iss": "undp"})), 200,
         "unknown-issuer", ("undp", "not a participant"), REJECTED),
    Case("H2 relayed by another", view(h2_from_unodc), 200, "handling-violation",
         ("h2",), REJECTED),
    # -- content and policy --------------------------------------------------------------
    Case("over-disclosure", view(lambda e: issued(e, RECORD).sd_jwt), 200, "over-disclosure",
         ("dpa", "withhold"), QUARANTINED),
    Case("unknown schema", view(lambda e: craft(e, payload={"sch": "weather/1"})), 200,
         "unknown-schema", ("weather/1",), REJECTED),
    Case("wrong schema version", view(lambda e: craft(e, payload={"sch": "conflict-event/2"})),
         200, "unknown-schema", ("conflict-event/2",), REJECTED),
    Case("year out of range", view(lambda e: craft(e, {**DPA_CLAIMS, "year": 3000})), 200,
         "schema-violation", ("year", "2200"), REJECTED),
    Case("negative deaths", view(lambda e: craft(e, {**DPA_CLAIMS, "deaths": {"best": -5}})), 200,
         "schema-violation", ("deaths", "best"), REJECTED),
    Case("field not in the schema", view(lambda e: craft(e, {**DPA_CLAIMS, "colour": "red"})),
         200, "schema-violation", ("colour",), REJECTED),
    Case("result of an unknown input", view(lambda e: result_view(e, issuer_of_input="undp")),
         200, "result-input-invalid", ("undp", "cannot have received"), REJECTED),
    Case("result by another analyzer", view(lambda e: result_view(
        e, issuer_of_input="mission", analyzer_version="0.0.1")), 200, "analyzer-mismatch",
         ("0.0.1", "declares"), REJECTED),
    Case("result of a packet never sent to its issuer", view(lambda e: result_view(
        e, about="unsent")), 200, "result-input-invalid",
         ("of 'dpa'", "never sent to 'mission'", "cannot have received"), REJECTED),
    Case("result of a packet the node never issued", view(lambda e: result_view(
        e, issuer_of_input="dpa")), 200, "result-input-invalid",
         ("'dpa' issued no such packet", "cannot have received"), REJECTED),
    Case("result misnaming a packet's digest", view(lambda e: result_view(
        e, about="sent", digest="ab" * 32)), 200, "result-input-invalid",
         ("sha-256 abababababab", "held here"), REJECTED),
    # -- trust changes -----------------------------------------------------------------
    Case("manifest planted in the database", planted_manifest, 503, "not-ready",
         ("another manifest of serial 6", "does not follow", "manifest.chain_broken"),
         CHAIN_BROKEN),
    Case("manifest of a lower serial", post_manifest(lambda e: successor(
        e, 3, ("mission", "unodc", "dpa"))), 422, "manifest-rejected",
         ("serial 3", "not higher"), MANIFEST),
    Case("manifest with too few signatures", post_manifest(lambda e: successor(
        e, HELD_SERIAL + 1, ("mission",))), 422, "manifest-rejected",
         ("1 valid signature", "3 required"), MANIFEST),
    Case("manifest with a forged signature", post_manifest(forged_signature), 422,
         "manifest-rejected", ("'dpa'", "does not verify"), MANIFEST),
    Case("manifest not JSON", post_manifest(lambda e: b'{"serial": 9,'), 422,
         "manifest-rejected", ("not json",), MANIFEST),
    # -- ids and query parameters ------------------------------------------------------
    Case("since=-1", peer_get("/v1/packets?since=-1"), 422, "invalid-request",
         ("since", "greater than or equal to 0"), REQUEST),
    Case("since='1;DROP'", peer_get("/v1/packets?since=1;DROP"), 422, "invalid-request",
         ("since", "valid integer"), REQUEST),
    Case("start='0;DROP'", peer_get("/v1/audit/entries?start=0;DROP%20TABLE%20packet"), 422,
         "invalid-request", ("start", "valid integer"), REQUEST),
    Case("path traversal", as_role("GET", "/v1/local/packets/..%2F..%2Fetc", "analyst"), 404,
         "not-found", ("no endpoint", "../../etc"), REQUEST),
    Case("path traversal to relay", as_role("POST", "/v1/local/packets/..%2F..%2Fetc/relay",
         "admin", json={"recipients": ["unodc"]}), 404, "not-found", ("no endpoint",), REQUEST),
    Case("schema id traversal", as_role("GET", "/v1/schemas/..%2F..%2Fetc%2Fpasswd", "analyst"),
         422, "unknown-schema", ("../../etc/passwd",), REQUEST),
    Case("relay jti with SQL", as_role("POST", "/v1/local/packets/' OR 1=1--/relay", "admin",
         json={"recipients": ["unodc"]}), 404, "not-found", ("no packet", "' or 1=1--"), REQUEST),
    Case("result page jti with SQL", result_page, 404, "not-found", ("no analysis result",),
         REQUEST),
    Case("NUL in a path id", as_role("POST", "/v1/local/packets/%00/relay", "admin",
         json={"recipients": ["unodc"]}), 400, "bad-request", ("nul",), REQUEST),
    Case("NUL in a filter", as_role("GET", "/v1/audit/search?peer=x%00y", "auditor"), 400,
         "bad-request", ("peer", "nul"), REQUEST),
    Case("period filter with SQL", as_role("GET", "/v1/situation?from=2016;DROP", "analyst"),
         422, "invalid-request", ("from", "pattern"), REQUEST),
    Case("unknown method", lambda e: httpx.delete(e.node.url + "/v1/packets"), 405,
         "method-not-allowed", ("delete", "not allowed"), REQUEST),
    # -- local records -----------------------------------------------------------------
    Case("records as text/plain", as_role("POST", "/v1/local/records", "submitter",
         content=json.dumps({"schema": "market-price/1", "record": MARKET}).encode(),
         headers={"content-type": "text/plain"}), 415, "unsupported-media-type",
         ("content-type",), REQUEST),
    Case("record out of range", as_role("POST", "/v1/local/records", "submitter", json={
        "schema": "market-price/1", "record": {**MARKET, "price": -1}}), 422, "unprocessable",
         ("price", "greater than or equal to 0"), RECORD_REFUSED),
    # -- local ingest: only analyzers issue results; idempotent ---------------------------
    Case("an analysis result from a submitter", forged_result, 403, "schema-forbidden",
         ("analysis-result/1", "analysis pipeline"), RECORD_REFUSED),
    Case("a revision of a held event", as_role("POST", "/v1/local/records", "submitter",
         json={"schema": "conflict-event/1", "record": {**RECORD, "narrative": "revised"}}),
         409, "record-conflict", ("held as packet", "revision"), RECORD_REFUSED),
    Case("Idempotency-Key reused with another body", reused_idempotency_key, 422,
         "idempotency-key-reused", ("idempotency-key", "another body"), REQUEST),
    Case("malformed Idempotency-Key", as_role("POST", "/v1/local/records", "submitter",
         json={"schema": "market-price/1", "record": MARKET},
         headers={"idempotency-key": "not a key"}), 400, "bad-request",
         ("idempotency-key", "visible ascii"), REQUEST),
    # -- a flood from one peer --------------------------------------------------------------
    Case("flood from one peer", flood, 429, "rate-limited", ("unodc", "rate limit"), THROTTLED),
    # -- unauthenticated work: judged from the headers, bounded, limited per address ----------
    Case("unsigned 30 MB batch, body never sent", stalled("/v1/packets"), 401,
         "signature-missing", ("signature",), REQUEST),
    Case("30 MB batch by an unknown key, body never sent", stalled(
        "/v1/packets", key=generate_private_key()), 401, "unknown-keyid",
         ("not a key of any participant",), REQUEST),
    Case("30 MB sign-in form, body never sent", stalled(
        "/ui/login", content_type="application/x-www-form-urlencoded"), 413,
         "payload-too-large", ("exceeds the limit of 8192",), REQUEST),
    Case("flood of bogus signatures from one address", address_flood, 429, "rate-limited",
         ("127.0.0.1", "failed requests", "not a key of any participant"), ADDRESS_THROTTLED),
]  # fmt: skip


def _params() -> list[Any]:
    return [pytest.param(case, id=case.name) for case in CASES]


@pytest.mark.parametrize("case", _params())
def test_hostile_input_is_refused_precisely_stored_never_and_recorded(env: Env, case: Case) -> None:
    counts, seq, metrics = _counts(env), _last_seq(env), _metrics(env)

    response = case.send(env)

    # the answer: status, problem type, a detail naming the fault
    assert response.status_code == case.status, response.text
    if case.status == 200:
        receipts = response.json()["receipts"]
        assert len(receipts) == 1, response.text
        receipt = verify_receipt(receipts[0], env.manifest, sender="mission")
        assert (receipt.status, receipt.reason_code) == (case.recorded.refusal, case.code)
        message = receipt.reason or ""
    else:
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert problem["type"] == f"urn:clearinghouse:problem:{case.code}", problem
        assert problem["status"] == case.status
        message = problem["detail"]
    for word in case.words:
        assert word.lower() in message.lower(), (word, message)
    if case.status == 429:
        assert int(response.headers["retry-after"]) >= 1

    # nothing stored
    after = _counts(env)
    assert {t: after[t] for t in STORED_TABLES} == {t: counts[t] for t in STORED_TABLES}

    # the refusal recorded
    name, labels = case.recorded.metric_key(case.code)
    grown = _metrics(env).get((name, labels), 0.0) - metrics.get((name, labels), 0.0)
    assert grown >= 1, (name, labels)
    entries = _audit_after(env, seq)
    if case.recorded.audit:
        acts = [e for e in entries if e["act"] == case.recorded.audit]
        assert acts, [e["act"] for e in entries]
        if case.recorded.refusal:  # the batch of one view, in one packet.received entry
            (view,) = acts[-1]["views"]
            assert (view["outcome"], view["code"]) == (case.recorded.refusal, case.code)
    if case.recorded.refusal:
        assert after["inbound_refusal"] == counts["inbound_refusal"] + 1
        assert _last_refusal(env) == (case.recorded.refusal, case.code)


def test_the_table_covers_at_least_forty_cases_with_distinct_names() -> None:
    names = [c.name for c in CASES]
    assert len(names) >= 40 and len(set(names)) == len(names)


def test_the_crafted_baseline_is_accepted(env: Env) -> None:
    """Each row breaks one thing: the same view and requests unbroken go through."""
    response = env.post_views(craft(env))
    receipt = verify_receipt(response.json()["receipts"][0], env.manifest, sender="mission")
    assert receipt.status == "accepted", receipt
    assert env.send(env.signed("GET", "/v1/packets?since=0")).status_code == 200
    assert result_view(env, issuer_of_input="mission")  # a well-formed result
    again = env.post_views(result_view(env, issuer_of_input="mission"))
    assert verify_receipt(again.json()["receipts"][0], env.manifest, sender="mission").status == (
        "accepted"
    )
    # a result about a packet dpa issued and queued to mission
    ours = env.post_views(result_view(env, about="sent"))
    assert verify_receipt(ours.json()["receipts"][0], env.manifest, sender="mission").status == (
        "accepted"
    )


def test_a_refused_view_never_costs_the_good_ones_of_its_batch(env: Env) -> None:
    """Views with NULs (in the text, the jti, a payload key) and a result about a packet
    never sent to mission, between two good views: refused, recorded with the NULs
    escaped, and the good ones stored."""
    counts = _counts(env)
    hostile = [
        nul_in_view(env),
        craft(env, payload={"jti": "a\x00b"}),
        craft(env, payload={"x\x00": {"_sd": 5}}),
        result_view(env, about="unsent"),
    ]
    response = env.post_views(craft(env), *hostile, craft(env))

    assert response.status_code == 200, response.text
    receipts = [
        verify_receipt(r, env.manifest, sender="mission") for r in response.json()["receipts"]
    ]
    assert [r.status for r in receipts] == ["accepted", *["rejected"] * 4, "accepted"]
    after = _counts(env)
    assert after["packet"] == counts["packet"] + 2
    assert after["inbound_refusal"] == counts["inbound_refusal"] + 4
    with env.app.state.node.engine.connect() as connection:
        rows = connection.execute(
            text("SELECT jti, reason, prefix FROM inbound_refusal ORDER BY id DESC LIMIT 4")
        ).all()
    nul_view, nul_jti, nul_key, unsent = reversed(rows)
    assert nul_view.prefix == "eyJ\\x00"  # up to the first '~' (never the whole view)
    assert nul_jti.jti is None  # not a packet id: not kept
    assert "/x\\x00" in nul_key.reason and "\x00" not in nul_key.reason
    assert unsent.jti is not None and env.issued_here["unsent"]["jti"] in unsent.reason


def test_sql_metacharacters_in_filters_are_plain_data(env: Env) -> None:
    """A filter value is compared as a value: it matches nothing and changes nothing."""
    counts = _counts(env)
    hostile = "' OR 1=1--"
    local = env.call("GET", "/v1/local/packets", "analyst", params={"issuer": hostile})
    assert local.status_code == 200 and local.json()["items"] == []
    search = env.call("GET", "/v1/audit/search", "auditor", params={"jti": hostile, "act": hostile})
    assert search.status_code == 200 and search.json()["entries"] == []
    assert _counts(env) == counts


def test_the_configured_rate_limit_is_the_settings(env: Env) -> None:
    limiter = env.app.state.peer_limiter
    settings = env.app.state.node.settings
    assert (limiter.rate, limiter.burst) == (
        settings.peer_rate_limit_per_s,
        settings.peer_rate_burst,
    )
    assert limiter.enabled
