"""Local ingest validates each record once: a schema with a natural key validates a
record to key it (``key_records``), and the packet is issued from those claims
without validating them again; the packet is the one ``issue_packet`` makes of the
record itself."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from clearinghouse.node.keyring import SigningKey
from clearinghouse.node.services.ingest import _issue
from clearinghouse.node.services.ingest._issue import issue_records
from clearinghouse.node.services.ingest._keys import key_records
from clearinghouse.node.services.ingest._result import IngestResult
from clearinghouse.protocol.packet import issue_packet
from clearinghouse.protocol.pseudonyms import PseudonymKey
from clearinghouse.protocol.schemas import SchemaSpec, get_schema
from tests.support import EXAMPLES

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
SIGNING = SigningKey(KEY, "kid-1")
PSEUDONYMS = PseudonymKey("epoch-1", b"p" * 32)
NOW = datetime(2024, 5, 1, tzinfo=UTC)


def example(schema: str) -> dict[str, Any]:
    name = schema.split("/")[0]
    record: dict[str, Any] = json.loads((EXAMPLES / "records" / f"{name}.json").read_text())
    return record


def count_validations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each ``validate_record`` call from now on, by schema id."""
    calls: list[str] = []
    real = SchemaSpec.validate_record

    def counted(self: SchemaSpec, data: Mapping[str, Any]) -> dict[str, Any]:
        calls.append(self.id)
        return real(self, data)

    monkeypatch.setattr(SchemaSpec, "validate_record", counted)
    return calls


def seeded_issue(monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
    """``issue_records`` draws its random bytes from ``random.Random(seed)``."""
    rng = random.Random(seed)

    def issue(record: Mapping[str, Any], **kwargs: Any) -> Any:
        return issue_packet(record, **kwargs, random_bytes=rng.randbytes)

    monkeypatch.setattr(_issue, "issue_packet", issue)


def issue(schema: str, records: list[Any]) -> tuple[IngestResult, list[Any], list[Any]]:
    result = IngestResult()
    candidates = key_records(get_schema(schema), records, hc="H0", hcr=None, result=result)
    issued, failed = issue_records(
        candidates,
        schema=schema,
        issuer="mission",
        signing=SIGNING,
        pseudonym_key=PSEUDONYMS,
        now=NOW,
        hc="H0",
        hc_restriction=None,
    )
    return result, issued, failed


def issued_directly(schema: str, record: Mapping[str, Any], seed: int) -> str:
    random_bytes: Callable[[int], bytes] = random.Random(seed).randbytes
    return issue_packet(
        record,
        schema=schema,
        issuer="mission",
        key=KEY,
        kid="kid-1",
        now=NOW,
        pseudonym_key=PSEUDONYMS.key,
        pseudonym_epoch=PSEUDONYMS.epoch,
        random_bytes=random_bytes,
    ).sd_jwt


@pytest.mark.parametrize("schema", ["conflict-event/1", "financial-flow/1", "seizure/1"])
def test_each_record_is_validated_once_and_issued_as_issue_packet_would(
    schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = example(schema)
    seeded_issue(monkeypatch, 7)
    calls = count_validations(monkeypatch)

    result, issued, failed = issue(schema, [record])

    assert (result.rejected, failed) == ([], [])
    assert calls == [schema]  # by key_records for a natural key, else by issue_packet
    ((candidate, packet),) = issued
    assert (candidate.claims is not None) == bool(get_schema(schema).natural_key_fields)
    monkeypatch.undo()
    assert packet.sd_jwt == issued_directly(schema, record, 7)
    # the candidate's claims are not the packet's: issuing added derived claims to a copy
    if candidate.claims is not None:
        assert candidate.claims == get_schema(schema).validate_record(record)
        assert set(packet.claims) > set(candidate.claims)


def test_a_record_refused_when_keyed_is_not_issued(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = count_validations(monkeypatch)
    good = example("conflict-event/1")
    result, issued, failed = issue("conflict-event/1", [{**good, "year": "2016"}, good])
    assert [r.index for r in result.rejected] == [0]
    assert [c.index for c, _ in issued] == [1] and failed == []
    assert calls == ["conflict-event/1", "conflict-event/1"]


def test_issue_packet_with_validated_claims_is_issue_packet() -> None:
    spec = get_schema("conflict-event/1")
    record = example("conflict-event/1")
    claims = spec.validate_record(record)
    kwargs: dict[str, Any] = {
        "schema": spec.id,
        "issuer": "mission",
        "key": KEY,
        "kid": "kid-1",
        "now": NOW,
        "pseudonym_key": PSEUDONYMS.key,
        "pseudonym_epoch": PSEUDONYMS.epoch,
        "decoys": 2,
    }
    plain = issue_packet(record, **kwargs, random_bytes=random.Random(3).randbytes)
    once = issue_packet(claims, **kwargs, random_bytes=random.Random(3).randbytes, validated=True)
    assert once.sd_jwt == plain.sd_jwt
    assert dict(once.claims) == dict(plain.claims)
    assert dict(once.disclosures_by_claim) == dict(plain.disclosures_by_claim)
    assert claims == spec.validate_record(record)  # not changed by issuing
