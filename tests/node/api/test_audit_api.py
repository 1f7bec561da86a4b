"""``/v1/audit`` on one node served for real on loopback: who may read, precise refusals
(problem+json), checkpoints and proofs that verify, and witnesses' cosignatures."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from datetime import datetime
from itertools import count, pairwise
from typing import Any

import httpx
import pytest

from clearinghouse.node.context import NodeContext
from clearinghouse.node.localfed import LocalFederation, NodeHandle
from clearinghouse.node.services.checkpoints import sign_checkpoint
from clearinghouse.node.services.witness import Inconsistent, raise_alert
from clearinghouse.node.storage import auditlog
from clearinghouse.node.storage.db import transaction
from clearinghouse.protocol.audit import (
    Act,
    LogVerifier,
    audit_origin,
    log_keys,
    parse_entry,
    witness_keys,
    witness_name,
)
from clearinghouse.protocol.manifest import Manifest, parse_manifest
from clearinghouse.protocol.merkle import (
    MemoryTree,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)
from clearinghouse.protocol.notes import cosign, parse_checkpoint, parse_note, verify_note
from tests.nodes import built_federation, served_node
from tests.signer import participant_key, send, signed_request

PROBLEM_JSON = "application/problem+json"
_jtis = count()


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory) -> LocalFederation:
    return built_federation(tmp_path_factory.mktemp("audit-api"), ("mission", "unodc", "dpa"))


@pytest.fixture(scope="module")
def served(fed: LocalFederation) -> Iterator[tuple[NodeHandle, NodeContext]]:
    """The dpa node without workers; its log grown and checkpointed once."""
    with served_node(fed.nodes["dpa"]) as served:
        grow(served.context, 6)
        assert sign_checkpoint(served.context) is not None
        yield served.handle, served.context


@pytest.fixture
def dpa(served: tuple[NodeHandle, NodeContext]) -> NodeHandle:
    return served[0]


@pytest.fixture
def ctx(served: tuple[NodeHandle, NodeContext]) -> NodeContext:
    return served[1]


def grow(ctx: NodeContext, n: int) -> range:
    acts = [
        Act("view.sent", "node:dpa", peer="mission", jti=f"j{next(_jtis)}",
            fields={"digest": "d", "via": "push"})
        for _ in range(n)
    ]  # fmt: skip
    with transaction(ctx.engine) as session:
        return auditlog.append(session, acts, now=ctx.clock.now())


def key_of(fed: LocalFederation, participant: str) -> Any:
    return participant_key(fed.root, participant)


def manifest_of(fed: LocalFederation) -> Manifest:
    return parse_manifest((fed.root / "manifest.json").read_bytes())


def signed(
    fed: LocalFederation,
    node: NodeHandle,
    method: str,
    path: str,
    body: bytes = b"",
    *,
    signer: str = "mission",
) -> httpx.Request:
    return signed_request(method, node.url + path, body, key=key_of(fed, signer))


def get(node: NodeHandle, path: str, role: str = "auditor", **params: Any) -> httpx.Response:
    with node.client(role) as client:
        return client.get(path, params=params)


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    problem = response.json()
    assert problem["type"] == f"urn:clearinghouse:problem:{code}", problem
    assert problem["status"] == status and problem["detail"]
    return problem  # type: ignore[no-any-return]


def b64d(values: list[str]) -> list[bytes]:
    return [base64.b64decode(v, validate=True) for v in values]


def cosign_body(*items: tuple[int, str]) -> bytes:
    return json.dumps({"cosignatures": [{"size": s, "line": line} for s, line in items]}).encode()


def latest_text(ctx: NodeContext) -> tuple[int, str]:
    with transaction(ctx.engine) as session:
        row = auditlog.latest_checkpoint(session)
        assert row is not None
        return row.size, parse_note(row.note).text


# --- who may read -------------------------------------------------------------------------

READS = [
    "/v1/audit/checkpoint",
    "/v1/audit/checkpoints?after=0",
    "/v1/audit/entries?start=0&end=3",
    "/v1/audit/search?act=view.sent&limit=2",
    "/v1/audit/proof/inclusion?index=0&size=2",
    "/v1/audit/proof/consistency?old=1&new=2",
    "/v1/audit/alerts",
    "/v1/audit/witnessed",
]


@pytest.mark.parametrize("path", READS)
def test_reads_need_an_auditor_or_a_peer(fed: LocalFederation, dpa: NodeHandle, path: str) -> None:
    with httpx.Client(base_url=dpa.url, timeout=30) as client:
        assert_problem(client.get(path), 401, "unauthenticated")
        wrong = client.get(path, headers={"authorization": "Bearer not-a-token"})
        assert_problem(wrong, 401, "unauthenticated")
    for role in ("analyst", "submitter"):
        with dpa.client(role) as client:
            assert_problem(client.get(path), 403, "forbidden")
    for role in ("auditor", "admin"):
        with dpa.client(role) as client:
            assert client.get(path).status_code == 200
    by_peer = send(signed(fed, dpa, "GET", path, signer="unodc"))
    assert by_peer.status_code == 200, by_peer.text
    # A signature that does not verify is not waved through to the bearer check.
    request = signed(fed, dpa, "GET", path)
    request.headers["signature"] = request.headers["signature"][:-6] + "AAAAA:"
    assert send(request).status_code == 401


def test_cosign_is_for_signed_peers_only(fed: LocalFederation, dpa: NodeHandle) -> None:
    body = cosign_body((1, "x"))
    with httpx.Client(base_url=dpa.url, timeout=30) as client:
        assert_problem(client.post("/v1/audit/cosign", content=body), 401, "signature-missing")
    with dpa.client("auditor") as client:
        assert_problem(client.post("/v1/audit/cosign", content=body), 401, "signature-missing")
    with dpa.client("admin") as client:
        assert_problem(client.post("/v1/audit/cosign", content=body), 401, "signature-missing")


# --- problem+json on bad parameters -------------------------------------------------------


def test_bad_parameters_are_refused_precisely(dpa: NodeHandle, ctx: NodeContext) -> None:
    with transaction(ctx.engine) as session:
        size = auditlog.head(session).size
    cases = [
        ("/v1/audit/entries", {"start": 10, "end": 5}, 400, "bad-request", "before start"),
        ("/v1/audit/entries", {"start": 0, "end": 10_001}, 400, "bad-request", "at most"),
        ("/v1/audit/entries", {"start": 7, "end": 10_008}, 400, "bad-request", "at most"),
        ("/v1/audit/proof/inclusion", {"index": 3, "size": 3}, 400, "bad-request", "leaf 3"),
        ("/v1/audit/proof/inclusion", {"index": 0, "size": size + 1}, 400, "bad-request", "not"),
        ("/v1/audit/proof/consistency", {"old": 3, "new": 2}, 400, "bad-request", "3 to 2"),
        ("/v1/audit/proof/consistency", {"old": 1, "new": size + 1}, 400, "bad-request", "not"),
        ("/v1/audit/search", {"since": "2026-11-29T10:00:00"}, 400, "bad-request", "since"),
        ("/v1/audit/search", {"until": "2026-11-29T10:00:00"}, 400, "bad-request", "until"),
        ("/v1/audit/search", {"limit": 0}, 422, "invalid-request", "limit"),
        ("/v1/audit/search", {"since": "yesterday"}, 422, "invalid-request", "since"),
        ("/v1/audit/entries", {"start": -1}, 422, "invalid-request", "start"),
        ("/v1/audit/proof/inclusion", {"index": 0}, 422, "invalid-request", "size"),
        ("/v1/audit/proof/inclusion", {"index": 0, "size": 0}, 422, "invalid-request", "size"),
        ("/v1/audit/proof/consistency", {"old": 0, "new": 2}, 422, "invalid-request", "old"),
        ("/v1/audit/checkpoints", {"limit": 1001}, 422, "invalid-request", "limit"),
    ]
    for path, params, status, code, words in cases:
        problem = assert_problem(get(dpa, path, **params), status, code)
        assert words in problem["detail"], (path, params, problem)
        assert problem["instance"] == path


def test_good_parameters_at_the_edges(dpa: NodeHandle, ctx: NodeContext) -> None:
    with transaction(ctx.engine) as session:
        size = auditlog.head(session).size
    assert get(dpa, "/v1/audit/entries", start=0, end=10_000).status_code == 200
    assert get(dpa, "/v1/audit/entries", start=5, end=5).json()["entries"] == []
    assert get(dpa, "/v1/audit/proof/inclusion", index=size - 1, size=size).status_code == 200
    assert get(dpa, "/v1/audit/proof/consistency", old=size, new=size).json()["proof"] == []
    aware = get(dpa, "/v1/audit/search", since="2000-01-01T00:00:00+02:00", limit=1)
    assert aware.status_code == 200 and len(aware.json()["entries"]) == 1


# --- checkpoints, entries and proofs verify -----------------------------------------------


def test_the_checkpoint_note_verifies_and_matches_the_entries(
    fed: LocalFederation, dpa: NodeHandle, ctx: NodeContext
) -> None:
    response = get(dpa, "/v1/audit/checkpoint")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    manifest = manifest_of(fed)
    origin = audit_origin(manifest.federation, "dpa")
    verified = verify_note(response.text, log_keys(manifest, "dpa"))
    assert [(v.name, v.kind) for v in verified] == [(origin, "ed25519")]
    checkpoint = parse_checkpoint(parse_note(response.text).text)
    assert checkpoint.origin == origin
    entries = get(dpa, "/v1/audit/entries", start=0, end=checkpoint.size).json()["entries"]
    assert [e["seq"] for e in entries] == list(range(checkpoint.size))
    leaves = [leaf_hash(e["body"].encode()) for e in entries]
    assert b64d([e["leaf_hash"] for e in entries]) == leaves
    assert MemoryTree(leaves).root() == checkpoint.root
    # Another node's key does not pass for dpa's.
    with pytest.raises(Exception, match="no signature by a known key"):
        verify_note(response.text, log_keys(manifest, "mission"))


def test_checkpoints_come_with_proofs_between_successive_items(
    dpa: NodeHandle, ctx: NodeContext
) -> None:
    for n in (1, 3, 8):
        grow(ctx, n)
        assert sign_checkpoint(ctx) is not None
    assert sign_checkpoint(ctx) is None  # the log did not grow
    items = get(dpa, "/v1/audit/checkpoints", after=0).json()["checkpoints"]
    assert len(items) >= 4
    sizes = [i["size"] for i in items]
    assert sizes == sorted(set(sizes))
    assert items[0]["consistency"] == []
    roots = {i["size"]: base64.b64decode(i["root"]) for i in items}
    for item in items:
        checkpoint = parse_checkpoint(parse_note(item["note"]).text)
        assert (checkpoint.size, checkpoint.root) == (item["size"], roots[item["size"]])
    for previous, item in pairwise(items):
        proof = b64d(item["consistency"])
        verify_consistency(
            previous["size"], item["size"], roots[previous["size"]], roots[item["size"]], proof
        )

    # From a size that is no checkpoint: the first proof starts there.
    after = sizes[0] + 1
    page = get(dpa, "/v1/audit/checkpoints", after=after, limit=2).json()["checkpoints"]
    assert [i["size"] for i in page] == [s for s in sizes if s > after][:2]
    consistency = get(dpa, "/v1/audit/proof/consistency", old=after, new=page[0]["size"]).json()
    verify_consistency(
        after,
        page[0]["size"],
        base64.b64decode(consistency["old_root"]),
        roots[page[0]["size"]],
        b64d(page[0]["consistency"]),
    )
    assert base64.b64decode(consistency["new_root"]) == roots[page[0]["size"]]


def test_inclusion_proofs_verify_against_the_signed_checkpoint(
    dpa: NodeHandle, ctx: NodeContext
) -> None:
    grow(ctx, 5)
    sign_checkpoint(ctx)
    note = get(dpa, "/v1/audit/checkpoint").text
    checkpoint = parse_checkpoint(parse_note(note).text)
    entries = get(dpa, "/v1/audit/entries", start=0, end=checkpoint.size).json()["entries"]
    for index in {0, 1, checkpoint.size // 2, checkpoint.size - 1}:
        answer = get(dpa, "/v1/audit/proof/inclusion", index=index, size=checkpoint.size).json()
        leaf = leaf_hash(entries[index]["body"].encode())
        assert base64.b64decode(answer["leaf_hash"]) == leaf
        assert base64.b64decode(answer["root"]) == checkpoint.root
        verify_inclusion(leaf, index, checkpoint.size, b64d(answer["proof"]), checkpoint.root)


def test_an_auditor_can_verify_the_whole_log_from_the_api(
    fed: LocalFederation, dpa: NodeHandle
) -> None:
    manifest = manifest_of(fed)
    origin = audit_origin(manifest.federation, "dpa")
    items = get(dpa, "/v1/audit/checkpoints", after=0).json()["checkpoints"]
    notes = {i["size"]: (i["note"], b64d(i["consistency"]) or None) for i in items}
    page = get(dpa, "/v1/audit/entries", start=0, end=10_000).json()
    verifier = LogVerifier(origin, log_keys(manifest, "dpa"), witness_keys(manifest, besides="dpa"))
    for entry in page["entries"]:
        if verifier.size in notes:
            verifier.checkpoint(*notes.pop(verifier.size))
        verifier.entry(entry["seq"], entry["body"].encode(), base64.b64decode(entry["leaf_hash"]))
    if verifier.size in notes:
        verifier.checkpoint(*notes.pop(verifier.size))
    verifier.finish(page["size"])
    assert notes == {} and verifier.checkpoints == len(items)


def test_search_filters_and_pages(dpa: NodeHandle, ctx: NodeContext) -> None:
    made = grow(ctx, 4)
    newest = get(dpa, "/v1/audit/search", act="view.sent", limit=3).json()
    assert [e["seq"] for e in newest["entries"]] == [made[-1], made[-2], made[-3]]
    assert newest["next"] == made[-3]
    more = get(dpa, "/v1/audit/search", act="view.sent", before=newest["next"], limit=1).json()
    assert [e["seq"] for e in more["entries"]] == [made[0]]
    jti = parse_entry(newest["entries"][0]["body"].encode()).jti
    (one,) = get(dpa, "/v1/audit/search", jti=jti).json()["entries"]
    assert one["seq"] == made[-1]
    assert get(dpa, "/v1/audit/search", peer="nobody").json() == {"entries": [], "next": None}
    future = get(dpa, "/v1/audit/search", since="2999-01-01T00:00:00Z").json()
    assert future["entries"] == []


# --- cosignatures -------------------------------------------------------------------------


def test_a_good_cosignature_is_stored_and_served(
    fed: LocalFederation, dpa: NodeHandle, ctx: NodeContext
) -> None:
    grow(ctx, 2)
    sign_checkpoint(ctx)
    size, text = latest_text(ctx)
    manifest = manifest_of(fed)
    line = cosign(text, witness_name(manifest.federation, "mission"), key_of(fed, "mission"),
                  int(time.time()))  # fmt: skip
    body = cosign_body((size, line))
    response = send(signed(fed, dpa, "POST", "/v1/audit/cosign", body))
    assert response.status_code == 200, response.text
    assert response.json() == {"stored": 1, "received": 1}
    again = send(signed(fed, dpa, "POST", "/v1/audit/cosign", body))
    assert again.json() == {"stored": 0, "received": 1}

    note = get(dpa, "/v1/audit/checkpoint").text
    assert line in note
    verified = verify_note(note, [*log_keys(manifest, "dpa"), *witness_keys(manifest)])
    assert {(v.name, v.kind) for v in verified} == {
        (audit_origin(manifest.federation, "dpa"), "ed25519"),
        (witness_name(manifest.federation, "mission"), "cosignature/v1"),
    }
    items = get(dpa, "/v1/audit/checkpoints", after=size - 1).json()["checkpoints"]
    assert items[0]["size"] == size and items[0]["witnesses"] == ["mission"]
    assert line in items[0]["note"]


def test_cosignatures_that_do_not_verify_are_refused(
    fed: LocalFederation, dpa: NodeHandle, ctx: NodeContext
) -> None:
    grow(ctx, 1)
    sign_checkpoint(ctx)
    size, text = latest_text(ctx)
    federation = manifest_of(fed).federation
    now = int(time.time())
    by_unodc = cosign(text, witness_name(federation, "unodc"), key_of(fed, "unodc"), now)
    unodc_key_mission_name = cosign(
        text, witness_name(federation, "mission"), key_of(fed, "unodc"), now
    )
    good = cosign(text, witness_name(federation, "mission"), key_of(fed, "mission"), now)
    other_size_text = text.replace(f"\n{size}\n", f"\n{size - 1}\n")
    wrong_text = cosign(other_size_text, witness_name(federation, "mission"),
                        key_of(fed, "mission"), now)  # fmt: skip
    cases = [
        (cosign_body((size, by_unodc)), 0),
        (cosign_body((size, unodc_key_mission_name)), 0),
        (cosign_body((size, wrong_text)), 0),
        (cosign_body((size, good), (size + 1000, good)), 1),  # no checkpoint of that size
        (cosign_body((size, good), (size, by_unodc)), 1),
    ]
    for body, index in cases:
        response = send(signed(fed, dpa, "POST", "/v1/audit/cosign", body))
        problem = assert_problem(response, 422, "unprocessable")
        assert f"cosignatures[{index}]" in problem["detail"], problem
    # A refused request stores nothing, not even its good lines.
    items = get(dpa, "/v1/audit/checkpoints", after=size - 1).json()["checkpoints"]
    assert items[0]["witnesses"] == []

    for body in (b"not json", b"[]", b'{"cosignatures": []}', b'{"cosignatures": [{"size": 1}]}'):
        response = send(signed(fed, dpa, "POST", "/v1/audit/cosign", body))
        assert_problem(response, 400, "bad-request")


# --- alerts and witnessed logs ------------------------------------------------------------


def test_alerts_and_witnessed_logs_are_listed(dpa: NodeHandle, ctx: NodeContext) -> None:
    problem = Inconsistent("fork", "unodc signed two trees of size 4", "note a\nnote b")
    assert raise_alert(ctx, "unodc", problem)
    with transaction(ctx.engine) as session:
        auditlog.set_witnessed(
            session, peer="mission", size=7, root=leaf_hash(b"r"), note="a note\n",
            now=ctx.clock.now(),
        )  # fmt: skip
    alerts = get(dpa, "/v1/audit/alerts").json()["alerts"]
    assert any(
        (a["peer"], a["kind"], a["detail"], a["evidence"])
        == ("unodc", "fork", problem.detail, problem.evidence)
        for a in alerts
    )
    assert all(datetime.fromisoformat(a["raised_at"]).tzinfo is not None for a in alerts)
    logs = get(dpa, "/v1/audit/witnessed").json()["logs"]
    assert {"peer": "mission", "size": 7, "note": "a note\n"} in logs
