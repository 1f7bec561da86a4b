"""What a record schema is: a strict pydantic model plus its derived claims.

A schema (``conflict-event/1``, ...) is a :class:`SchemaSpec`: the strict record
model that a body's own systems submit, and the *derived claims* the originator
adds beside the record's fields so that a policy can grant a coarser or a
pseudonymous form of a field instead of the field itself (DESIGN.md, "Packets"):

* ``pseudonymise``: a keyed hash of a normalised identifier (``side_a`` ->
  ``side_a_ref``), computed by :mod:`protocol.packet` with the pseudonymisation key;
* ``generalise``: a coarser value computed from the field alone (``date_start`` ->
  ``month``, ``deaths`` -> ``fatality_band``).

A spec also says who issues its packets (``issued_by``): a body's own systems
(``"records"``, submitted to the local API) or only a node's analysis pipeline
(``"analysis"``: results derived from packets, which local ingest refuses). And it
may name a *natural key* (``natural_key_fields``): the fields that identify the
thing a record describes at its source (a UCDP event id), so that a node can tell a
record sent again (same key, same content: a duplicate) from a revision of it (same
key, other content) without comparing whole packets. A schema without such an id
has no natural key.

Records are validated strictly: unknown fields are rejected and no type is
coerced (``"5"`` is not an integer). A *view* discloses a subset of the claims,
so views are validated against a partial form of the same model in which every
field may be absent; cross-field checks in the models therefore skip what is
absent.
"""

from __future__ import annotations

import hashlib
import json
import types
import typing
from _json import encode_basestring_ascii, make_encoder
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, create_model

from clearinghouse.protocol.encoding import canonical_json
from clearinghouse.protocol.errors import SchemaViolation

__all__ = ["Derivation", "IssuedBy", "RecordModel", "SchemaSpec", "Treatment"]

Treatment = Literal["disclose", "pseudonymise", "generalise", "withhold"]
#: Who issues packets of a schema: a body's own systems, or only the analysis pipeline.
IssuedBy = Literal["records", "analysis"]


class RecordModel(BaseModel):
    """Base of every record model: strict, closed, immutable."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


@dataclass(frozen=True)
class Derivation:
    """A claim derived from one top-level record field.

    ``compute`` maps the field's JSON value to the derived claim's JSON value for
    ``generalise``; for ``pseudonymise`` it maps the field's JSON value to the
    identifier (a string, or a list of strings for a list field) that gets
    hashed. ``claim_type`` is the derived claim's type, used to validate views.
    """

    claim: str
    source: str
    treatment: Literal["pseudonymise", "generalise"]
    compute: Callable[[Any], Any]
    claim_type: Any
    description: str = ""


@dataclass(frozen=True)
class SchemaSpec:
    """A versioned record schema: its id, strict model and derived claims.

    ``issued_by`` is ``"analysis"`` for a schema only a node's analysis pipeline
    issues (never submitted records); ``natural_key_fields`` are the required fields
    that identify a record at its source, if the schema has such an id.
    """

    id: str
    title: str
    model: type[RecordModel]
    derivations: tuple[Derivation, ...] = field(default=())
    issued_by: IssuedBy = "records"
    natural_key_fields: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        names = set(self.model.model_fields)
        for name in self.natural_key_fields:
            if name not in names or not self.model.model_fields[name].is_required():
                raise ValueError(f"{self.id}: natural key field {name!r} is not a required field")
        for d in self.derivations:
            if d.source not in names:
                raise ValueError(
                    f"{self.id}: derivation {d.claim!r} from unknown field {d.source!r}"
                )
            if d.claim in names:
                raise ValueError(f"{self.id}: derived claim {d.claim!r} shadows a record field")

    @property
    def fields(self) -> tuple[str, ...]:
        """The record's top-level field names, in model order."""
        return tuple(self.model.model_fields)

    def derivation(self, field_name: str, treatment: str) -> Derivation | None:
        """The derived claim that ``treatment`` of ``field_name`` grants, if any."""
        for d in self.derivations:
            if d.source == field_name and d.treatment == treatment:
                return d
        return None

    def derived_claim(self, claim: str) -> Derivation | None:
        return self._derived_claims.get(claim)

    def validate_record(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """Validate a whole record; return its JSON form without absent fields.

        Raises :class:`SchemaViolation` naming every offending field.
        """
        try:
            record = self.model.model_validate_json(_to_json(data, self.id))
        except ValidationError as exc:
            raise SchemaViolation(f"{self.id}: {_describe(exc)}") from exc
        return record.model_dump(mode="json", exclude_none=True)

    def natural_key(self, claims: Mapping[str, Any]) -> str | None:
        """The natural key of a validated record (or an issued packet's claims): the
        canonical JSON array of its key fields' values, e.g. ``["216780"]``; None if
        the schema has no natural key.

        Raises :class:`SchemaViolation` if a key field is missing.
        """
        if not self.natural_key_fields:
            return None
        missing = [name for name in self.natural_key_fields if name not in claims]
        if missing:
            raise SchemaViolation(f"{self.id}: natural key field(s) missing: {', '.join(missing)}")
        return canonical_json([claims[name] for name in self.natural_key_fields]).decode()

    def record_digest(self, claims: Mapping[str, Any], *, hc: str, hcr: str | None) -> str:
        """SHA-256 (hex) of what a record says: its own fields (not the derived claims,
        which depend on the pseudonymisation key) with its handling code and
        restriction, as RFC 8785 canonical JSON. Equal for a record sent again;
        different for a revision of it.
        """
        record = {name: claims[name] for name in self.fields if name in claims}
        body = canonical_json({"record": record, "hc": hc, "hcr": hcr})
        return hashlib.sha256(body).hexdigest()

    def validate_disclosed(self, claims: Mapping[str, Any]) -> None:
        """Validate the record fields and derived claims a view discloses.

        Every field may be absent; what is present must have the schema's type
        and range. Raises :class:`SchemaViolation`.
        """
        record_part: dict[str, Any] = {}
        derived_claims = self._derived_claims  # once, not once per claim
        for name, value in claims.items():
            derivation = derived_claims.get(name)
            if derivation is None:
                record_part[name] = value
                continue
            try:
                _adapter(derivation.claim_type).validate_json(_to_json(value, self.id), strict=True)
            except ValidationError as exc:
                raise SchemaViolation(f"{self.id}: derived claim {name}: {_describe(exc)}") from exc
        try:
            self._partial_model.model_validate_json(_to_json(record_part, self.id))
        except ValidationError as exc:
            raise SchemaViolation(f"{self.id}: {_describe(exc)}") from exc

    def json_schema(self) -> dict[str, Any]:
        """The record's JSON Schema (2020-12), with its id and derived claims."""
        schema = self.model.model_json_schema(mode="validation")
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["$id"] = f"urn:clearinghouse:schema:{self.id}"
        schema["title"] = self.title
        schema["x-derived-claims"] = {
            d.claim: {
                "source": d.source,
                "treatment": d.treatment,
                "description": d.description,
                "schema": _adapter(d.claim_type).json_schema(),
            }
            for d in self.derivations
        }
        return schema

    @cached_property
    def _derived_claims(self) -> dict[str, Derivation]:
        """Each derived claim by name (the first, if two had one): verifying a view
        looks up every claim it discloses."""
        by_claim: dict[str, Derivation] = {}
        for d in self.derivations:
            by_claim.setdefault(d.claim, d)
        return by_claim

    @cached_property
    def _partial_model(self) -> type[BaseModel]:
        return _partial(self.model)


#: What ``json.dumps`` passes the C encoder as ``default`` (it raises the TypeError).
_JSON_DEFAULT = json.JSONEncoder().default


def _to_json(value: Any, schema_id: str) -> str:
    """``json.dumps(value, allow_nan=False)``: the same text or error, without building
    a ``JSONEncoder`` and its Python-level ``encode`` per call (half the cost of
    encoding a view's claims; three calls per view verified). This is the C encoder
    with the arguments ``JSONEncoder.iterencode`` gives it for those settings, a fresh
    ``markers`` dict for the circular-reference check included."""
    try:
        if isinstance(value, str):
            return encode_basestring_ascii(value)
        encode = make_encoder(
            {}, _JSON_DEFAULT, encode_basestring_ascii, None, ": ", ", ", False, False, False
        )
        return "".join(encode(value, 0))
    except (TypeError, ValueError) as exc:
        raise SchemaViolation(f"{schema_id}: not JSON data: {exc}") from exc


#: Control characters shown as escapes: a field name comes from the sender, and a message
#: must stay one printable line that any log or database text column can hold.
_ESCAPED_CONTROLS = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F)}


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(p) for p in err["loc"]).translate(_ESCAPED_CONTROLS) or "(record)"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


_adapters: dict[Any, TypeAdapter[Any]] = {}


def _adapter(tp: Any) -> TypeAdapter[Any]:
    adapter = _adapters.get(tp)
    if adapter is None:
        adapter = _adapters[tp] = TypeAdapter(tp)
    return adapter


_partials: dict[type[BaseModel], type[BaseModel]] = {}


def _partial(model: type[BaseModel]) -> type[BaseModel]:
    """``model`` with every field optional, recursively through nested models."""
    if model in _partials:
        return _partials[model]
    overrides: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        annotation = _partial_annotation(info.annotation)
        if info.metadata:
            # Keep the field's own constraints (ge, le, pattern, ...): pydantic moves a
            # field's ``Field(ge=...)`` into ``metadata``, which the annotation lacks.
            annotation = typing.Annotated[(annotation, *info.metadata)]
        overrides[name] = (
            annotation | None,
            Field(None, alias=info.alias, description=info.description),
        )
    partial = create_model(f"Partial{model.__name__}", __base__=model, **overrides)
    _partials[model] = partial
    return partial


def _partial_annotation(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _partial(annotation)
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return typing.Union[tuple(_partial_annotation(a) for a in args)]  # noqa: UP007
    if origin is list and args:
        return types.GenericAlias(list, (_partial_annotation(args[0]),))
    return annotation
