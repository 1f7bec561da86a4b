"""Joining WFP governorates to UCDP first-level areas (DESIGN.md, "Analysis").

WFP's price file and UCDP's GED spell Syria's fourteen governorates differently
("Idleb" / "Idlib Governorate", "Rural Damascus" / "Rif Dimashq Governorate").
:data:`GOVERNORATES` is the explicit table, written from the distinct names in
``deploy/examples/data/wfp_food_prices_syr.csv.gz`` (column ``admin1``) and
``deploy/examples/data/ucdp_ged_syria_2016_2019.csv`` (column ``adm_1``); a test
checks that every WFP governorate maps to an ``adm_1`` present in the GED file.

Lookups are by :func:`name_key` (case-folded, whitespace collapsed) so that
"Homs governorate" and "Homs Governorate" are the same area.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

__all__ = [
    "FATALITY_INDEX",
    "GOVERNORATES",
    "PRICE_COUNTRIES",
    "conflict_area",
    "name_key",
    "ucdp_area",
]

#: WFP ``admin1`` (market-price/1) -> UCDP GED ``adm_1`` (conflict-event/1), Syria.
GOVERNORATES: Mapping[str, str] = MappingProxyType(
    {
        "Al-Hasakeh": "Al Hasakah Governorate",
        "Aleppo": "Aleppo Governorate",
        "Ar-Raqqa": "Ar Raqqah Governorate",
        "As-Sweida": "As Suwayda Governorate",
        "Damascus": "Damascus Governorate",
        "Dar'a": "Daraa Governorate",
        "Deir-ez-Zor": "Deir ez Zor Governorate",
        "Hama": "Hamah Governorate",
        "Homs": "Homs Governorate",
        "Idleb": "Idlib Governorate",
        "Lattakia": "Latakia Governorate",
        "Quneitra": "Quneitra Governorate",
        "Rural Damascus": "Rif Dimashq Governorate",
        "Tartous": "Tartus Governorate",
    }
)

#: ISO 3166-1 alpha-3 ``country_code`` of a price -> UCDP ``country`` name, for the
#: countries whose governorate names :data:`GOVERNORATES` covers.
PRICE_COUNTRIES: Mapping[str, str] = MappingProxyType({"SYR": "Syria"})

#: Representative deaths per ``fatality_band`` (the generalised ``deaths.best``
#: undp receives). Each is the median ``best`` of the GED Syria 2016-2019 events
#: in that band, rounded (1-4: 2; 5-24: 8; 25-99: 35; 100-999: 153.5 -> 150),
#: except the open top band, which counts at its lower bound (1000) rather than
#: the median of its five events (2,056), so that one band cannot dominate.
FATALITY_INDEX: Mapping[str, float] = MappingProxyType(
    {"0": 0.0, "1-4": 2.0, "5-24": 8.0, "25-99": 35.0, "100-999": 150.0, "1000+": 1000.0}
)


def name_key(name: str) -> str:
    """The lookup form of an area name: case-folded, whitespace collapsed."""
    return " ".join(name.split()).casefold()


_BY_KEY = {name_key(v): v for v in GOVERNORATES.values()}
_WFP_BY_KEY = {name_key(k): v for k, v in GOVERNORATES.items()}


def conflict_area(admin1: str) -> str:
    """The canonical spelling of a conflict event's ``admin1`` (as in the table)."""
    return _BY_KEY.get(name_key(admin1), " ".join(admin1.split()))


def ucdp_area(country_code: str | None, admin1: str) -> tuple[str, str] | None:
    """(UCDP ``country``, ``adm_1``) joined to a price's governorate, or ``None``.

    A price without ``country_code`` is taken to be in the country of the table
    (Syria): its governorate names are the table's.
    """
    country = PRICE_COUNTRIES.get(country_code or "SYR")
    area = _WFP_BY_KEY.get(name_key(admin1))
    if country is None or area is None:
        return None
    return country, area
