"""UNODC annual drug seizures -> ``seizure/1`` records of kind ``annual-total``.

Reads dataUNODC's "Drug seizures" CSV: one row per country, drug and year with
the columns ``Region, SubRegion, Country/Territory, msCode, Drug group,
DrugSubGroup, Drug, Year, Kilograms`` (``msCode`` is the ISO3 code).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from node.importers._errors import RowRejected
from node.importers._reading import integer, number, read_rows, text, validated
from protocol.schemas.seizure import SPEC

__all__ = ["COLUMNS", "HEADER_MARKERS", "SCHEMA", "read_seizures", "record_from_row"]

SCHEMA = SPEC.id

#: Record field -> UNODC column.
COLUMNS: Mapping[str, str] = {
    "region": "Region",
    "subregion": "SubRegion",
    "country": "Country/Territory",
    "country_code": "msCode",
    "drug_group": "Drug group",
    "drug_subgroup": "DrugSubGroup",
    "drug": "Drug",
    "year": "Year",
    "kilograms": "Kilograms",
}

#: Columns that make a header a UNODC seizures file.
HEADER_MARKERS: tuple[str, ...] = ("Country/Territory", "msCode", "Drug", "Year", "Kilograms")

_REQUIRED = frozenset({"year", "kilograms"})


def record_from_row(row: Mapping[str, str], *, line: int | None = None) -> dict[str, Any]:
    """Map one UNODC row (column name -> cell) to a valid ``seizure/1`` annual total.

    Raises :class:`~node.importers.RowRejected` naming ``line`` and the column
    when a cell cannot be parsed or the record breaks the schema.
    """
    record: dict[str, Any] = {"kind": "annual-total"}
    for field, column in COLUMNS.items():
        if field == "year":
            value: Any = integer(row, column, line)
        elif field == "kilograms":
            value = number(row, column, line)
        else:
            value = text(row, column)
        if value is not None:
            record[field] = value
        elif field in _REQUIRED:
            raise RowRejected(line, "an annual total needs a value here", column=column)
    return validated(SPEC, record, line, COLUMNS)


def read_seizures(path: str | Path) -> Iterator[dict[str, Any]]:
    """Stream the rows of a UNODC seizures CSV (plain or gzip) as records.

    Raises :class:`~node.importers.RowRejected` at the first bad row, naming its
    line and column.
    """
    for line, row in read_rows(path, required=HEADER_MARKERS):
        yield record_from_row(row, line=line)
