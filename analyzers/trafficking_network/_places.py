"""One place scheme across schemas: ISO 3166-1 alpha-3 country codes.

The schemas name countries differently: ``conflict-event/1`` gives UCDP's country
*name* ("Syria", "DR Congo (Zaire)"), ``seizure/1`` a ``country_code`` (UNODC's
msCode, ISO 3166-1 alpha-3) and a UNODC ``country`` name ("Iran (Islamic Republic
of)"), routes "ISO3 preferred" but sometimes a name, ``financial-flow/1`` ISO3
codes. :func:`country_code` maps each to one key, in this order:

1. a three-letter code that ISO 3166-1 assigns (``pycountry``), upper-cased;
2. an exact, case-insensitive match of an ISO 3166-1 name, official name or
   common name (``pycountry.countries.lookup``);
3. the table ``data/place_names.csv``: names UCDP (Gleditsch-Ward country names)
   and UNODC (UN M49 names) use that pycountry does not know, each with its source;
   a row with an empty code marks a place that has no ISO 3166-1 code (Kosovo);
4. the same two lookups on the name without a trailing parenthesis
   ("Myanmar (Burma)" -> "Myanmar");
5. ``pycountry``'s fuzzy search, accepted only when it returns exactly one country
   and the name is part of one of that country's names ("Russia" -> "Russian
   Federation"): the search also matches subdivisions ("Kosovo" finds Serbia
   through a subdivision, "Niger" ranks Nigeria first), which is never accepted.

Anything else keeps its normalised name (whitespace collapsed) and is *unmapped*:
the summary lists unmapped places so that the table can be extended.

A pure function of the string (cached), so the same place always gets the same key.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import pycountry

__all__ = ["Place", "country_code", "country_name", "place_table"]

_PARENTHESIS = re.compile(r"\s*\([^)]*\)\s*$")


@dataclass(frozen=True)
class Place:
    """A country as the analyzer keys it: an ISO3 code, or a normalised name (unmapped)."""

    key: str
    mapped: bool


def _fold(name: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


@lru_cache(maxsize=1)
def place_table() -> dict[str, str | None]:
    """The extra names table: folded name -> ISO3 code (``None``: known, no ISO code)."""
    text = (
        resources.files("clearinghouse.analyzers.trafficking_network")
        .joinpath("data/place_names.csv")
        .read_text(encoding="utf-8")
    )
    table: dict[str, str | None] = {}
    for row in csv.DictReader(text.splitlines()):
        table[_fold(row["name"])] = row["alpha_3"].strip() or None
    return table


def _iso3(code: str) -> str | None:
    country = pycountry.countries.get(alpha_3=code.upper())
    return None if country is None else str(country.alpha_3)


def _exact(name: str) -> tuple[bool, str | None]:
    """(known, code): known is True when the table or ISO 3166 decides the name."""
    folded = _fold(name)
    table = place_table()
    if folded in table:
        return True, table[folded]
    try:
        return True, str(pycountry.countries.lookup(name).alpha_3)
    except LookupError:
        return False, None


def _names(country: object) -> list[str]:
    return [
        _fold(str(getattr(country, attribute)))
        for attribute in ("name", "official_name", "common_name")
        if getattr(country, attribute, None)
    ]


def _fuzzy(name: str) -> str | None:
    try:
        found = pycountry.countries.search_fuzzy(name)
    except LookupError:
        return None
    if len(found) != 1:
        return None
    folded = _fold(name)
    if any(folded in candidate for candidate in _names(found[0])):
        return str(found[0].alpha_3)
    return None


@lru_cache(maxsize=4096)
def country_code(value: str) -> Place:
    """The place key of a country name or code (see the module's rules)."""
    name = " ".join(value.split())
    if len(name) == 3 and name.isalpha():
        code = _iso3(name)
        if code is not None:
            return Place(code, True)
    known, code = _exact(name)
    if not known:
        stripped = _PARENTHESIS.sub("", name)
        if stripped and stripped != name:
            known, code = _exact(stripped)
    if not known:
        code = _fuzzy(name)
    return Place(code, True) if code is not None else Place(name, False)


@lru_cache(maxsize=1024)
def country_name(key: str) -> str:
    """The ISO 3166-1 short name of a code, or the (unmapped) key itself."""
    country = pycountry.countries.get(alpha_3=key) if len(key) == 3 else None
    return key if country is None else str(country.name)
