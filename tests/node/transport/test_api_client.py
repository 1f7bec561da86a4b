"""The typed client of the local API, checked against the node's own OpenAPI document.

* each client operation (:data:`OPERATIONS`, and the two answered as text or bytes) is an
  operation of the document the node serves, with the same method and path, and its
  answer model's JSON Schema is the document's, nested models included;
* against one real node (dpa) on loopback: records submitted and answered as
  ``RecordsAnswer``, a submission refused whole as a ``NodeRefused`` carrying each
  record's refusal, the audit reads as their models, a manifest submitted;
* an answer that is not the documented one is ``AnswerMalformed`` naming the model and
  the member; no answer at all is ``NodeUnreachable``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic.json_schema import models_json_schema

from clearinghouse.node.api.models import AuditCheckpointList, RecordsAnswer
from clearinghouse.node.localfed import LocalFederation, NodeHandle
from clearinghouse.node.transport.api_client import (
    OPERATIONS,
    RAW_OPERATIONS,
    NodeApiClient,
    open_api_client,
)
from clearinghouse.node.transport.local_api import AnswerMalformed, NodeRefused, NodeUnreachable
from tests.nodes import built_federation, served_node
from tests.support import EXAMPLES

EVENT = json.loads((EXAMPLES / "records" / "conflict-event.json").read_text())


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory) -> LocalFederation:
    return built_federation(tmp_path_factory.mktemp("client"), ("mission", "unodc", "dpa"))


@pytest.fixture(scope="module")
def dpa(fed: LocalFederation) -> Iterator[NodeHandle]:
    with served_node(fed.nodes["dpa"]) as served:
        yield served.handle


@pytest.fixture(scope="module")
def document(dpa: NodeHandle) -> dict[str, Any]:
    answer: dict[str, Any] = httpx.get(dpa.url + "/openapi.json", timeout=30).json()
    return answer


def client(node: NodeHandle, role: str) -> NodeApiClient:
    return open_api_client(node.url, node.tokens[role])


def without_nulls(schema: Any) -> Any:
    """``schema`` as the document carries it: FastAPI leaves out members that are null
    (a ``default`` of None), but not inside ``examples``."""
    if isinstance(schema, dict):
        return {
            k: (v if k == "examples" else without_nulls(v))
            for k, v in schema.items()
            if v is not None
        }
    if isinstance(schema, list):
        return [without_nulls(v) for v in schema]
    return schema


def test_each_operation_is_the_documents(document: dict[str, Any]) -> None:
    by_id = {
        op["operationId"]: (method.upper(), path)
        for path, methods in document["paths"].items()
        for method, op in methods.items()
    }
    ours = {op.operation_id: (op.method, op.path) for op in OPERATIONS}
    assert len(ours) == len(OPERATIONS) >= 10
    for operation_id, (method, path) in {**ours, **RAW_OPERATIONS}.items():
        assert by_id.get(operation_id) == (method, path), operation_id


def test_each_answer_model_is_the_documents(document: dict[str, Any]) -> None:
    components = document["components"]["schemas"]
    paths = document["paths"]
    for op in OPERATIONS:
        answer = paths[op.path][op.method.lower()]["responses"][str(op.success)]
        ref = answer["content"]["application/json"]["schema"]["$ref"]
        assert ref == f"#/components/schemas/{op.answer.__name__}", op.operation_id
        _, schemas = models_json_schema(
            [(op.answer, "serialization")], ref_template="#/components/schemas/{model}"
        )
        for name, schema in schemas["$defs"].items():
            assert without_nulls(schema) == components[name], (op.operation_id, name)


def test_records_are_submitted_and_answered(dpa: NodeHandle) -> None:
    event = {**EVENT, "event_id": "client-1"}
    with client(dpa, "submitter") as api:
        answer = api.submit_records("conflict-event/1", [event, {"event_id": "bad"}])
        again = api.submit_records("conflict-event/1", [event], idempotency_key="client-key-1")
    assert isinstance(answer, RecordsAnswer)
    assert (answer.accepted, answer.issued, answer.duplicates) == (1, 1, 0)
    [packet] = answer.packets
    assert packet.outcome == "issued" and packet.index == 0
    [rejected] = answer.rejected
    assert rejected.index == 1 and rejected.status == 422 and rejected.jti is None
    assert again.packets[0].outcome == "duplicate" and again.packets[0].jti == packet.jti


def test_a_submission_refused_whole_carries_each_refusal(dpa: NodeHandle) -> None:
    with client(dpa, "submitter") as api, pytest.raises(NodeRefused) as refused:
        api.submit_records("conflict-event/1", [{"event_id": "bad"}, {"year": 2016}])
    problem = refused.value.problem
    assert refused.value.status == 422 and problem is not None
    assert problem.type == "urn:clearinghouse:problem:unprocessable"
    assert [r.index for r in problem.rejected or []] == [0, 1]


def test_a_wrong_role_is_refused_with_its_problem(dpa: NodeHandle) -> None:
    with client(dpa, "analyst") as api, pytest.raises(NodeRefused) as refused:
        api.submit_records("conflict-event/1", [EVENT])
    assert refused.value.status == 403
    assert refused.value.problem is not None and refused.value.problem.status == 403
    assert refused.value.message.startswith(f"{dpa.url}/v1/local/records: HTTP 403: ")


def test_the_audit_reads(dpa: NodeHandle, fed: LocalFederation) -> None:
    with client(dpa, "auditor") as api:
        size = api.audit_size()
        page = api.entries(start=0, end=size)
        found = api.search(limit=5)
        checkpoints = api.checkpoints(after=0, limit=10)
        ready = api.readiness()
        stats = api.node_stats()
        manifest = api.manifest()
    assert size > 0 and len(page.entries) == size == page.size
    assert [e.seq for e in page.entries] == list(range(size))
    assert found.entries and found.entries[0].seq >= size - 1  # reads may be audited too
    assert isinstance(checkpoints, AuditCheckpointList)
    assert ready.participant == "dpa" == stats.participant
    assert manifest == fed.manifest_path.read_bytes()


def test_a_manifest_held_already(dpa: NodeHandle, fed: LocalFederation) -> None:
    with client(dpa, "admin") as api:
        outcome = api.submit_manifest(fed.manifest_path.read_bytes())
    assert outcome.status == "already-held" and outcome.serial >= 1


def _answering(status: int, body: Any) -> NodeApiClient:
    transport = httpx.MockTransport(lambda _: httpx.Response(status, json=body))
    return NodeApiClient(httpx.Client(base_url="http://node", transport=transport))


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"accepted": 1, "rejected": [], "packets": []}, "issued: Field required"),
        (
            {"accepted": "1", "issued": 1, "duplicates": 0, "rejected": [], "packets": []},
            "accepted: Input should be a valid integer",
        ),
        ([], "Input should be a valid dictionary"),
    ],
)
def test_an_answer_not_as_documented_is_malformed(body: Any, named: str) -> None:
    with _answering(200, body) as api, pytest.raises(AnswerMalformed) as malformed:
        api.submit_records("conflict-event/1", [EVENT])
    assert "not the documented RecordsAnswer" in malformed.value.message
    assert named in malformed.value.message
    assert malformed.value.document == body


def test_a_proxy_error_page_is_a_refusal_without_a_problem() -> None:
    transport = httpx.MockTransport(lambda _: httpx.Response(502, text="<html>bad gateway"))
    api = NodeApiClient(httpx.Client(base_url="http://node", transport=transport))
    with api, pytest.raises(NodeRefused) as refused:
        api.readiness()
    assert refused.value.problem is None and refused.value.document is None
    assert refused.value.detail == "<html>bad gateway"


def test_no_answer_is_unreachable() -> None:
    with open_api_client("http://127.0.0.1:9", "t") as api, pytest.raises(NodeUnreachable):
        api.readiness()
