"""The record schemas this code knows, by id (DESIGN.md, "Record schemas").

Each schema lives in its own module as a :class:`SchemaSpec` named ``SPEC``; this
package only registers them. A new version of a schema is a new id and a new module.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from clearinghouse.protocol.errors import UnknownSchema
from clearinghouse.protocol.schemas import (
    analysis_result,
    conflict_event,
    financial_flow,
    market_price,
    seizure,
)
from clearinghouse.protocol.schemas._spec import Derivation, RecordModel, SchemaSpec

__all__ = ["SCHEMAS", "Derivation", "RecordModel", "SchemaSpec", "get_schema"]

SCHEMAS: Mapping[str, SchemaSpec] = MappingProxyType(
    {
        spec.id: spec
        for spec in (
            conflict_event.SPEC,
            seizure.SPEC,
            market_price.SPEC,
            financial_flow.SPEC,
            analysis_result.SPEC,
        )
    }
)


def get_schema(schema_id: str) -> SchemaSpec:
    """The schema with id ``schema_id``; raises :class:`UnknownSchema` if there is none."""
    try:
        return SCHEMAS[schema_id]
    except KeyError:
        known = ", ".join(sorted(SCHEMAS))
        raise UnknownSchema(f"unknown schema {schema_id!r}; known: {known}") from None
