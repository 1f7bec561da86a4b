"""UNODC annual drug seizures -> ``seizure/1`` records of kind ``annual-total``.

Reads dataUNODC's "Drug seizures" CSV: one row per country, drug and year with
the columns ``Region, SubRegion, Country/Territory, msCode, Drug group,
DrugSubGroup, Drug, Year, Kilograms``.

Following the source:

* the country name is kept exactly as UNODC writes it (``country``), and
  ``country_code`` is the ISO 3166-1 alpha-3 code: ``msCode`` upper-cased when
  ISO 3166 assigns it, else the code of the country name when ISO 3166 knows the
  name, else absent (a territory UNODC reports apart keeps its name and stays in);
* every row with a year and a quantity is accepted, including quantities of 0;
  a row is refused only when ``Year`` or ``Kilograms`` is empty or unreadable, or
  the quantity is negative (an annual total without a quantity says nothing).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import pycountry

from clearinghouse.node.importers import _reading
from clearinghouse.node.importers._errors import RowRejected
from clearinghouse.node.importers._reading import integer, number, text, validated
from clearinghouse.protocol.schemas.seizure import SPEC

__all__ = [
    "COLUMNS",
    "HEADER_MARKERS",
    "SCHEMA",
    "iso3_of",
    "read_items",
    "read_seizures",
    "record_from_row",
]

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

_NEEDS: Mapping[str, str] = {
    "year": "the year the total is for",
    "kilograms": "the quantity seized, which is what an annual total reports",
}


@cache
def iso3_of(code: str | None, name: str | None) -> str | None:
    """The ISO 3166-1 alpha-3 code for UNODC's ``msCode`` and country name, or ``None``."""
    if code:
        found = pycountry.countries.get(alpha_3=code.strip().upper())
        if found is not None:
            return str(found.alpha_3)
    if name:
        try:
            return str(pycountry.countries.lookup(name.strip()).alpha_3)
        except LookupError:
            return None
    return None


def record_from_row(row: Mapping[str, str], *, line: int | None = None) -> dict[str, Any]:
    """Map one UNODC row (column name -> cell) to a valid ``seizure/1`` annual total.

    Raises :class:`~node.importers.RowRejected` naming ``line`` and the column
    when the year or the quantity is unusable.
    """
    record: dict[str, Any] = {"kind": "annual-total"}
    for field, column in COLUMNS.items():
        if field == "year":
            value: Any = integer(row, column, line)
        elif field == "kilograms":
            value = number(row, column, line)
        elif field == "country_code":
            value = iso3_of(text(row, column), text(row, COLUMNS["country"]))
        else:
            value = text(row, column)
        if value is not None:
            record[field] = value
        elif field in _NEEDS:
            raise RowRejected(
                line,
                f"empty, but an annual total needs {field}: {_NEEDS[field]}",
                column=column,
                rule="empty where the schema needs a value",
            )
    return validated(SPEC, record, line, COLUMNS, needs=_NEEDS)


def read_items(path: str | Path) -> Iterator[tuple[int, dict[str, Any] | RowRejected]]:
    """Yield ``(line, record or RowRejected)`` for every row of a UNODC seizures CSV
    (plain or gzip), going on past refused rows. Raises
    :class:`~node.importers.ImportFailed` if the file cannot be opened."""
    return _reading.read_items(
        path, lambda row, line: record_from_row(row, line=line), required=HEADER_MARKERS
    )


def read_seizures(path: str | Path) -> Iterator[dict[str, Any]]:
    """Stream the rows of a UNODC seizures CSV (plain or gzip) as records.

    Raises :class:`~node.importers.RowRejected` at the first refused row, naming
    its line and column (use :func:`read_items` to go on past refused rows).
    """
    for _, item in read_items(path):
        if isinstance(item, RowRejected):
            raise item
        yield item
