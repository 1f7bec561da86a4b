"""Reading what a view discloses: text, numbers, the period and the place.

Every reader returns ``None`` for an absent, empty or ill-typed claim: a policy
may withhold any field, and an analyzer works on whatever is left.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from clearinghouse.analyzers.base import View
from clearinghouse.analyzers.trafficking_network._places import Place, country_code

__all__ = ["grams", "number", "period_of", "place_label", "place_of", "text", "year_of"]

_MONTH = re.compile(r"\d{4}-\d{2}")


def text(value: Any) -> str | None:
    """A non-empty stripped string, or ``None``."""
    if isinstance(value, str) and value.strip():
        return " ".join(value.split())
    return None


def number(value: Any) -> float | None:
    """A finite non-negative number (not a bool), or ``None``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    return value if value >= 0 and value == value and value != float("inf") else None


def period_of(view: View) -> str | None:
    """YYYY-MM of the event or seizure (``month``, ``date``, ``date_start``), else its year."""
    for field in ("month", "date", "date_start"):
        value = view.get(field)
        if isinstance(value, date):
            return value.isoformat()[:7]
        if isinstance(value, str) and _MONTH.match(value):
            return value[:7]
    year = view.get("year")
    if isinstance(year, int) and not isinstance(year, bool):
        return str(year)
    return None


def grams(kilograms: float) -> int:
    """Kilograms as whole milligrams: integer tallies add up exactly in any order."""
    return round(kilograms * 1_000_000)


def year_of(period: str | None) -> str | None:
    """The year of a period ("2017-03" -> "2017")."""
    return None if period is None else period[:4]


def place_of(view: View) -> tuple[Place | None, str | None]:
    """(country, admin1) of the view, the country in the one place scheme
    (:mod:`._places`): a seizure's ``country_code`` when it has one, else its
    ``country`` name. ``(None, None)`` when the view says no country."""
    raw = None
    if view.schema == "seizure/1":
        raw = text(view.get("country_code"))
    raw = raw or text(view.get("country"))
    country = country_code(raw) if raw is not None else None
    return country, text(view.get("admin1"))


def place_label(country: str | None, admin1: str | None) -> str | None:
    """A place node's name: "SYR / Aleppo Governorate", or the country alone."""
    if country is None:
        return admin1
    return f"{country} / {admin1}" if admin1 else country
