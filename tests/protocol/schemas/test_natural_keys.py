"""Who issues each schema, each schema's natural key, and the digest of what a record says."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from clearinghouse.protocol.errors import SchemaViolation
from clearinghouse.protocol.schemas import SCHEMAS, RecordModel, SchemaSpec, get_schema

RECORDS = Path(__file__).resolve().parents[3] / "deploy" / "examples" / "records"


def example(schema_id: str) -> dict[str, Any]:
    name = schema_id.split("/")[0]
    return json.loads((RECORDS / f"{name}.json").read_text(encoding="utf-8"))


def test_only_results_are_issued_by_the_analysis_pipeline() -> None:
    assert {s.id for s in SCHEMAS.values() if s.issued_by == "analysis"} == {"analysis-result/1"}


def test_the_natural_keys() -> None:
    assert {s.id: s.natural_key_fields for s in SCHEMAS.values()} == {
        "conflict-event/1": ("event_id",),  # the UCDP GED id
        "financial-flow/1": ("flow_id",),
        "seizure/1": (),  # no id of its own
        "market-price/1": (),
        "analysis-result/1": (),
    }


def test_a_key_is_canonical_json_of_its_values() -> None:
    spec = get_schema("conflict-event/1")
    record = spec.validate_record(example("conflict-event/1"))
    assert spec.natural_key(record) == '["216780"]'
    assert get_schema("seizure/1").natural_key(example("seizure/1")) is None
    with pytest.raises(SchemaViolation, match="natural key field\\(s\\) missing: event_id"):
        spec.natural_key({"year": 2016})


def test_the_record_digest_tells_a_copy_from_a_revision() -> None:
    spec = get_schema("conflict-event/1")
    record = spec.validate_record(example("conflict-event/1"))
    digest = spec.record_digest(record, hc="H0", hcr=None)
    assert len(digest) == 64
    # the same record, its members in another order, and with derived claims beside it
    reordered = dict(reversed(list(record.items())))
    assert spec.record_digest({**reordered, "month": "2016-01"}, hc="H0", hcr=None) == digest
    # a revision, another handling code or restriction: another digest
    revised = {**record, "deaths": {**record["deaths"], "best": record["deaths"]["best"] + 1}}
    assert spec.record_digest(revised, hc="H0", hcr=None) != digest
    assert spec.record_digest(record, hc="H2", hcr=None) != digest
    assert spec.record_digest(record, hc="H3", hcr="a") != spec.record_digest(
        record, hc="H3", hcr="b"
    )


def test_a_key_field_must_be_a_required_field() -> None:
    class Thing(RecordModel):
        id: str
        note: str | None = None

    SchemaSpec(id="thing/1", title="Thing", model=Thing, natural_key_fields=("id",))
    for bad in ("note", "nope"):
        with pytest.raises(ValueError, match="is not a required field"):
            SchemaSpec(id="thing/1", title="Thing", model=Thing, natural_key_fields=(bad,))
