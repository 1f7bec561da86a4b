"""Where and when a record is: its place claims and date claims, per schema.

An oversight authorisation's query (:mod:`protocol.authorisation`) names areas and
a period; these tables say which claims of each schema answer "where" and "when",
and the helpers compare them: place names case-insensitively with one trailing
administrative word dropped ("Idlib Governorate" -> "idlib"), dates as the days
they stand for (a day, a month "YYYY-MM", a year).
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from collections.abc import Mapping
from datetime import date
from types import MappingProxyType
from typing import Any, NamedTuple

__all__ = [
    "DATE_CLAIMS",
    "PLACE_CLAIMS",
    "UNDATED",
    "Dating",
    "contains",
    "day_span",
    "overlaps",
    "place_key",
    "record_within",
]


class Dating(NamedTuple):
    """A schema's date claims: ``exact`` ISO dates, ``coarse`` years (int) or months."""

    exact: tuple[str, ...]
    coarse: tuple[str, ...]


#: Per schema, the claims that name where the record is (an ``area`` matches one).
#: Routes (a seizure's origin, destination, transit) and coordinates are not places.
PLACE_CLAIMS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "conflict-event/1": ("region", "country", "admin1", "admin2", "place"),
        "seizure/1": ("region", "subregion", "country", "country_code", "admin1", "place"),
        "market-price/1": ("country_code", "admin1", "admin2", "market"),
        "financial-flow/1": ("sender_country", "receiver_country"),
        "analysis-result/1": (),
    }
)
#: Per schema, the claims that say when the record is (a ``period`` contains it).
DATE_CLAIMS: Mapping[str, Dating] = MappingProxyType(
    {
        "conflict-event/1": Dating(("date_start", "date_end"), ("month", "year")),
        "seizure/1": Dating(("date",), ("month", "year")),
        "market-price/1": Dating(("date",), ("month",)),
        "financial-flow/1": Dating(("date",), ("month",)),
        "analysis-result/1": Dating((), ()),
    }
)
UNDATED = Dating((), ())
#: One trailing word of these is dropped before place names are compared.
_ADMIN_WORDS = frozenset(
    {
        "governorate",
        "province",
        "district",
        "subdistrict",
        "sub-district",
        "county",
        "municipality",
        "prefecture",
        "department",
        "town",
        "village",
    }
)


def record_within(start: date, end: date, dating: Dating, claims: Mapping[str, Any]) -> bool:
    """Every exact date present lies in the period; with none, every coarse one does."""
    for names, exact in ((dating.exact, True), (dating.coarse, False)):
        present = [claims[n] for n in names if claims.get(n) is not None]
        if present:
            return all(contains(start, end, day_span(v, exact=exact)) for v in present)
    return False


def day_span(value: Any, *, exact: bool) -> tuple[date, date] | None:
    """The days a date claim stands for: a day, a month ("YYYY-MM") or a year (int)."""
    try:
        if exact and isinstance(value, str):
            day = date.fromisoformat(value)
            return day, day
        if not exact and isinstance(value, int) and not isinstance(value, bool):
            return date(value, 1, 1), date(value, 12, 31)
        if not exact and isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}", value):
            year, month = int(value[:4]), int(value[5:])
            return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])
    except (ValueError, OverflowError):
        return None
    return None


def contains(start: date, end: date, span: tuple[date, date] | None) -> bool:
    """Whether ``span`` lies wholly within ``start``..``end`` (both days included)."""
    return span is not None and start <= span[0] and span[1] <= end


def overlaps(start: date, end: date, span: tuple[date, date] | None) -> bool:
    """Whether ``span`` shares a day with ``start``..``end``."""
    return span is not None and span[0] <= end and start <= span[1]


def place_key(name: str) -> str:
    """A place name as compared: NFKC, case-folded, one trailing administrative word dropped."""
    words = unicodedata.normalize("NFKC", name).casefold().split()
    if len(words) > 1 and words[-1] in _ADMIN_WORDS:
        words.pop()
    return " ".join(words)
