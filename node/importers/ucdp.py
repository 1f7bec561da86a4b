"""UCDP Georeferenced Event Dataset (GED) rows -> ``conflict-event/1`` records.

Reads both CSV layouts UCDP publishes:

* the GED 19.1 codebook layout (41 columns; the Syria special release in
  ``deploy/examples/data/ucdp_ged_syria_2016_2019.csv``);
* the global GED layout of releases 23.1 and later (49 columns), which adds
  ``relid``, ``code_status``, ``conflict_dset_id``, ``dyad_dset_id``,
  ``side_a_dset_id``, ``side_b_dset_id``, ``where_description`` and ``gwnoa``,
  and writes dates with a time part (``2016-01-01 00:00:00.000``).

Columns are looked up by name, so their order does not matter. The ``*_dset_id``
columns (ids in UCDP's older per-dataset numbering) and ``geom_wkt`` (the
coordinates again, as WKT) are not carried: ``*_new_id``, ``latitude`` and
``longitude`` say the same. The source headline is copied into ``narrative`` so
that a policy can share what happened without the ``source`` attribution.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from node.importers._reading import (
    boolean,
    integer,
    integers,
    iso_date,
    number,
    read_rows,
    text,
    validated,
)
from protocol.schemas.conflict_event import SPEC

__all__ = ["COLUMNS", "HEADER_MARKERS", "SCHEMA", "read_events", "record_from_row"]

SCHEMA = SPEC.id

#: Record field (or dotted path) -> GED column.
COLUMNS: Mapping[str, str] = {
    "event_id": "id",
    "relid": "relid",
    "code_status": "code_status",
    "year": "year",
    "active_year": "active_year",
    "type_of_violence": "type_of_violence",
    "conflict_id": "conflict_new_id",
    "conflict": "conflict_name",
    "dyad_id": "dyad_new_id",
    "dyad": "dyad_name",
    "side_a_id": "side_a_new_id",
    "side_a": "side_a",
    "side_a_gwno": "gwnoa",
    "side_b_id": "side_b_new_id",
    "side_b": "side_b",
    "side_b_gwno": "gwnob",
    "date_start": "date_start",
    "date_end": "date_end",
    "date_precision": "date_prec",
    "country": "country",
    "country_id": "country_id",
    "region": "region",
    "admin1": "adm_1",
    "admin2": "adm_2",
    "place": "where_coordinates",
    "place_description": "where_description",
    "latitude": "latitude",
    "longitude": "longitude",
    "where_precision": "where_prec",
    "priogrid_gid": "priogrid_gid",
    "event_clarity": "event_clarity",
    "deaths.side_a": "deaths_a",
    "deaths.side_b": "deaths_b",
    "deaths.civilians": "deaths_civilians",
    "deaths.unknown": "deaths_unknown",
    "deaths.low": "low",
    "deaths.best": "best",
    "deaths.high": "high",
    "source.article": "source_article",
    "source.office": "source_office",
    "source.date": "source_date",
    "source.headline": "source_headline",
    "source.original": "source_original",
    "source.number_of_sources": "number_of_sources",
    "narrative": "source_headline",
}

#: Columns every GED layout has; a header with these is a GED file.
HEADER_MARKERS: tuple[str, ...] = (
    "id",
    "year",
    "type_of_violence",
    "conflict_new_id",
    "dyad_new_id",
    "side_a_new_id",
    "side_b_new_id",
    "where_coordinates",
    "latitude",
    "longitude",
    "country_id",
    "date_start",
    "date_end",
    "best",
)

_INTEGERS = frozenset(
    {
        "year",
        "type_of_violence",
        "conflict_id",
        "dyad_id",
        "side_a_id",
        "side_b_id",
        "date_precision",
        "country_id",
        "where_precision",
        "priogrid_gid",
        "event_clarity",
        "source.number_of_sources",
    }
)
_NUMBERS = frozenset({"latitude", "longitude"})
_DATES = frozenset({"date_start", "date_end"})
_BOOLEANS = frozenset({"active_year"})
_INTEGER_LISTS = frozenset({"side_a_gwno", "side_b_gwno"})


def record_from_row(row: Mapping[str, str], *, line: int | None = None) -> dict[str, Any]:
    """Map one GED row (column name -> cell) to a valid ``conflict-event/1`` record.

    Empty cells are left out; dates become ISO strings, counts integers. Raises
    :class:`RowRejected` naming ``line`` and the column when a cell cannot be
    parsed or the record breaks the schema (:class:`~node.importers.RowRejected`).
    """
    record: dict[str, Any] = {}
    nested: dict[str, dict[str, Any]] = {"deaths": {}, "source": {}}
    for field, column in COLUMNS.items():
        value = _cell(row, field, column, line)
        if value is None:
            continue
        parent, _, child = field.partition(".")
        if child:
            nested[parent][child] = value
        else:
            record[field] = value
    for parent, values in nested.items():
        if values:
            record[parent] = values
    return validated(SPEC, record, line, COLUMNS)


def read_events(path: str | Path) -> Iterator[dict[str, Any]]:
    """Stream the GED events of a CSV file (plain or gzip) as records.

    Raises :class:`RowRejected` at the first bad row, naming its line and column.
    """
    for line, row in read_rows(path, required=HEADER_MARKERS):
        yield record_from_row(row, line=line)


def _cell(row: Mapping[str, str], field: str, column: str, line: int | None) -> Any:
    if field in _INTEGERS or field.startswith("deaths."):
        return integer(row, column, line)
    if field in _NUMBERS:
        return number(row, column, line)
    if field in _DATES:
        return iso_date(row, column, line)
    if field in _BOOLEANS:
        return boolean(row, column, line)
    if field in _INTEGER_LISTS:
        return integers(row, column, line)
    return text(row, column)
