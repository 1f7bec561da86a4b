"""A participant's ``originates``: the record schemas it may issue packets of.

Optional, so that a manifest without it keeps its exact bytes and signatures (a
known-answer digest, computed before the field existed); with it, the field
round-trips and :func:`check_origination` refuses other record schemas, while
results stay governed by the declared analyzer.
"""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from clearinghouse.protocol.errors import ManifestRejected, SchemaNotOriginated, UnknownIssuer
from clearinghouse.protocol.keys import public_jwk
from clearinghouse.protocol.manifest import (
    Manifest,
    build_manifest,
    check_origination,
    manifest_json,
    parse_manifest,
    sign_manifest,
    verify_manifest,
)
from clearinghouse.protocol.manifest_changes import describe_changes
from tests.support import seeded_key

CONFIG: dict[str, Any] = {
    "federation": "vectors",
    "quorum": 2,
    "participants": [
        {
            "id": "mission",
            "name": "Mission",
            "base_url": "http://127.0.0.1:8101",
            "analyzer": {"id": "mission.security-risk", "version": "1", "sha256": "a" * 64},
        },
        {"id": "dpa", "name": "DPA", "base_url": "http://127.0.0.1:8103", "roles": ["oversight"]},
    ],
    "policy": {"conflict-event/1": {"dpa": {"disclose": ["event_id", "year"]}}},
}
ISSUED_AT = datetime(2026, 1, 1, tzinfo=UTC)
NOW = datetime(2026, 6, 1, tzinfo=UTC)
#: The manifest of CONFIG (seeded keys, both signatures) as this code made it before
#: ``originates`` existed: its signing input and its file, byte for byte.
SIGNING_INPUT_SHA256 = "18f865cd65813c0a2ff8c2697177199976f718caf3cbc92120006117ec75374d"
FILE_SHA256 = "36ef3ed74c630b3fea8cbd249ddd96f47f715b5632068a8a3f12a37496369a76"


def signed(config: dict[str, Any]) -> Manifest:
    keys = {p: seeded_key(p) for p in ("mission", "dpa")}
    manifest = build_manifest(
        config, {p: [public_jwk(k)] for p, k in keys.items()}, issued_at=ISSUED_AT
    )
    for signer in ("mission", "dpa"):
        manifest = sign_manifest(manifest, signer, keys[signer])
    return manifest


def originating(**per_participant: list[str]) -> dict[str, Any]:
    config = copy.deepcopy(CONFIG)
    for entry in config["participants"]:
        if entry["id"] in per_participant:
            entry["originates"] = per_participant[entry["id"]]
    return config


def test_a_manifest_without_the_field_keeps_its_bytes_and_signatures() -> None:
    manifest = signed(CONFIG)
    assert hashlib.sha256(manifest.signing_input()).hexdigest() == SIGNING_INPUT_SHA256
    assert hashlib.sha256(manifest_json(manifest)).hexdigest() == FILE_SHA256
    assert b"originates" not in manifest_json(manifest)
    again = parse_manifest(manifest_json(manifest))
    assert verify_manifest(again, now=NOW) is again
    assert again.signing_input() == manifest.signing_input()
    assert all(p.originates is None for p in again.participants)


def test_the_field_round_trips_and_is_signed() -> None:
    manifest = signed(originating(dpa=["financial-flow/1", "conflict-event/1"]))
    again = parse_manifest(manifest_json(manifest))
    assert again.participant("dpa").originates == ("financial-flow/1", "conflict-event/1")
    assert again.participant("mission").originates is None
    assert again.signing_input() == manifest.signing_input() != signed(CONFIG).signing_input()
    verify_manifest(again, now=NOW)
    # changing it breaks the signatures: it is part of what the quorum signed
    doc = json.loads(manifest_json(manifest))
    doc["participants"][1]["originates"] = ["financial-flow/1", "conflict-event/1", "seizure/1"]
    with pytest.raises(ManifestRejected, match="does not verify"):
        verify_manifest(parse_manifest(doc), now=NOW)


def test_check_origination() -> None:
    manifest = signed(originating(dpa=["financial-flow/1"], mission=[]))
    check_origination(manifest, "dpa", "financial-flow/1")
    with pytest.raises(SchemaNotOriginated) as refused:
        check_origination(manifest, "dpa", "conflict-event/1")
    assert "conflict-event/1" in refused.value.message
    assert "financial-flow/1" in refused.value.message
    with pytest.raises(SchemaNotOriginated, match="none"):
        check_origination(manifest, "mission", "seizure/1")  # an empty list: nothing
    # a result is the declared analyzer's business, an unknown schema verification's
    check_origination(manifest, "mission", "analysis-result/1")
    check_origination(manifest, "mission", "weather/1")
    # absent: any record schema
    check_origination(signed(CONFIG), "dpa", "seizure/1")
    with pytest.raises(UnknownIssuer):
        check_origination(manifest, "stranger", "seizure/1")


@pytest.mark.parametrize(
    ("originates", "message"),
    [
        (["weather/1"], "unknown schema 'weather/1'"),
        (["analysis-result/1"], "only the analysis pipeline issues"),
        (["seizure/1", "seizure/1"], "names a schema twice"),
        ("seizure/1", "tuple"),
    ],
)
def test_a_bad_list_is_refused(originates: Any, message: str) -> None:
    doc = json.loads(manifest_json(signed(CONFIG)))
    doc["participants"][0]["originates"] = originates
    with pytest.raises(ManifestRejected, match=message):
        parse_manifest(doc)


def test_a_change_of_the_field_is_described() -> None:
    held = signed(CONFIG)
    doc = json.loads(manifest_json(held))
    doc.pop("signatures")
    doc["serial"] = 2
    doc["participants"][1]["originates"] = ["conflict-event/1"]
    assert "~ participant dpa: originates None -> [conflict-event/1]" in describe_changes(
        held, parse_manifest(doc)
    )
