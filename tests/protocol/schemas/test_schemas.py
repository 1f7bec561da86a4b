"""The record schemas: strict records, partial views, derived claims, JSON Schema."""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clearinghouse.protocol.errors import SchemaViolation, UnknownSchema
from clearinghouse.protocol.packet import pseudonym
from clearinghouse.protocol.schemas import SCHEMAS, _spec, get_schema
from clearinghouse.protocol.schemas import _generalise as g

RECORDS = Path(__file__).resolve().parents[3] / "deploy" / "examples" / "records"
SCHEMA_IDS = sorted(SCHEMAS)


def example(schema_id: str) -> dict[str, Any]:
    name = schema_id.split("/")[0]
    return json.loads((RECORDS / f"{name}.json").read_text(encoding="utf-8"))


def with_value(record: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of ``record`` with the dotted ``path`` set to ``value``."""
    out = copy.deepcopy(record)
    *parents, last = path.split(".")
    target = out
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    target[last] = value
    return out


# -- whole records ----------------------------------------------------------------------


def test_every_schema_is_registered() -> None:
    assert SCHEMA_IDS == [
        "analysis-result/1",
        "conflict-event/1",
        "financial-flow/1",
        "market-price/1",
        "seizure/1",
    ]


@pytest.mark.parametrize("schema_id", SCHEMA_IDS)
def test_example_record_validates_unchanged(schema_id: str) -> None:
    record = example(schema_id)
    assert get_schema(schema_id).validate_record(record) == record


@pytest.mark.parametrize("schema_id", SCHEMA_IDS)
def test_unknown_field_is_rejected(schema_id: str) -> None:
    with pytest.raises(SchemaViolation, match="colour"):
        get_schema(schema_id).validate_record({**example(schema_id), "colour": "red"})


def test_unknown_nested_field_is_rejected() -> None:
    record = with_value(example("conflict-event/1"), "deaths.wounded", 3)
    with pytest.raises(SchemaViolation, match=r"deaths\.wounded"):
        get_schema("conflict-event/1").validate_record(record)


WRONG_TYPES = [
    ("conflict-event/1", "year", "2016"),
    ("conflict-event/1", "deaths.best", "5"),
    ("conflict-event/1", "type_of_violence", True),
    ("conflict-event/1", "latitude", "35.8"),
    ("conflict-event/1", "date_start", 20160107),
    ("seizure/1", "year", "2022"),
    ("seizure/1", "kilograms", "6950"),
    ("market-price/1", "market_id", "1139"),
    ("market-price/1", "price", "166.67"),
    ("financial-flow/1", "amount", "48500"),
    ("analysis-result/1", "scores.risk", "high"),
    ("analysis-result/1", "findings.0.score", "0.8"),
]


@pytest.mark.parametrize(("schema_id", "path", "value"), WRONG_TYPES)
def test_wrong_type_is_rejected_not_coerced(schema_id: str, path: str, value: Any) -> None:
    record = with_value(example(schema_id), path, value)
    with pytest.raises(SchemaViolation, match=path.split(".")[-1]):
        get_schema(schema_id).validate_record(record)


OUT_OF_RANGE = [
    ("conflict-event/1", "latitude", 91.0),
    ("conflict-event/1", "longitude", -180.5),
    ("conflict-event/1", "type_of_violence", 4),
    ("conflict-event/1", "date_precision", 6),
    ("conflict-event/1", "where_precision", 0),
    ("conflict-event/1", "event_clarity", 3),
    ("conflict-event/1", "deaths.best", -1),
    ("conflict-event/1", "deaths.civilians", -5),
    ("conflict-event/1", "date_end", "2016-01-06"),
    ("conflict-event/1", "date_start", "2016-02-30"),
    ("conflict-event/1", "side_a", ""),
    ("seizure/1", "kilograms", -0.5),
    ("seizure/1", "country_code", "syr"),
    ("seizure/1", "kind", "monthly-total"),
    ("market-price/1", "price", -1.0),
    ("market-price/1", "currency", "SY"),
    ("financial-flow/1", "amount", 0.0),
    ("financial-flow/1", "channel", "carrier-pigeon"),
    ("financial-flow/1", "receiver_country", "Lebanon"),
    ("analysis-result/1", "input.digest", "AB" * 32),
    ("analysis-result/1", "input.digest", "ab" * 31),
    ("analysis-result/1", "input.jti", "packet-1"),
    ("analysis-result/1", "findings.0.level", "extreme"),
]


@pytest.mark.parametrize(("schema_id", "path", "value"), OUT_OF_RANGE)
def test_out_of_range_value_is_rejected(schema_id: str, path: str, value: Any) -> None:
    record = with_value(example(schema_id), path, value)
    with pytest.raises(SchemaViolation):
        get_schema(schema_id).validate_record(record)


def test_death_estimates_out_of_order_are_accepted_as_ged_publishes_them() -> None:
    # GED Syria event 236249 has low 8, best 15, high 7; 101 published events break
    # low <= best <= high, so the schema must not demand that order.
    deaths = {"side_a": 0, "side_b": 0, "civilians": 15, "unknown": 0, "low": 8, "best": 15}
    record = with_value(example("conflict-event/1"), "deaths", {**deaths, "high": 7})
    assert get_schema("conflict-event/1").validate_record(record)["deaths"]["high"] == 7


def test_seizure_kind_requires_its_fields() -> None:
    spec = get_schema("seizure/1")
    annual = example("seizure/1")
    del annual["kilograms"]
    with pytest.raises(SchemaViolation, match="requires kilograms"):
        spec.validate_record(annual)
    single = {"kind": "single-seizure", "date": "2021-04-23", "quantity": 5.3}
    with pytest.raises(SchemaViolation, match="requires unit"):
        spec.validate_record(single)
    full = {
        **single,
        "unit": "million tablets",
        "country": "Saudi Arabia",
        "country_code": "SAU",
        "place": "Jeddah Islamic Port",
        "route_origin": "LBN",
        "route_destination": "SAU",
        "route_transit": [],
        "persons_involved": 0,
        "vehicles_involved": 0,
        "persons": [],
        "conveyance": "maritime container",
        "concealment": "hollowed-out pomegranates",
    }
    assert spec.validate_record(full) == full


# -- views ------------------------------------------------------------------------------


@pytest.mark.parametrize("schema_id", SCHEMA_IDS)
def test_any_subset_of_the_example_is_a_valid_view(schema_id: str) -> None:
    spec = get_schema(schema_id)
    record = example(schema_id)
    names = sorted(record)
    subsets = [[], names, *([name] for name in names)]
    rng = random.Random(schema_id)
    subsets += [rng.sample(names, rng.randint(1, len(names))) for _ in range(25)]
    for subset in subsets:
        spec.validate_disclosed({name: record[name] for name in subset})


NESTED_VIEWS = [
    ("conflict-event/1", {"deaths": {"best": 5}, "source": {"office": "SOHR"}}),
    ("conflict-event/1", {"deaths": {"civilians": 5}, "fatality_band": "5-24"}),
    ("analysis-result/1", {"input": {"digest": "ab" * 32}, "findings": [{"kind": "hotspot"}]}),
    ("analysis-result/1", {"analyzer": {"id": "security-risk"}, "scores": {}}),
    ("analysis-result/1", {"input": {"schema": "conflict-event/1"}}),
    ("seizure/1", {"kind": "annual-total", "kilograms_band": "1e3-1e4", "route_transit": []}),
    ("financial-flow/1", {"sender_account_ref": "A" * 43, "month": "2021-03"}),
]


@pytest.mark.parametrize(("schema_id", "view"), NESTED_VIEWS)
def test_view_with_part_of_a_nested_object_is_valid(schema_id: str, view: dict) -> None:
    get_schema(schema_id).validate_disclosed(view)


BAD_VIEWS = [
    ("conflict-event/1", {"year": "2016"}),
    ("conflict-event/1", {"deaths": {"best": "5"}}),
    ("conflict-event/1", {"deaths": {"best": -1}}),
    ("conflict-event/1", {"latitude": 91.0}),
    ("conflict-event/1", {"type_of_violence": 4}),
    ("conflict-event/1", {"date_start": "2016-01-09", "date_end": "2016-01-08"}),
    ("conflict-event/1", {"month": "2016-13"}),
    ("conflict-event/1", {"fatality_band": "6-10"}),
    ("conflict-event/1", {"latitude_cell": "35.75"}),
    ("conflict-event/1", {"side_a_ref": "Syrian insurgents"}),
    ("conflict-event/1", {"colour": "red"}),
    ("seizure/1", {"persons_refs": ["A" * 43, 7]}),
    ("seizure/1", {"kilograms_band": "about a tonne"}),
    ("market-price/1", {"price": -3.0}),
    ("analysis-result/1", {"input": {"schema_": "conflict-event/1"}}),
    ("analysis-result/1", {"findings": [{"level": "extreme"}]}),
]


@pytest.mark.parametrize(("schema_id", "view"), BAD_VIEWS)
def test_wrong_view_is_rejected(schema_id: str, view: dict) -> None:
    with pytest.raises(SchemaViolation):
        get_schema(schema_id).validate_disclosed(view)


# -- derived claims ---------------------------------------------------------------------


@pytest.mark.parametrize("schema_id", SCHEMA_IDS)
def test_derived_claims_of_the_example_have_their_declared_types(schema_id: str) -> None:
    spec = get_schema(schema_id)
    record = spec.validate_record(example(schema_id))
    key = b"k" * 32
    for derivation in spec.derivations:
        if derivation.source not in record:
            continue
        value = derivation.compute(record[derivation.source])
        if derivation.treatment == "pseudonymise":
            value = (
                [pseudonym(key, item) for item in value]
                if isinstance(value, list)
                else pseudonym(key, value)
            )
        assert value is not None, derivation.claim
        spec.validate_disclosed({derivation.claim: value})


def test_conflict_event_derived_claims_known_answers() -> None:
    spec = get_schema("conflict-event/1")
    record = example("conflict-event/1")
    derived = {d.claim: d.compute(record[d.source]) for d in spec.derivations}
    assert derived == {
        "side_a_ref": "syrian insurgents",
        "side_b_ref": "civilians",
        "dyad_ref": "syrian insurgents - civilians",
        "month": "2016-01",
        "latitude_cell": 35.75,
        "longitude_cell": 36.75,
        "fatality_band": "5-24",
    }


@pytest.mark.parametrize(
    ("value", "cell"),
    [(34.802462, 34.75), (34.5, 34.75), (34.499, 34.25), (-0.1, -0.25), (0.0, 0.25),
     (90.0, 89.75), (-90.0, -89.75), (89.99, 89.75)],
)  # fmt: skip
def test_latitude_cell_is_the_centre_of_the_half_degree_cell(value: float, cell: float) -> None:
    assert g.latitude_cell(value) == cell


def test_longitude_cell_covers_the_antimeridian() -> None:
    assert g.longitude_cell(180.0) == 179.75
    assert g.longitude_cell(-180.0) == -179.75
    with pytest.raises(SchemaViolation):
        g.longitude_cell(180.5)


@pytest.mark.parametrize(
    ("best", "band"),
    [(0, "0"), (1, "1-4"), (4, "1-4"), (5, "5-24"), (24, "5-24"), (25, "25-99"),
     (99, "25-99"), (100, "100-999"), (999, "100-999"), (1000, "1000+"), (12500, "1000+")],
)  # fmt: skip
def test_fatality_band(best: int, band: str) -> None:
    assert g.fatality_band({"best": best, "low": 0}) == band


@pytest.mark.parametrize(
    ("amount", "band"),
    [(0, "0"), (0.0, "0"), (1, "1e0-1e1"), (9.99, "1e0-1e1"), (1000, "1e3-1e4"),
     (999.9999, "1e2-1e3"), (6950.0, "1e3-1e4"), (0.05, "1e-2-1e-1"), (1e-07, "1e-7-1e-6")],
)  # fmt: skip
def test_magnitude_band(amount: float, band: str) -> None:
    assert g.magnitude_band(amount) == band


def test_derivation_helpers_refuse_values_of_the_wrong_kind() -> None:
    for call in (
        lambda: g.month("2016-1-7"),
        lambda: g.month(20160107),
        lambda: g.magnitude_band(-1),
        lambda: g.magnitude_band(True),
        lambda: g.fatality_band({"best": "5"}),
        lambda: g.latitude_cell(float("nan")),
        lambda: g.name_identifier(5),
    ):
        with pytest.raises(SchemaViolation):
            call()


def test_identifiers_are_normalised_before_hashing() -> None:
    assert g.name_identifier("  Government  of\tSyria ") == "government of syria"
    assert g.name_identifiers(["IS", "\uff29\uff53"]) == ["is", "is"]
    assert g.account_identifier("ZZ07 EXMP-0000 4417") == g.account_identifier("zz07exmp00004417")


# -- JSON Schema and the registry -------------------------------------------------------


@pytest.mark.parametrize("schema_id", SCHEMA_IDS)
def test_json_schema_export(schema_id: str) -> None:
    spec = get_schema(schema_id)
    schema = spec.json_schema()
    assert isinstance(schema, dict)
    assert schema["$id"] == f"urn:clearinghouse:schema:{schema_id}"
    assert set(schema["properties"]) == set(spec.fields)
    assert schema["additionalProperties"] is False
    assert set(schema["x-derived-claims"]) == {d.claim for d in spec.derivations}
    for name, claim in schema["x-derived-claims"].items():
        assert claim["source"] in schema["properties"], name
        assert claim["treatment"] in ("pseudonymise", "generalise")
    for name, prop in schema["properties"].items():
        assert prop.get("description"), f"{schema_id}: {name} has no description"
    json.dumps(schema)


def test_conflict_event_json_schema_lists_its_derived_claims() -> None:
    claims = get_schema("conflict-event/1").json_schema()["x-derived-claims"]
    assert claims["fatality_band"]["source"] == "deaths"
    assert claims["side_a_ref"]["treatment"] == "pseudonymise"
    assert claims["month"]["schema"]["pattern"]


def test_get_schema_of_an_unknown_id_names_the_known_ones() -> None:
    with pytest.raises(UnknownSchema, match=r"conflict-event/1.*seizure/1"):
        get_schema("conflict-event/2")


# -- conflict-event/1 follows the GED codebook (issue 15) --------------------------------

#: Fields the GED codebook may leave unknown (the global GED writes -1) and no analysis needs.
GED_UNKNOWABLE = (
    "conflict_id",
    "dyad_id",
    "side_a_id",
    "side_b_id",
    "country_id",
    "region",
    "place",
    "priogrid_gid",
    "side_a_gwno",
    "side_b_gwno",
    "source",
)


@pytest.mark.parametrize("field", GED_UNKNOWABLE)
def test_conflict_event_without_an_unknowable_field_is_valid(field: str) -> None:
    record = {k: v for k, v in example("conflict-event/1").items() if k != field}
    assert get_schema("conflict-event/1").validate_record(record) == record


def test_conflict_event_without_every_unknowable_field_is_valid() -> None:
    record = {k: v for k, v in example("conflict-event/1").items() if k not in GED_UNKNOWABLE}
    record["deaths"] = {"best": 3}
    assert get_schema("conflict-event/1").validate_record(record) == record


@pytest.mark.parametrize(
    "field",
    [
        "event_id",
        "year",
        "type_of_violence",
        "side_a",
        "side_b",
        "date_start",
        "date_end",
        "date_precision",
        "country",
        "latitude",
        "longitude",
        "where_precision",
        "event_clarity",
        "deaths",
    ],
)
def test_conflict_event_still_requires_what_an_event_is_counted_by(field: str) -> None:
    record = {k: v for k, v in example("conflict-event/1").items() if k != field}
    with pytest.raises(SchemaViolation, match=field):
        get_schema("conflict-event/1").validate_record(record)


@pytest.mark.parametrize(
    ("date_precision", "where_precision"),
    [(d, w) for d in range(1, 6) for w in range(1, 8)],
)
def test_conflict_event_accepts_every_precision_code_of_the_codebook(
    date_precision: int, where_precision: int
) -> None:
    record = {
        **example("conflict-event/1"),
        "date_precision": date_precision,
        "where_precision": where_precision,
    }
    assert get_schema("conflict-event/1").validate_record(record) == record


def test_market_price_without_a_usd_price_or_coordinates_is_valid() -> None:
    drop = ("usd_price", "latitude", "longitude", "admin1", "admin2", "market_id")
    record = {k: v for k, v in example("market-price/1").items() if k not in drop}
    assert get_schema("market-price/1").validate_record(record) == record


# -- the encoder behind validation ------------------------------------------------------

_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text()
    | st.binary(max_size=2)  # not JSON: the same TypeError
    | st.sets(st.integers(), max_size=1),
    lambda children: (
        st.lists(children, max_size=3)
        | st.tuples(children)
        | st.dictionaries(st.text(max_size=3) | st.integers() | st.none(), children, max_size=3)
    ),
    max_leaves=10,
)


def _dumps_outcome(call: Any) -> tuple[str, str]:
    try:
        return "text", call()
    except SchemaViolation as exc:
        return "error", exc.message


@settings(max_examples=1000, deadline=None)
@given(_values)
def test_to_json_is_json_dumps_without_nan(value: Any) -> None:
    """``_to_json`` reuses the C encoder: exactly ``json.dumps(value, allow_nan=False)``."""

    def reference() -> str:
        try:
            return json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise SchemaViolation(f"s: not JSON data: {exc}") from exc

    assert _dumps_outcome(lambda: _spec._to_json(value, "s")) == _dumps_outcome(reference)


def test_to_json_refuses_a_circular_value_and_forgets_it() -> None:
    """Each call has its own circular-reference markers, as ``json.dumps`` has: the
    objects a refused call left half-encoded encode normally afterwards."""
    outer: dict[str, Any] = {"a": [1.5, "\u00e9"]}
    outer["a"].append(outer)
    with pytest.raises(SchemaViolation, match="Circular reference detected"):
        _spec._to_json(outer, "s")
    outer["a"].pop()
    assert _spec._to_json(outer, "s") == json.dumps(outer) == '{"a": [1.5, "\\u00e9"]}'


@pytest.mark.parametrize("schema_id", SCHEMA_IDS)
def test_derived_claim_finds_each_derivation_by_name(schema_id: str) -> None:
    spec = get_schema(schema_id)
    for d in spec.derivations:
        assert spec.derived_claim(d.claim) is d
    for name in (*spec.fields, "nonexistent"):
        assert spec.derived_claim(name) is None
