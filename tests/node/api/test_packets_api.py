"""``/v1/packets`` and the local API refuse bad input precisely (problem+json), one node served
for real on loopback, the test playing the part of its peers."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from clearinghouse.node.keyfiles import read_pseudonym_key
from clearinghouse.node.localfed import LocalFederation, NodeHandle
from clearinghouse.protocol.errors import MalformedPacket
from clearinghouse.protocol.keys import generate_private_key, public_jwk
from clearinghouse.protocol.manifest import parse_manifest
from clearinghouse.protocol.packet import issue_packet, recipient_view
from clearinghouse.protocol.receipts import Receipt, verify_batch_receipt, verify_receipt
from tests.nodes import built_federation, served_node
from tests.signer import participant_key, send, signed_request
from tests.support import EXAMPLES

RECORD = json.loads((EXAMPLES / "records" / "conflict-event.json").read_text())


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory) -> LocalFederation:
    return built_federation(tmp_path_factory.mktemp("api"), ("mission", "unodc", "dpa"))


@pytest.fixture(scope="module")
def dpa(fed: LocalFederation) -> Iterator[NodeHandle]:
    """The dpa node, served in this process without workers (the test is its only peer)."""
    with served_node(fed.nodes["dpa"], max_body_bytes=200_000) as served:
        yield served.handle


def key_of(fed: LocalFederation, participant: str) -> Any:
    return participant_key(fed.root, participant)


def signed(
    fed: LocalFederation,
    node: NodeHandle,
    method: str,
    path: str,
    body: bytes = b"",
    *,
    signer: str = "mission",
    key: Any = None,
    kid: str | None = None,
    created: datetime | None = None,
    nonce: str | None = None,
) -> httpx.Request:
    key = key or key_of(fed, signer)
    return signed_request(
        method, node.url + path, body, key=key, kid=kid, created=created, nonce=nonce
    )


def views_body(*views: str, receipt: str | None = None) -> bytes:
    """A batch as an older sender sends it, or asking for a ``receipt`` form."""
    batch: dict[str, Any] = {"views": list(views)}
    if receipt is not None:
        batch["receipt"] = receipt
    return json.dumps(batch).encode()


def receipts_of(
    response: httpx.Response, body: bytes, manifest: Any, *, batch: bool
) -> list[Receipt]:
    """The answer's receipts, verified, one per view: a batch receipt over ``body``, or a
    receipt per view, and the summary counting them."""
    assert response.status_code == 200, response.text
    answer = response.json()
    if batch:
        assert set(answer) == {"receipt", "summary"}, answer
        receipts = list(
            verify_batch_receipt(
                answer["receipt"],
                manifest,
                sender="mission",
                request_sha256=hashlib.sha256(body).hexdigest(),
            ).views
        )
    else:
        assert set(answer) == {"receipts", "summary"}, answer
        receipts = [verify_receipt(r, manifest, sender="mission") for r in answer["receipts"]]
    counted = {s: n for s, n in answer["summary"].items() if n}
    assert counted == {
        s: [r.status for r in receipts].count(s) for s in {r.status for r in receipts}
    }
    return receipts


def mission_packet(fed: LocalFederation, record: dict[str, Any] | None = None) -> str:
    key = key_of(fed, "mission")
    pseudonyms = read_pseudonym_key(fed.root / "keys" / "pseudonym.key")
    return issue_packet(
        record or RECORD,
        schema="conflict-event/1",
        issuer="mission",
        key=key,
        kid=public_jwk(key)["kid"],
        now=datetime.now(UTC),
        pseudonym_key=pseudonyms.key,
        pseudonym_epoch=pseudonyms.epoch,
    ).sd_jwt


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == f"urn:clearinghouse:problem:{code}", problem
    assert problem["status"] == status and problem["detail"]
    return problem  # type: ignore[no-any-return]


def manifest_of(fed: LocalFederation) -> Any:
    return parse_manifest((fed.root / "manifest.json").read_bytes())


FORMS = pytest.mark.parametrize("batch", [True, False], ids=["batch receipt", "per view"])


@FORMS
def test_a_signed_batch_gets_signed_receipts(
    fed: LocalFederation, dpa: NodeHandle, batch: bool
) -> None:
    """Asked for (``"receipt": "batch"``), one receipt over the batch; from an older sender
    (no such field), a receipt per view: the same evidence per view either way."""
    manifest = manifest_of(fed)
    form = "batch" if batch else None
    view = recipient_view(mission_packet(fed), manifest, "dpa")
    body = views_body(view, view, receipt=form)
    response = send(signed(fed, dpa, "POST", "/v1/packets", body))
    receipts = receipts_of(response, body, manifest, batch=batch)
    assert [r.status for r in receipts] == ["accepted", "duplicate"]
    assert [r.index for r in receipts] == [0, 1]
    assert receipts[0].receiver == "dpa" and receipts[0].ref == receipts[1].ref
    assert receipts[0].ref is not None
    again_body = views_body(view, receipt=form)
    again = send(signed(fed, dpa, "POST", "/v1/packets", again_body))
    assert [r.status for r in receipts_of(again, again_body, manifest, batch=batch)] == [
        "duplicate"
    ]
    with dpa.client("analyst") as client:
        items = client.get("/v1/local/packets", params={"origin": "mission"}).json()["items"]
    assert [i["jti"] for i in items].count(receipts[0].ref.jti) == 1  # stored once


def test_a_receipt_form_this_node_does_not_know_gets_a_receipt_per_view(
    fed: LocalFederation, dpa: NodeHandle
) -> None:
    view = recipient_view(mission_packet(fed), manifest_of(fed), "dpa")
    body = views_body(view, receipt="merkle")
    response = send(signed(fed, dpa, "POST", "/v1/packets", body))
    receipts = receipts_of(response, body, manifest_of(fed), batch=False)
    assert [r.status for r in receipts] == ["accepted"]


def test_a_receipt_form_that_is_not_a_string_is_refused(
    fed: LocalFederation, dpa: NodeHandle
) -> None:
    """Any string asks for a receipt form (one this node does not know gets one per view,
    above); anything else is a malformed batch, refused before a view is looked at."""
    view = recipient_view(mission_packet(fed), manifest_of(fed), "dpa")
    for receipt in (7, ["batch"], {"form": "batch"}, True):
        body = json.dumps({"views": [view], "receipt": receipt}).encode()
        answer = send(signed(fed, dpa, "POST", "/v1/packets", body))
        problem = assert_problem(answer, 400, "bad-request")
        assert "'receipt'" in problem["detail"]


def test_a_batch_receipt_names_the_body_it_answers(fed: LocalFederation, dpa: NodeHandle) -> None:
    """The same views in another body (other spacing): another request digest."""
    view = recipient_view(mission_packet(fed), manifest_of(fed), "dpa")
    first = views_body(view, receipt="batch")
    second = json.dumps({"receipt": "batch", "views": [view]}, indent=1).encode()
    answers = [send(signed(fed, dpa, "POST", "/v1/packets", b)) for b in (first, second)]
    manifest = manifest_of(fed)
    assert [r.status for r in receipts_of(answers[1], second, manifest, batch=True)] == [
        "duplicate"
    ]
    with pytest.raises(MalformedPacket, match="another request body"):
        receipts_of(answers[1], first, manifest, batch=True)


@FORMS
def test_bad_views_are_refused_one_by_one(
    fed: LocalFederation, dpa: NodeHandle, batch: bool
) -> None:
    manifest = manifest_of(fed)
    full = mission_packet(fed)  # every field: over-disclosure for dpa
    good = recipient_view(mission_packet(fed), manifest, "dpa")
    flipped = good[:30] + ("A" if good[30] != "A" else "B") + good[31:]
    body = views_body(full, "not an sd-jwt", flipped, good, receipt="batch" if batch else None)
    response = send(signed(fed, dpa, "POST", "/v1/packets", body))
    receipts = receipts_of(response, body, manifest, batch=batch)
    assert [r.status for r in receipts] == ["quarantined", "rejected", "rejected", "accepted"]
    assert receipts[0].reason_code == "over-disclosure" and "dpa" in (receipts[0].reason or "")
    assert receipts[1].reason_code == "malformed-packet" and receipts[1].ref is None
    with dpa.client("auditor") as client:
        stats = client.get("/v1/local/stats").json()
    assert stats["quarantined"] >= 1 and stats["rejected"] >= 2


def test_unknown_schema_is_rejected_with_its_reason(fed: LocalFederation, dpa: NodeHandle) -> None:
    from clearinghouse.protocol.sdjwt import CompactSdJwt, sign_jws

    key = key_of(fed, "mission")
    payload = {
        "iss": "mission",
        "jti": "x",
        "iat": int(datetime.now(UTC).timestamp()),
        "sch": "weather/1",
        "hc": "H0",
        "_sd": [],
        "_sd_alg": "sha-256",
    }
    header = {"alg": "EdDSA", "typ": "clearinghouse-packet+sd-jwt", "kid": public_jwk(key)["kid"]}
    raw = CompactSdJwt(sign_jws(header, payload, key), ()).serialize()
    response = send(signed(fed, dpa, "POST", "/v1/packets", views_body(raw)))
    receipt = verify_receipt(response.json()["receipts"][0], manifest_of(fed), sender="mission")
    assert (receipt.status, receipt.reason_code) == ("rejected", "unknown-schema")


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("no-signature", "signature-missing"),
        ("wrong-key", "request-signature-invalid"),
        ("unknown-keyid", "unknown-keyid"),
        ("stale", "stale-signature"),
        ("future", "stale-signature"),
        ("digest", "digest-mismatch"),
        ("method", "request-signature-invalid"),
    ],
)
def test_request_signature_refusals(
    fed: LocalFederation, dpa: NodeHandle, case: str, code: str
) -> None:
    body = views_body()
    if case == "no-signature":
        request = httpx.Request("POST", dpa.url + "/v1/packets", content=body)
    elif case == "wrong-key":
        request = signed(
            fed,
            dpa,
            "POST",
            "/v1/packets",
            body,
            key=generate_private_key(),
            kid=public_jwk(key_of(fed, "mission"))["kid"],
        )
    elif case == "unknown-keyid":
        request = signed(fed, dpa, "POST", "/v1/packets", body, key=generate_private_key())
    elif case == "stale":
        request = signed(
            fed, dpa, "POST", "/v1/packets", body, created=datetime.now(UTC) - timedelta(minutes=10)
        )
    elif case == "future":
        request = signed(
            fed, dpa, "POST", "/v1/packets", body, created=datetime.now(UTC) + timedelta(minutes=10)
        )
    elif case == "digest":
        original = signed(fed, dpa, "POST", "/v1/packets", body)
        headers = {k: v for k, v in original.headers.items() if k != "content-length"}
        request = httpx.Request("POST", original.url, content=views_body("x"), headers=headers)
    else:
        original = signed(fed, dpa, "POST", "/v1/packets", body)
        headers = {k: v for k, v in original.headers.items() if k != "content-length"}
        request = httpx.Request("GET", original.url, content=body, headers=headers)
    problem = assert_problem(send(request), 401, code)
    assert problem["instance"] == "/v1/packets"


def test_replayed_nonce_is_refused(fed: LocalFederation, dpa: NodeHandle) -> None:
    first = signed(fed, dpa, "GET", "/v1/packets?since=0", nonce="fixed-nonce-for-replay-test")
    assert send(first).status_code == 200
    again = signed(fed, dpa, "GET", "/v1/packets?since=0", nonce="fixed-nonce-for-replay-test")
    assert_problem(send(again), 401, "replayed-nonce")


def test_oversized_and_malformed_bodies(fed: LocalFederation, dpa: NodeHandle) -> None:
    big = views_body("x" * 300_000)
    assert_problem(send(signed(fed, dpa, "POST", "/v1/packets", big)), 413, "payload-too-large")
    not_json = signed(fed, dpa, "POST", "/v1/packets", b"{views")
    assert_problem(send(not_json), 400, "bad-request")
    no_views = signed(fed, dpa, "POST", "/v1/packets", b'{"packets": []}')
    assert "views" in assert_problem(send(no_views), 400, "bad-request")["detail"]


def test_catch_up_feed_lists_only_what_is_owed(fed: LocalFederation, dpa: NodeHandle) -> None:
    response = send(signed(fed, dpa, "GET", "/v1/packets?since=0&limit=10", signer="unodc"))
    assert response.status_code == 200
    assert response.json() == {"items": [], "next": 0}


def test_local_api_tokens_and_roles(fed: LocalFederation, dpa: NodeHandle) -> None:
    with httpx.Client(base_url=dpa.url, timeout=30) as client:
        assert_problem(client.get("/v1/local/packets"), 401, "unauthenticated")
        wrong = client.get("/v1/local/packets", headers={"authorization": "Bearer nope"})
        assert_problem(wrong, 401, "unauthenticated")
    with dpa.client("submitter") as client:
        assert_problem(client.get("/v1/local/packets"), 403, "forbidden")
    with dpa.client("analyst") as client:
        denied = client.post("/v1/local/records", json={"schema": "seizure/1", "records": []})
        assert_problem(denied, 403, "forbidden")


def test_local_records_keep_the_good_and_name_the_bad(
    fed: LocalFederation, dpa: NodeHandle
) -> None:
    record = json.loads((EXAMPLES / "records" / "market-price.json").read_text())
    with dpa.client("submitter") as client:
        mixed = client.post(
            "/v1/local/records",
            json={"schema": "market-price/1", "records": [record, {**record, "price": "free"}]},
        )
        assert mixed.status_code == 200
        body = mixed.json()
        assert body["accepted"] == 1
        assert body["rejected"][0]["index"] == 1 and "price" in body["rejected"][0]["detail"]
        only_bad = client.post(
            "/v1/local/records", json={"schema": "market-price/1", "record": {"price": 1}}
        )
        problem = assert_problem(only_bad, 422, "unprocessable")
        assert problem["rejected"][0]["index"] == 0
        unknown = client.post("/v1/local/records", json={"schema": "weather/1", "record": {}})
        assert_problem(unknown, 422, "unknown-schema")
        both = client.post(
            "/v1/local/records", json={"schema": "market-price/1", "record": record, "records": []}
        )
        assert_problem(both, 400, "bad-request")


def test_meta_endpoints(fed: LocalFederation, dpa: NodeHandle) -> None:
    with httpx.Client(base_url=dpa.url, timeout=30) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        assert client.get("/readyz").json()["participant"] == "dpa"
        schemas = client.get("/v1/schemas").json()["schemas"]
        assert "conflict-event/1" in schemas
        one = client.get("/v1/schemas/market-price/1").json()
        assert one["$id"].endswith("market-price/1")
        assert_problem(client.get("/v1/schemas/weather/1"), 422, "unknown-schema")
        manifest = client.get("/v1/manifest").json()
        assert manifest["serial"] == 1 and len(manifest["signatures"]) >= 2
        metrics = client.get("/metrics").text
        assert "clearinghouse_packets_received_total" in metrics
        assert "clearinghouse_outbox_depth" in metrics
        assert_problem(client.get("/nope"), 404, "not-found")
