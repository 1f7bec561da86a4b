"""UCDP Georeferenced Event Dataset (GED) rows -> ``conflict-event/1`` records.

Reads both CSV layouts UCDP publishes:

* the GED 19.1 codebook layout (41 columns; the Syria special release in
  ``deploy/examples/data/ucdp_ged_syria_2016_2019.csv``);
* the global GED layout of releases 20.1 and later (49 columns, the same from
  23.1 to 26.1), which adds ``relid``, ``code_status``, ``conflict_dset_id``,
  ``dyad_dset_id``, ``side_a_dset_id``, ``side_b_dset_id``, ``where_description``
  and ``gwnoa``, writes dates with a time part (``2016-01-01 00:00:00.000``) and,
  from 25.1, ``active_year`` as ``true``/``false`` instead of ``1``/``0``.

Columns are looked up by name, so their order does not matter. The ``*_dset_id``
columns (ids in UCDP's older per-dataset numbering) and ``geom_wkt`` (the
coordinates again, as WKT) are not carried: ``*_new_id``, ``latitude`` and
``longitude`` say the same. The source headline is copied into ``narrative`` so
that a policy can share what happened without the ``source`` attribution.

Following the codebook:

* every value the codebook documents is accepted: ``type_of_violence`` 1-3,
  ``where_prec`` 1-7, ``date_prec`` 1-5, ``event_clarity`` 1-2 (see
  :data:`CODEBOOK_VALUES`), death estimates in any order (``high`` may be below
  ``best``), several Gleditsch-Ward numbers in ``gwnoa``/``gwnob`` ("2;200;900",
  "651, 652"). Year-long national summaries (``date_prec`` 5, ``where_prec`` 6)
  are events like any other: their precision codes travel with them and decide,
  downstream, how they are counted;
* a negative number in an integer column is the global layout's code for "not
  known" (``number_of_sources`` is -1 for events coded before 2014: "-1 does NOT
  mean information on the source is missing", codebook 25.1) and becomes an
  *absent* field, never a refusal, wherever ``conflict-event/1`` can do without
  the field (sources, PRIO-GRID cell, GW numbers, UCDP ids, death breakdown);
* a row is refused (:class:`RowRejected`, with line, column and reason) only when
  a field the schema truly needs is unusable (:data:`NEEDS` says why each is
  needed): a cell that does not parse, a code outside the codebook's list, an
  unknown where a value is needed (an unknown ``best``), a ``date_end`` before
  ``date_start``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from clearinghouse.node.importers import _reading
from clearinghouse.node.importers._errors import RowRejected
from clearinghouse.node.importers._reading import (
    boolean,
    integer,
    integers,
    iso_date,
    number,
    text,
    validated,
)
from clearinghouse.protocol.schemas.conflict_event import SPEC

__all__ = [
    "CODEBOOK_VALUES",
    "COLUMNS",
    "HEADER_MARKERS",
    "NEEDS",
    "SCHEMA",
    "read_events",
    "read_items",
    "record_from_row",
]

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

#: The coded columns' values, as the GED codebook lists them (19.1 and 23.1-26.1 agree).
CODEBOOK_VALUES: Mapping[str, Mapping[int, str]] = {
    "type_of_violence": {
        1: "state-based conflict",
        2: "non-state conflict",
        3: "one-sided violence",
    },
    "where_precision": {
        1: "exact location",
        2: "within about 25 km of a known point",
        3: "second-order administrative division",
        4: "first-order administrative division",
        5: "part of a country, or a linear feature (road, river, border)",
        6: "only the country",
        7: "international waters or airspace",
    },
    "date_precision": {
        1: "exact day",
        2: "a span of 2-6 days",
        3: "a week",
        4: "a span of 8-30 days, or a month",
        5: "more than a month, within a year",
    },
    "event_clarity": {1: "a clearly delimited event", 2: "a summary of several events"},
}

#: Why ``conflict-event/1`` needs each of its required fields (said when one is unusable).
NEEDS: Mapping[str, str] = {
    "event_id": "the event's identity",
    "year": "the year the event is counted in",
    "type_of_violence": "analyzers tell state-based, non-state and one-sided violence apart",
    "conflict": "analyzers group events by conflict",
    "dyad": "analyzers group events by dyad",
    "side_a": "analyzers group events by actor",
    "side_b": "analyzers group events by actor",
    "date_start": "the earliest date the event may have happened",
    "date_end": "the latest date the event may have happened",
    "date_precision": "it decides whether the event counts in its day and month or apart",
    "country": "the area the event is counted in",
    "latitude": "where the event happened",
    "longitude": "where the event happened",
    "where_precision": "it decides whether the event counts in an area or apart as unlocated",
    "event_clarity": "it tells a single event from a summary of several",
    "deaths": "the fatality estimates",
    "deaths.best": "the fatality count every analyzer totals",
}

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

    Empty cells and negative (unknown) integer codes are left out; dates become
    ISO strings, counts integers. Raises :class:`~node.importers.RowRejected`
    naming ``line``, the column and the codebook's reason when a field the schema
    needs is unusable.
    """
    record: dict[str, Any] = {}
    nested: dict[str, dict[str, Any]] = {"deaths": {}, "source": {}}
    unknown: dict[str, str] = {}
    for field, column in COLUMNS.items():
        value = _cell(row, field, column, line, unknown)
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
    start, end = record.get("date_start"), record.get("date_end")
    if start is not None and end is not None and end < start:
        raise RowRejected(
            line,
            f"{end} is before date_start {start}; in the codebook date_end is the latest "
            "and date_start the earliest date the event may have happened",
            column=COLUMNS["date_end"],
            rule="date_end before date_start",
        )
    return validated(SPEC, record, line, COLUMNS, needs=NEEDS, unknown=unknown)


def read_items(path: str | Path) -> Iterator[tuple[int, dict[str, Any] | RowRejected]]:
    """Yield ``(line, record or RowRejected)`` for every row of a GED CSV file (plain
    or gzip), going on past refused rows. Raises :class:`~node.importers.ImportFailed`
    if the file cannot be opened."""
    return _reading.read_items(
        path, lambda row, line: record_from_row(row, line=line), required=HEADER_MARKERS
    )


def read_events(path: str | Path) -> Iterator[dict[str, Any]]:
    """Stream the GED events of a CSV file (plain or gzip) as records.

    Raises :class:`~node.importers.RowRejected` at the first refused row, naming
    its line and column (use :func:`read_items` to go on past refused rows).
    """
    for _, item in read_items(path):
        if isinstance(item, RowRejected):
            raise item
        yield item


def _cell(
    row: Mapping[str, str], field: str, column: str, line: int | None, unknown: dict[str, str]
) -> Any:
    if field in _INTEGERS or field.startswith("deaths."):
        value = integer(row, column, line)
        if value is not None and value < 0:
            unknown[field] = row[column].strip()
            return None
        codes = CODEBOOK_VALUES.get(field)
        if value is not None and codes is not None and value not in codes:
            listed = "; ".join(f"{code} {meaning}" for code, meaning in codes.items())
            raise RowRejected(
                line,
                f"{value} is not a {column} code of the UCDP GED codebook ({listed})",
                column=column,
                rule="not a value the codebook lists",
            )
        return value
    if field in _NUMBERS:
        return number(row, column, line)
    if field in _DATES:
        return iso_date(row, column, line)
    if field in _BOOLEANS:
        return boolean(row, column, line)
    if field in _INTEGER_LISTS:
        numbers = integers(row, column, line)
        if numbers is None:
            return None
        known = [n for n in numbers if n >= 0]
        if not known:
            unknown[field] = row[column].strip()
            return None
        return known
    return text(row, column)
