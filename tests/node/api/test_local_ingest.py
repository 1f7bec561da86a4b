"""``POST /v1/local/records`` issues only records, and issues each record once.

One node (dpa) served for real on loopback, in a federation whose manifest lets dpa
originate conflict events and financial flows only (``originates``):

* a submitter cannot issue an analysis result (a copy of a real one's claims): 403
  ``schema-forbidden``, nothing stored, one ``record.rejected`` entry; nor a market
  price, which the manifest does not let dpa originate;
* the same batch sent twice issues nothing the second time: each record is answered
  with the packet issued for it (``outcome: duplicate``);
* a record whose natural key (``event_id``) is held with other content (a UCDP
  revision) is rejected with status 409 naming the packet held, alone (409 problem) or
  in a batch whose other records are kept, and recorded;
* ``Idempotency-Key``: the same key and body get the first answer again (200 or 422),
  another body 422, a key in progress 409, a malformed key 400; keys are per token;
* ``clearinghouse ingest`` sends one key per batch, derived from the file: run twice
  on the same file, it issues nothing the second time.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlmodel import select
from typer.testing import CliRunner

from clearinghouse.node.cli.main import app as cli
from clearinghouse.node.localfed import FEDERATION_YAML, LocalFederation, NodeHandle
from clearinghouse.node.settings import load_settings
from clearinghouse.node.storage import idempotency
from clearinghouse.node.storage.db import make_engine, transaction
from clearinghouse.node.storage.models import IdempotencyRecord
from clearinghouse.protocol.manifest import parse_manifest
from clearinghouse.protocol.results import result_record
from tests.codebooks import ucdp_ged
from tests.nodes import built_federation, served_node
from tests.support import EXAMPLES

EVENT = json.loads((EXAMPLES / "records" / "conflict-event.json").read_text())
FLOW = json.loads((EXAMPLES / "records" / "financial-flow.json").read_text())
MARKET = json.loads((EXAMPLES / "records" / "market-price.json").read_text())
ORIGINATES = ["conflict-event/1", "financial-flow/1"]


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory) -> LocalFederation:
    config = yaml.safe_load(FEDERATION_YAML.read_text())
    for entry in config["participants"]:
        if entry["id"] == "dpa":
            entry["originates"] = ORIGINATES
    return built_federation(
        tmp_path_factory.mktemp("ingest"), ("mission", "unodc", "dpa"), config=config
    )


@pytest.fixture(scope="module")
def dpa(fed: LocalFederation) -> Iterator[NodeHandle]:
    with served_node(fed.nodes["dpa"]) as served:
        yield served.handle


_ids = iter(range(900_000, 999_999))


def event(**changes: Any) -> dict[str, Any]:
    """The example event under an id of its own (unless ``changes`` names one)."""
    return {**copy.deepcopy(EVENT), "event_id": str(next(_ids)), **changes}


def post(
    node: NodeHandle, body: dict[str, Any], *, key: str | None = None, role: str = "submitter"
) -> httpx.Response:
    headers = {"idempotency-key": key} if key is not None else {}
    with node.client(role) as client:
        return client.post("/v1/local/records", json=body, headers=headers)


def problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    document: dict[str, Any] = response.json()
    assert document["type"] == f"urn:clearinghouse:problem:{code}", document
    return document


def packet_count(node: NodeHandle) -> int:
    with node.client("analyst") as client:
        return len(client.get("/v1/local/packets", params={"limit": 1000}).json()["items"])


def audit(node: NodeHandle, **query: str) -> list[dict[str, Any]]:
    with node.client("auditor") as client:
        entries: list[dict[str, Any]] = client.get("/v1/audit/search", params=query).json()[
            "entries"
        ]
    return entries


def body_of(entry: dict[str, Any]) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(entry["body"])
    return document


# -- only records, and only those the manifest lets this node originate ---------------


def test_a_submitter_cannot_forge_an_analysis_result(fed: LocalFederation, dpa: NodeHandle) -> None:
    issued = post(dpa, {"schema": "conflict-event/1", "record": event()}).json()["packets"][0]
    declared = parse_manifest(fed.manifest_path.read_bytes()).participant("dpa").analyzer
    assert declared is not None
    forged = result_record(
        analyzer=declared,
        input_jti=issued["jti"],
        input_digest=issued["sha256"],
        input_schema="conflict-event/1",
        input_issuer="dpa",
        findings=[{"kind": "spoiler-typology", "subject": "Idlib", "explanation": "edited"}],
        explanation="a finding nobody's analyzer made",
    )
    before, seen = packet_count(dpa), len(audit(dpa, act="record.rejected"))

    for role in ("submitter", "admin"):
        refused = post(dpa, {"schema": "analysis-result/1", "records": [forged]}, role=role)
        detail = problem(refused, 403, "schema-forbidden")["detail"]
        assert "analysis-result/1" in detail and "analysis pipeline" in detail

    assert packet_count(dpa) == before  # nothing issued
    entries = audit(dpa, act="record.rejected")
    assert len(entries) == seen + 2
    assert {
        (body_of(e)["schema"], body_of(e)["code"], body_of(e)["records"]) for e in entries[:2]
    } == {("analysis-result/1", "schema-forbidden", 1)}


def test_a_schema_the_manifest_does_not_let_the_node_originate_is_refused(
    dpa: NodeHandle,
) -> None:
    before = packet_count(dpa)
    refused = post(dpa, {"schema": "market-price/1", "records": [MARKET, MARKET]})
    detail = problem(refused, 403, "schema-forbidden")["detail"]
    assert "market-price/1" in detail
    assert all(schema in detail for schema in ORIGINATES)  # the allowed list
    assert packet_count(dpa) == before
    (entry, *_) = audit(dpa, act="record.rejected")
    assert (body_of(entry)["schema"], body_of(entry)["records"]) == ("market-price/1", 2)
    # what it may originate goes through
    assert post(dpa, {"schema": "financial-flow/1", "record": FLOW}).status_code == 200


# -- natural keys: a record sent again is a duplicate, a revision is refused (409) --------


def test_the_same_batch_twice_issues_each_record_once(dpa: NodeHandle) -> None:
    batch = {"schema": "conflict-event/1", "records": [event(), event()]}
    first = post(dpa, batch)
    assert first.status_code == 200, first.text
    assert (first.json()["issued"], first.json()["duplicates"]) == (2, 0)
    count = packet_count(dpa)

    again = post(dpa, batch)

    assert again.status_code == 200, again.text
    body = again.json()
    assert (body["accepted"], body["issued"], body["duplicates"], body["rejected"]) == (2, 0, 2, [])
    assert [(p["index"], p["jti"], p["sha256"]) for p in body["packets"]] == [
        (p["index"], p["jti"], p["sha256"]) for p in first.json()["packets"]
    ]
    assert {p["outcome"] for p in body["packets"]} == {"duplicate"}
    assert [p["recipients"] for p in body["packets"]] == [
        p["recipients"] for p in first.json()["packets"]
    ]
    assert packet_count(dpa) == count


def test_a_revision_is_refused_naming_the_packet_held_and_never_costs_the_others(
    dpa: NodeHandle,
) -> None:
    original = event()
    held = post(dpa, {"schema": "conflict-event/1", "record": original}).json()["packets"][0]
    revised = {**original, "deaths": {**original["deaths"], "best": original["deaths"]["best"] + 7}}
    count = packet_count(dpa)

    alone = problem(
        post(dpa, {"schema": "conflict-event/1", "record": revised}), 409, "record-conflict"
    )
    assert held["jti"] in alone["detail"]
    assert alone["rejected"] == [
        {
            "index": 0,
            "status": 409,
            "code": "record-conflict",
            "detail": alone["rejected"][0]["detail"],
            "jti": held["jti"],
        }
    ]
    assert packet_count(dpa) == count
    (entry, *_) = audit(dpa, act="record.rejected", jti=held["jti"])
    assert body_of(entry)["code"] == "record-conflict"

    # in a batch: the new record is issued, the revision refused, a bad one 422
    fresh = event()
    mixed = post(
        dpa,
        {"schema": "conflict-event/1", "records": [revised, fresh, {**fresh, "year": 1}]},
    )
    assert mixed.status_code == 200, mixed.text
    body = mixed.json()
    assert [(p["index"], p["outcome"]) for p in body["packets"]] == [(1, "issued")]
    assert [(r["index"], r["status"], r["code"]) for r in body["rejected"]] == [
        (0, 409, "record-conflict"),
        (2, 422, "schema-violation"),
    ]
    # a handling code is part of what a record says: another one is a revision too
    restricted = post(dpa, {"schema": "conflict-event/1", "record": original, "hc": "H2"})
    problem(restricted, 409, "record-conflict")


def test_one_key_twice_in_a_batch_is_issued_once(dpa: NodeHandle) -> None:
    same, other = event(), event()
    changed = {**other, "narrative": "another account of it"}
    response = post(dpa, {"schema": "conflict-event/1", "records": [same, other, same, changed]})
    assert response.status_code == 200, response.text
    body = response.json()
    outcomes = {p["index"]: p for p in body["packets"]}
    assert [(i, outcomes[i]["outcome"]) for i in sorted(outcomes)] == [
        (0, "issued"),
        (1, "issued"),
        (2, "duplicate"),
    ]
    assert outcomes[2]["jti"] == outcomes[0]["jti"]
    assert [(r["index"], r["status"], r["jti"]) for r in body["rejected"]] == [
        (3, 409, outcomes[1]["jti"])
    ]


def test_the_same_new_record_sent_at_once_twice_is_issued_once(dpa: NodeHandle) -> None:
    body = {"schema": "conflict-event/1", "records": [event() for _ in range(20)]}
    count = packet_count(dpa)
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda _: post(dpa, body), range(2)))
    assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
    jtis = [[p["jti"] for p in a.json()["packets"]] for a in answers]
    assert jtis[0] == jtis[1]
    assert sum(a.json()["issued"] for a in answers) == 20
    assert packet_count(dpa) == count + 20


# -- Idempotency-Key --------------------------------------------------------------------


def test_the_same_key_and_body_get_the_first_answer(dpa: NodeHandle) -> None:
    body = {"schema": "conflict-event/1", "records": [event(), event()]}
    first = post(dpa, body, key="batch-1")
    assert first.status_code == 200 and "idempotent-replayed" not in first.headers
    count = packet_count(dpa)

    again = post(dpa, body, key='"batch-1"')  # the structured-field form is the same key

    assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()  # issued, not duplicates: the first answer
    assert packet_count(dpa) == count
    # another body under the key: 422, and nothing done
    other = problem(post(dpa, {**body, "records": [event()]}, key="batch-1"), 422,
                    "idempotency-key-reused")  # fmt: skip
    assert "batch-1" in other["detail"]
    assert packet_count(dpa) == count
    # the key is the submitter's: another token's key of that name is its own
    mine = post(dpa, {**body, "records": [event()]}, key="batch-1", role="admin")
    assert mine.status_code == 200 and mine.json()["issued"] == 1


def test_a_refusal_is_the_answer_given_again(dpa: NodeHandle) -> None:
    bad = {"schema": "conflict-event/1", "record": {**event(), "year": 1}}
    first = problem(post(dpa, bad, key="bad-1"), 422, "unprocessable")
    again = post(dpa, bad, key="bad-1")
    replayed = problem(again, 422, "unprocessable")
    assert again.headers["idempotent-replayed"] == "true"
    assert (replayed["detail"], replayed["rejected"]) == (first["detail"], first["rejected"])


def test_a_key_in_progress_is_409(dpa: NodeHandle) -> None:
    body = {"schema": "conflict-event/1", "record": event()}
    raw = json.dumps(body).encode()
    engine = make_engine(load_settings(dpa.config).database_url)
    try:
        with transaction(engine) as session:  # a request with this key is being processed
            assert (
                idempotency.claim(
                    session,
                    token="submitter",
                    key="running-1",
                    request_sha256=hashlib.sha256(raw).hexdigest(),
                    now=datetime.now(UTC),
                    retention=timedelta(days=1),
                )
                is None
            )
    finally:
        engine.dispose()
    with dpa.client("submitter") as client:
        response = client.post(
            "/v1/local/records",
            content=raw,
            headers={"idempotency-key": "running-1", "content-type": "application/json"},
        )
    assert "running-1" in problem(response, 409, "idempotency-key-in-use")["detail"]


@pytest.mark.parametrize(
    "key",
    ["", "has space", "x" * 256, 'quo"te', "back\\slash", '"unterminated', "caf\u00e9"],
    ids=["empty", "space", "too long", "quote", "backslash", "unterminated", "non-ascii"],
)
def test_a_malformed_key_is_400(dpa: NodeHandle, key: str) -> None:
    count = packet_count(dpa)
    request = httpx.Request(
        "POST",
        dpa.url + "/v1/local/records",
        json={"schema": "conflict-event/1", "record": event()},
        headers={
            "authorization": f"Bearer {dpa.tokens['submitter']}",
            "idempotency-key": key.encode(),
        },
    )
    with httpx.Client(timeout=30) as client:
        response = client.send(request)
    assert "Idempotency-Key" in problem(response, 400, "bad-request")["detail"]
    assert packet_count(dpa) == count


def test_two_keys_are_400(dpa: NodeHandle) -> None:
    with dpa.client("submitter") as client:
        response = client.post(
            "/v1/local/records",
            json={"schema": "conflict-event/1", "record": event()},
            headers=[("idempotency-key", "a"), ("idempotency-key", "b")],
        )
    assert "one key" in problem(response, 400, "bad-request")["detail"]


def test_the_cli_sends_a_key_per_batch_and_a_rerun_issues_nothing(
    dpa: NodeHandle, tmp_path: Path
) -> None:
    path = ucdp_ged.write_csv(tmp_path / "ged.csv", ucdp_ged.rows("Mali", 7, seed=16), "25.1")
    args = ["ingest", "--node", dpa.url, "--token", dpa.tokens["submitter"]]
    args += ["--schema", "conflict-event/1", "--format", "ucdp-ged", "--batch", "3", str(path)]
    before = packet_count(dpa)

    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.output
    assert packet_count(dpa) == before + 7
    again = CliRunner().invoke(cli, args)

    assert again.exit_code == 0, again.output
    assert again.stdout == first.stdout  # the same counts: every row accepted
    assert packet_count(dpa) == before + 7
    engine = make_engine(load_settings(dpa.config).database_url)
    try:
        with transaction(engine) as session:
            keys = session.exec(
                select(IdempotencyRecord).where(IdempotencyRecord.token == "submitter")
            ).all()
    finally:
        engine.dispose()
    batches = {k.key.rsplit("-", 1)[1]: k.status for k in keys if k.key.startswith("ingest-")}
    assert batches == {"0": 200, "1": 200, "2": 200}  # 7 rows in batches of 3
