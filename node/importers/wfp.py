"""WFP food prices (HDX format) -> ``market-price/1`` records.

The Humanitarian Data Exchange publishes WFP's VAM prices per country as
``wfp_food_prices_<iso3>.csv``: line 1 the column names (``date, admin1, admin2,
market, market_id, latitude, longitude, category, commodity, commodity_id, unit,
priceflag, pricetype, currency, price, usdprice``), line 2 HXL hashtags
(``#date,#adm1+name,...``), data from line 3. The file may be gzip-compressed.

Columns are found by their **HXL hashtag** (:data:`HXL_FIELDS`), as the
Humanitarian Exchange Language means them to be: a tag pattern ``#value`` matches
a column tagged ``#value`` with any attributes except those it excludes, so
renamed or translated column headers, reordered columns and older HDX exports
(``#name+market`` for the market, ``#currency`` without ``+code``) read the same.
A file without an HXL row is read by its column names (:data:`COLUMNS`).

Following the source:

* ``usdprice`` (``#value+usd``) becomes ``usd_price`` wherever WFP gives it (WFP
  leaves it empty when it has no exchange rate for the month); ``price`` stays in
  its ``currency``;
* the unit is kept exactly as published (``KG``, ``1.1 KG``, ``25 KG``, ``MT``,
  ``USD/LCU`` for exchange-rate series...): converting units is analysis, not import;
* every ``priceflag`` (``actual``, ``aggregate``, ``forecast``, combinations such
  as ``actual,aggregate``) and ``pricetype`` (``Retail``, ``Wholesale``,
  ``Producer``, ``Farm Gate``...) is accepted and kept as written;
* commodity names with commas are quoted CSV cells and read as one value.

The country of the markets comes from a ``#country+code`` column when the file has
one (WFP's global file), else from the ``country_code`` argument, else from HDX's
file name (``wfp_food_prices_syr.csv``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clearinghouse.node.importers._errors import RowRejected
from clearinghouse.node.importers._reading import (
    first_rows,
    integer,
    is_hxl_row,
    iso_date,
    number,
    read_cells,
    text,
    validated,
)
from clearinghouse.protocol.schemas.market_price import SPEC

__all__ = [
    "COLUMNS",
    "HEADER_MARKERS",
    "HXL_FIELDS",
    "HXL_MARKERS",
    "SCHEMA",
    "HxlPattern",
    "columns_of",
    "country_in_file_name",
    "read_items",
    "read_prices",
    "record_from_row",
    "unplaced",
]

SCHEMA = SPEC.id

#: Record field -> HDX column name (used when a file has no HXL row).
COLUMNS: Mapping[str, str] = {
    "date": "date",
    "country_code": "countryiso3",
    "admin1": "admin1",
    "admin2": "admin2",
    "market": "market",
    "market_id": "market_id",
    "latitude": "latitude",
    "longitude": "longitude",
    "category": "category",
    "commodity": "commodity",
    "commodity_id": "commodity_id",
    "unit": "unit",
    "price_flag": "priceflag",
    "price_type": "pricetype",
    "currency": "currency",
    "price": "price",
    "usd_price": "usdprice",
}

#: Columns that make a header a WFP price file (by name).
HEADER_MARKERS: tuple[str, ...] = ("date", "market", "commodity", "unit", "currency", "price")


@dataclass(frozen=True)
class HxlPattern:
    """An HXL tag pattern: ``tag`` with every attribute of ``with_`` and none of ``without``."""

    tag: str
    with_: frozenset[str] = frozenset()
    without: frozenset[str] = frozenset()

    def matches(self, hashtag: str) -> bool:
        tag, attributes = parse_hashtag(hashtag)
        return tag == self.tag and self.with_ <= attributes and not self.without & attributes


def _p(tag: str, *with_: str, without: Sequence[str] = ()) -> HxlPattern:
    return HxlPattern(tag, frozenset(with_), frozenset(without))


#: Record field -> the HXL patterns that find its column, first match wins. From the
#: tags of OCHA's HDX WFP food-price exports (hdx-scraper-wfp-foodprices), old and new.
HXL_FIELDS: Mapping[str, tuple[HxlPattern, ...]] = {
    "date": (_p("#date", without=("start", "end")),),
    "country_code": (_p("#country", "code"),),
    "admin1": (_p("#adm1", "name"), _p("#adm1", without=("code",))),
    "admin2": (_p("#adm2", "name"), _p("#adm2", without=("code",))),
    "market": (_p("#loc", "market", "name"), _p("#name", "market")),
    "market_id": (_p("#loc", "market", "code"),),
    "latitude": (_p("#geo", "lat"),),
    "longitude": (_p("#geo", "lon"),),
    "category": (_p("#item", "type", without=("price", "code")),),
    "commodity": (_p("#item", "name"),),
    "commodity_id": (_p("#item", "code", without=("type", "unit")),),
    "unit": (_p("#item", "unit", without=("code",)),),
    "price_flag": (_p("#item", "price", "flag"),),
    "price_type": (_p("#item", "price", "type", without=("code",)),),
    "currency": (_p("#currency", "code"), _p("#currency", without=("name",))),
    "price": (_p("#value", without=("usd",)),),
    "usd_price": (_p("#value", "usd"),),
}

#: Hashtags that make an HXL row a WFP price file's.
HXL_MARKERS: tuple[HxlPattern, ...] = (
    _p("#date"),
    _p("#item", "name"),
    _p("#item", "unit"),
    _p("#value", without=("usd",)),
)

_INTEGERS = frozenset({"market_id", "commodity_id"})
_NUMBERS = frozenset({"latitude", "longitude", "price", "usd_price"})
_REQUIRED = ("date", "market", "commodity", "unit", "currency", "price")
_FILE_NAME = re.compile(r"^wfp_food_prices_([a-z]{3})\b", re.IGNORECASE)
_ATTRIBUTE = re.compile(r"^[a-z][a-z0-9_]*$")


def parse_hashtag(hashtag: str) -> tuple[str, frozenset[str]]:
    """``"#value +USD"`` -> ``("#value", {"usd"})`` (HXL is case-insensitive)."""
    parts = [part.strip().lower() for part in hashtag.strip().split("+")]
    return parts[0], frozenset(part for part in parts[1:] if _ATTRIBUTE.match(part))


def columns_of(header: Sequence[str], hxl: Sequence[str] | None) -> dict[str, str]:
    """Record field -> column name, found by HXL hashtag when ``hxl`` is given (a
    column without a hashtag by its name in :data:`COLUMNS`), else by :data:`COLUMNS`.
    A field whose column is not in the file is left out."""
    if hxl is None:
        return {field: name for field, name in COLUMNS.items() if name in header}
    found: dict[str, str] = {}
    taken: set[int] = set()
    for field, patterns in HXL_FIELDS.items():
        for pattern in patterns:
            index = next(
                (
                    i
                    for i, tag in enumerate(hxl)
                    if i < len(header) and i not in taken and pattern.matches(tag)
                ),
                None,
            )
            if index is not None:
                found[field] = header[index]
                taken.add(index)
                break
    # A column left untagged is still found by its HDX name, if no hashtag claimed it.
    for field, name in COLUMNS.items():
        if field in found or name not in header:
            continue
        index = header.index(name)
        untagged = index >= len(hxl) or not hxl[index].strip()
        if untagged and index not in taken:
            found[field] = name
    return found


def is_price_hxl(hxl: Sequence[str]) -> bool:
    """Whether an HXL row carries the hashtags of a WFP price file."""
    return all(any(p.matches(tag) for tag in hxl) for p in HXL_MARKERS)


def record_from_row(
    row: Mapping[str, str],
    *,
    line: int | None = None,
    country_code: str | None = None,
    columns: Mapping[str, str] = COLUMNS,
) -> dict[str, Any]:
    """Map one HDX price row (column name -> cell) to a valid ``market-price/1`` record.

    ``columns`` maps record fields to the file's columns (:func:`columns_of`).
    Raises :class:`~node.importers.RowRejected` naming ``line`` and the column
    when a cell cannot be parsed or the record breaks the schema.
    """
    record: dict[str, Any] = {}
    for field, column in columns.items():
        if field in _INTEGERS:
            value: Any = integer(row, column, line)
        elif field in _NUMBERS:
            value = number(row, column, line)
        elif field == "date":
            value = iso_date(row, column, line)
        else:
            value = text(row, column)
        if value is not None:
            record[field] = value
    if "country_code" in record:
        record["country_code"] = record["country_code"].upper()
    elif country_code is not None:
        record["country_code"] = country_code
    if "currency" in record:
        record["currency"] = record["currency"].upper()
    return validated(SPEC, record, line, columns, needs=_NEEDS)


def read_items(
    path: str | Path, *, country_code: str | None = None
) -> Iterator[tuple[int, dict[str, Any] | RowRejected]]:
    """Yield ``(line, record or RowRejected)`` for every price row of an HDX WFP file
    (plain or gzip), going on past refused rows.

    ``country_code`` (ISO3) defaults to the one in an HDX file name such as
    ``wfp_food_prices_syr.csv.gz``. Raises :class:`~node.importers.ImportFailed`
    if the file cannot be opened.
    """
    if country_code is None:
        country_code = country_in_file_name(path)
    header, hxl = _head(path)
    columns = columns_of(header, hxl)
    missing = [field for field in _REQUIRED if field not in columns]
    if header and missing:
        wanted = ", ".join(
            f"{field} ({COLUMNS[field]!r} or {HXL_FIELDS[field][0].tag})" for field in missing
        )
        yield (
            1,
            RowRejected(1, f"no column for {wanted}", column=None, rule="missing from the header"),
        )
        return
    for line, row in read_cells(path, skip_hxl=hxl is not None):
        if isinstance(row, RowRejected):
            yield line, row
            continue
        try:
            yield line, record_from_row(row, line=line, country_code=country_code, columns=columns)
        except RowRejected as refused:
            yield line, refused


def country_in_file_name(path: str | Path) -> str | None:
    """The ISO3 code in an HDX file name such as ``wfp_food_prices_syr.csv.gz``."""
    match = _FILE_NAME.match(Path(path).name)
    return match.group(1).upper() if match else None


def unplaced(path: str | Path, *, country_code: str | None = None) -> str | None:
    """Why the prices of ``path`` would carry no ``country_code``, or None if they do.

    WFP's per-country files have no country column: HDX puts the country in the file
    name only. A renamed file's prices are still prices (kept, never dropped), but
    nothing can join them to conflict data by country, so the reader is told.
    """
    if country_code is not None or country_in_file_name(path) is not None:
        return None
    header, hxl = _head(path)
    if "country_code" in columns_of(header, hxl):
        return None
    return (
        f"{Path(path).name} names no country: it has no {COLUMNS['country_code']!r} or "
        f"#country+code column and its name is not HDX's wfp_food_prices_<iso3>.csv, so "
        "its prices carry no country_code and join no conflict data; give the country "
        "with --country ISO3"
    )


def _head(path: str | Path) -> tuple[list[str], list[str] | None]:
    """The header row, and the HXL hashtag row if the file has one."""
    head = first_rows(path, 2)
    header = head[0] if head else []
    return header, head[1] if len(head) > 1 and is_hxl_row(head[1]) else None


def read_prices(path: str | Path, *, country_code: str | None = None) -> Iterator[dict[str, Any]]:
    """Stream the prices of an HDX WFP file (plain or gzip) as records.

    Raises :class:`~node.importers.RowRejected` at the first refused row, naming
    its line and column (use :func:`read_items` to go on past refused rows).
    """
    for _, item in read_items(path, country_code=country_code):
        if isinstance(item, RowRejected):
            raise item
        yield item


_NEEDS: Mapping[str, str] = {
    "date": "the month the price is for",
    "market": "the market the price was taken at",
    "commodity": "what the price is for",
    "unit": "the quantity the price is for",
    "currency": "the currency the price is in",
    "price": "the price itself",
}
