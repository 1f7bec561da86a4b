"""WFP food prices (HDX format) -> ``market-price/1`` records.

The Humanitarian Data Exchange publishes WFP's VAM prices per country as
``wfp_food_prices_<iso3>.csv``: line 1 the column names (``date, admin1, admin2,
market, market_id, latitude, longitude, category, commodity, commodity_id, unit,
priceflag, pricetype, currency, price, usdprice``), line 2 HXL hashtags
(``#date,#adm1+name,...``), data from line 3. The file may be gzip-compressed.

The file has no country column; the country of its markets is taken from the
``country_code`` argument or, failing that, from HDX's file name.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from node.importers._reading import integer, iso_date, number, read_rows, text, validated
from protocol.schemas.market_price import SPEC

__all__ = ["COLUMNS", "HEADER_MARKERS", "SCHEMA", "read_prices", "record_from_row"]

SCHEMA = SPEC.id

#: Record field -> HDX column.
COLUMNS: Mapping[str, str] = {
    "date": "date",
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

#: Columns that make a header a WFP price file.
HEADER_MARKERS: tuple[str, ...] = ("date", "market", "commodity", "unit", "currency", "price")

_INTEGERS = frozenset({"market_id", "commodity_id"})
_NUMBERS = frozenset({"latitude", "longitude", "price", "usd_price"})
_FILE_NAME = re.compile(r"^wfp_food_prices_([a-z]{3})\b", re.IGNORECASE)


def record_from_row(
    row: Mapping[str, str], *, line: int | None = None, country_code: str | None = None
) -> dict[str, Any]:
    """Map one HDX price row (column name -> cell) to a valid ``market-price/1`` record.

    Raises :class:`~node.importers.RowRejected` naming ``line`` and the column
    when a cell cannot be parsed or the record breaks the schema.
    """
    record: dict[str, Any] = {}
    for field, column in COLUMNS.items():
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
    if country_code is not None:
        record["country_code"] = country_code
    return validated(SPEC, record, line, COLUMNS)


def read_prices(path: str | Path, *, country_code: str | None = None) -> Iterator[dict[str, Any]]:
    """Stream the prices of an HDX WFP file (plain or gzip) as records.

    ``country_code`` (ISO3) defaults to the one in an HDX file name such as
    ``wfp_food_prices_syr.csv.gz``. Raises :class:`~node.importers.RowRejected`
    at the first bad row, naming its line and column.
    """
    if country_code is None:
        match = _FILE_NAME.match(Path(path).name)
        country_code = match.group(1).upper() if match else None
    for line, row in read_rows(path, required=HEADER_MARKERS, skip_hxl=True):
        yield record_from_row(row, line=line, country_code=country_code)
