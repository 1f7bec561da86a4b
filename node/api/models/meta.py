"""Public answers: record schemas, liveness and readiness; and trust changes' outcomes."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

from clearinghouse.node.api.models._base import examples

__all__ = [
    "AUTHORISATION_EXAMPLE",
    "MANIFEST_EXAMPLE",
    "AuthorisationAnswer",
    "Health",
    "ManifestAnswer",
    "Readiness",
    "RecordSchema",
    "SchemaList",
]

_KEY = {
    "kty": "OKP",
    "crv": "Ed25519",
    "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
    "not_before": "2026-01-01T00:00:00Z",
}
_SIG = "c2lnbmF0dXJlIG9mIHRoZSBKQ1Mgb2YgdGhlIGRvY3VtZW50IHdpdGhvdXQgaXRzIHNpZ25hdHVyZXM"
#: A manifest as ``clearinghouse manifest merge`` writes it (shortened, not really signed).
MANIFEST_EXAMPLE: dict[str, Any] = {
    "federation": "clearinghouse.example",
    "serial": 4,
    "issued_at": "2026-11-29T10:00:00Z",
    "quorum": 2,
    "participants": [
        {
            "id": "mission",
            "name": "UN mission",
            "base_url": "https://mission.example",
            "keys": [{**_KEY, "kid": "mission-1"}],
        },
        {
            "id": "dpa",
            "name": "Department of Political Affairs",
            "base_url": "https://dpa.example",
            "keys": [{**_KEY, "kid": "dpa-1"}],
        },
    ],
    "policy": {"mission": {"dpa": {"conflict-event/1": "country,year,deaths"}}},
    "signatures": [
        {"signer": "mission", "kid": "mission-1", "sig": _SIG},
        {"signer": "dpa", "kid": "dpa-1", "sig": _SIG},
    ],
}
#: An authorisation as ``clearinghouse authorise`` writes it (not really signed).
AUTHORISATION_EXAMPLE: dict[str, Any] = {
    "type": "clearinghouse-authorisation/1",
    "id": "01937c2e-8b1a-7c3d-9e4f-5a6b7c8d9e0f",
    "federation": "clearinghouse.example",
    "issuer": "oversight",
    "recipient": "dpa",
    "scope": {"packets": ["0b6f6a52-2f0e-4a51-9d55-4a8b2f1c7e10"]},
    "fields": ["narrative"],
    "purpose": "Inquiry 2026/14 into the events of 7 January 2016 in Ariha.",
    "issued_at": "2026-11-29T10:00:00Z",
    "expires_at": "2026-12-29T10:00:00Z",
    "signature": {"signer": "oversight", "kid": "oversight-1", "sig": _SIG},
}
_SCHEMA_EXAMPLE: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "conflict-event/1",
    "type": "object",
    "required": ["event_id"],
    "properties": {"event_id": {"type": "string"}},
}


class RecordSchema(RootModel[dict[str, Any]]):
    """A record schema as JSON Schema (draft 2020-12)."""

    model_config = ConfigDict(json_schema_extra={"examples": [_SCHEMA_EXAMPLE]})


class SchemaList(BaseModel):
    """Every record schema this node accepts, by id."""

    model_config = examples({"schemas": {"conflict-event/1": _SCHEMA_EXAMPLE}})

    schemas: dict[str, dict[str, Any]] = Field(description="Schema id -> its JSON Schema.")


class Health(BaseModel):
    """The process answers."""

    model_config = examples({"status": "ok"})

    status: Literal["ok"]


class Readiness(BaseModel):
    """Database reachable, manifest valid, key loaded: the node can serve."""

    model_config = examples({"status": "ready", "participant": "dpa", "serial": 3})

    status: Literal["ready"]
    participant: str = Field(description="Whose node this is.")
    serial: int = Field(ge=1, description="The serial of the manifest in force.")


class ManifestAnswer(BaseModel):
    """A manifest taken: switched to now, or held already."""

    model_config = examples(
        {"status": "accepted", "serial": 4, "federation": "clearinghouse.example"}
    )

    status: Literal["accepted", "already-held"]
    serial: int = Field(ge=1)
    federation: str


class AuthorisationAnswer(BaseModel):
    """An oversight authorisation taken, and how many views it unlocked now."""

    model_config = examples({"id": "auth-2026-11-001", "status": "accepted", "views_queued": 3})

    id: str
    status: Literal["accepted", "already-held"]
    views_queued: int = Field(ge=0)
