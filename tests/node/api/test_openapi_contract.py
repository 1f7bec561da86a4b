"""The OpenAPI document is a contract: named operations, security, problems, models, examples.

One node (dpa) of a built federation; its document is FastAPI's, completed by
:mod:`node.api.openapi`. The checks:

* every operation has the hand-chosen ``operationId`` listed here (:data:`OPERATIONS`),
  and the document has no other operation;
* ``securitySchemes`` names ``bearerAuth`` and ``peerSignature`` (RFC 9421 described),
  and ``openIdConnect`` (the issuer's discovery document) only when OIDC is configured;
  each operation's ``security`` is what its dependencies admit (:data:`ACCESS`);
* every refusal is ``application/problem+json`` with the ``Problem`` schema; the
  statuses an operation's authentication and parameters imply are declared; FastAPI's
  own validation error is never advertised;
* every JSON answer is a named model (a ``$ref``), every request body has an example,
  every schema's examples validate against it, every ``$ref`` resolves;
* the node's real answers (200s and problems) validate against the document's models.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import jsonschema
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from clearinghouse.node.api.models import Problem, RecordsAnswer
from clearinghouse.node.localfed import LocalFederation, NodeHandle
from tests.nodes import built_federation, node_app, served_node
from tests.support import EXAMPLES

#: Every operation of the document and its hand-chosen, stable operationId.
OPERATIONS = {
    "POST /v1/packets": "receiveViews",
    "GET /v1/packets": "getFeed",
    "POST /v1/local/records": "submitRecords",
    "GET /v1/local/packets": "listHeldPackets",
    "GET /v1/local/stats": "getStats",
    "GET /v1/local/analyzer": "getAnalyzer",
    "POST /v1/local/packets/{jti}/relay": "relayPacket",
    "POST /v1/local/sign-in-links": "mintSignInLink",
    "GET /v1/schemas": "listSchemas",
    "GET /v1/schemas/{schema_id}": "getSchema",
    "GET /v1/manifest": "getManifest",
    "POST /v1/manifest": "submitManifest",
    "POST /v1/authorisations": "submitAuthorisation",
    "GET /healthz": "getHealth",
    "GET /readyz": "getReadiness",
    "GET /metrics": "getMetrics",
    "GET /v1/situation": "getSituation",
    "GET /v1/audit/checkpoint": "getAuditCheckpoint",
    "GET /v1/audit/checkpoints": "listAuditCheckpoints",
    "GET /v1/audit/entries": "getAuditEntries",
    "GET /v1/audit/search": "searchAuditLog",
    "GET /v1/audit/proof/inclusion": "getInclusionProof",
    "GET /v1/audit/proof/consistency": "getConsistencyProof",
    "POST /v1/audit/cosign": "submitCosignatures",
    "GET /v1/audit/alerts": "listAuditAlerts",
    "GET /v1/audit/witnessed": "listWitnessedLogs",
}
AUDIT = (["auditor", "admin"], True)
#: Who may call what (README, "API"): bearer roles (None: no bearer) and whether a peer's
#: signed request is admitted. An operation not listed is public.
ACCESS: dict[str, tuple[list[str] | None, bool]] = {
    "receiveViews": (None, True),
    "getFeed": (None, True),
    "submitCosignatures": (None, True),
    "submitRecords": (["submitter", "admin"], False),
    "listHeldPackets": (["analyst", "auditor", "admin"], False),
    "getStats": (["analyst", "auditor", "admin"], False),
    "getAnalyzer": (["analyst", "auditor", "admin"], False),
    "getSituation": (["analyst", "auditor", "admin"], False),
    "relayPacket": (["admin"], False),
    "mintSignInLink": (["admin"], False),
    "submitManifest": (["admin"], True),
    "submitAuthorisation": (["admin"], True),
    **{
        op: AUDIT
        for op in (
            "getAuditCheckpoint",
            "listAuditCheckpoints",
            "getAuditEntries",
            "searchAuditLog",
            "getInclusionProof",
            "getConsistencyProof",
            "listAuditAlerts",
            "listWitnessedLogs",
        )
    },
}
TEXT_ANSWERS = {"getAuditCheckpoint", "getMetrics"}
ISSUER = "https://login.example.org/realms/un"


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory) -> LocalFederation:
    return built_federation(tmp_path_factory.mktemp("contract"), ("mission", "unodc", "dpa"))


@pytest.fixture(scope="module")
def document(fed: LocalFederation) -> dict[str, Any]:
    # as a client reads it: the JSON /openapi.json serves
    return json.loads(json.dumps(node_app(fed.nodes["dpa"]).openapi()))


@pytest.fixture(scope="module")
def dpa(fed: LocalFederation) -> Iterator[NodeHandle]:
    with served_node(fed.nodes["dpa"]) as served:
        yield served.handle


def operations(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            yield f"{method.upper()} {path}", operation


DOCUMENT = "urn:clearinghouse:openapi"


def registry(document: dict[str, Any]) -> Registry:
    """The document as a JSON Schema resource, so that its ``$ref``s resolve."""
    resource = Resource.from_contents(document, default_specification=DRAFT202012)
    return Registry().with_resource(DOCUMENT, resource)


def validator(document: dict[str, Any], schema: dict[str, Any]) -> jsonschema.Validator:
    """A validator of ``schema`` (a schema of ``document``: its ``$ref`` is the document's)."""
    if schema.get("$ref", "").startswith("#"):
        schema = {**schema, "$ref": DOCUMENT + schema["$ref"]}
    return jsonschema.Draft202012Validator(
        schema, registry=registry(document), format_checker=jsonschema.FormatChecker()
    )


def test_every_operation_has_its_hand_chosen_operation_id(document: dict[str, Any]) -> None:
    found = {label: op.get("operationId") for label, op in operations(document)}
    assert found == OPERATIONS
    assert len(set(found.values())) == len(found)


def test_security_schemes(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    assert set(schemes) == {"bearerAuth", "peerSignature"}  # no OIDC configured
    assert schemes["bearerAuth"]["type"] == "http"
    assert schemes["bearerAuth"]["scheme"] == "bearer"
    peer = schemes["peerSignature"]
    assert (peer["type"], peer["in"], peer["name"]) == ("apiKey", "header", "Signature")
    for named in ("RFC 9421", "Signature-Input", "Content-Digest", "@method", "@target-uri"):
        assert named in peer["description"], named
    assert "within 300 seconds" in peer["description"]  # the node's signature_window_s


def test_openid_connect_is_declared_when_configured(fed: LocalFederation) -> None:
    app = node_app(fed.nodes["dpa"], oidc={"issuer": ISSUER, "client_id": "clearinghouse"})
    document = app.openapi()
    scheme = document["components"]["securitySchemes"]["openIdConnect"]
    assert scheme == {
        "type": "openIdConnect",
        "openIdConnectUrl": f"{ISSUER}/.well-known/openid-configuration",
        "description": scheme["description"],
    }
    stats = document["paths"]["/v1/local/stats"]["get"]
    assert stats["security"] == [
        {"bearerAuth": ["analyst", "auditor", "admin"]},
        {"openIdConnect": []},
    ]
    assert "503" in stats["responses"]  # the provider may not answer


def test_each_operation_admits_what_its_dependencies_admit(document: dict[str, Any]) -> None:
    for label, operation in operations(document):
        roles, peer = ACCESS.get(operation["operationId"], (None, False))
        expected: list[dict[str, list[str]]] = []
        if roles is not None:
            expected.append({"bearerAuth": roles})
        if peer:
            expected.append({"peerSignature": []})
        assert operation.get("security", []) == expected, label
        if roles:
            assert " or ".join(f"`{r}`" for r in roles) in operation["description"], label


def test_every_refusal_is_a_problem(document: dict[str, Any]) -> None:
    problem = {"$ref": "#/components/schemas/Problem"}
    for label, operation in operations(document):
        responses = operation["responses"]
        refusals = {s for s in responses if s[0] in "45"}
        for status in refusals:
            assert responses[status]["content"] == {"application/problem+json": {"schema": problem}}
        assert "400" in refusals, label  # a NUL character, anywhere
        if operation.get("parameters") or operation.get("requestBody"):
            assert "422" in refusals, label
        if operation.get("requestBody"):
            assert {"413", "415"} <= refusals, label
        if operation.get("security"):
            assert {"401", "403", "429"} <= refusals, label
        if {"peerSignature": []} in operation.get("security", []):
            assert {"413", "415"} <= refusals, label
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    assert set(schemas["Problem"]["required"]) == {"type", "title", "status", "detail", "instance"}
    assert {"request_id", "errors", "rejected", "retry_after"} <= set(
        schemas["Problem"]["properties"]
    )


def test_every_json_answer_is_a_named_model(document: dict[str, Any]) -> None:
    for label, operation in operations(document):
        [answer] = [a for s, a in operation["responses"].items() if s[0] == "2"]
        content = answer["content"]
        if operation["operationId"] in TEXT_ANSWERS:
            assert list(content) == ["text/plain"], label
            assert content["text/plain"]["schema"] == {"type": "string"}
            assert content["text/plain"]["example"]
            continue
        ref = content["application/json"]["schema"].get("$ref", "")
        assert ref.startswith("#/components/schemas/"), (label, content)
        assert ref.split("/")[-1] in document["components"]["schemas"]


def test_request_bodies_and_main_answers_have_examples(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    for label, operation in operations(document):
        if "requestBody" in operation:
            media = operation["requestBody"]["content"]["application/json"]
            assert media.get("example"), label
            validator(document, media["schema"]).validate(media["example"])
        [answer] = [a for s, a in operation["responses"].items() if s[0] == "2"]
        media = answer["content"].get("application/json")
        if media is not None:
            name = media["schema"]["$ref"].split("/")[-1]
            assert media.get("example") or schemas[name].get("examples"), label


def test_every_example_in_a_schema_fits_it(document: dict[str, Any]) -> None:
    checked = 0
    for name, schema in document["components"]["schemas"].items():
        for example in schema.get("examples", []):
            validator(document, {"$ref": f"#/components/schemas/{name}"}).validate(example)
            checked += 1
    assert checked >= 20


def test_every_reference_resolves(document: dict[str, Any]) -> None:
    resolver = registry(document).resolver(DOCUMENT)

    def walk(node: Any) -> Iterator[str]:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                yield node["$ref"]
            for value in node.values():
                yield from walk(value)
        elif isinstance(node, list):
            for value in node:
                yield from walk(value)

    refs = set(walk(document))
    assert "#/components/schemas/Manifest" in refs
    for ref in refs:
        resolver.lookup(ref)  # raises if it does not resolve


# -- the node's answers fit the document --------------------------------------------


def answer_fits(document: dict[str, Any], response: httpx.Response, operation_id: str) -> None:
    [operation] = [op for _, op in operations(document) if op["operationId"] == operation_id]
    media = response.headers["content-type"].split(";")[0]
    schema = operation["responses"][str(response.status_code)]["content"][media]["schema"]
    validator(document, schema).validate(response.json())


def test_real_answers_fit_their_models(document: dict[str, Any], dpa: NodeHandle) -> None:
    event = json.loads((EXAMPLES / "records" / "conflict-event.json").read_text())
    with dpa.client("admin") as client:
        submitted = client.post(
            "/v1/local/records",
            json={"schema": "conflict-event/1", "records": [event, {"event_id": "x"}]},
        )
        answer_fits(document, submitted, "submitRecords")
        answer = submitted.json()
        # the wire as it was: a refusal names a jti only for a revision (none here)
        assert set(answer) == {"accepted", "issued", "duplicates", "rejected", "packets"}
        assert set(answer["rejected"][0]) == {"index", "status", "code", "detail"}
        RecordsAnswer.model_validate(answer, strict=True)
        reads = {
            "/v1/local/packets": "listHeldPackets",
            "/v1/local/stats": "getStats",
            "/v1/schemas": "listSchemas",
            "/v1/schemas/conflict-event/1": "getSchema",
            "/readyz": "getReadiness",
            "/healthz": "getHealth",
            "/v1/situation": "getSituation",
            "/v1/audit/entries": "getAuditEntries",
            "/v1/audit/search": "searchAuditLog",
            "/v1/audit/checkpoints": "listAuditCheckpoints",
            "/v1/audit/alerts": "listAuditAlerts",
            "/v1/audit/witnessed": "listWitnessedLogs",
            "/v1/manifest": "getManifest",
        }
        for path, operation_id in reads.items():
            response = client.get(path)
            assert response.status_code == 200, (path, response.text)
            answer_fits(document, response, operation_id)


def test_real_problems_fit_the_problem_model(document: dict[str, Any], dpa: NodeHandle) -> None:
    with dpa.client("analyst") as client:
        refusals = [
            (httpx.get(dpa.url + "/v1/local/stats", timeout=30), "getStats", None),
            (client.post("/v1/local/records", json={}), "submitRecords", None),
        ]
    with dpa.client("auditor") as client:
        refusals.append(
            (client.get("/v1/audit/search", params={"limit": 0}), "searchAuditLog", "errors")
        )
    with dpa.client("submitter") as client:
        refusals.append(
            (
                client.post(
                    "/v1/local/records",
                    json={"schema": "conflict-event/1", "record": {"event_id": "x"}},
                ),
                "submitRecords",
                "rejected",
            )
        )
    statuses = []
    for response, operation_id, member in refusals:
        assert response.headers["content-type"] == "application/problem+json"
        answer_fits(document, response, operation_id)
        problem = Problem.model_validate(response.json(), strict=True)
        assert problem.request_id
        if member is not None:
            assert getattr(problem, member), (member, problem)
        statuses.append(response.status_code)
    assert statuses == [401, 403, 422, 422]
