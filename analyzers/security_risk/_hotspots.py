"""Incident tallies per country x admin1 x month, read from ``conflict-event/1`` views.

One view becomes at most one :class:`Incident`: where (country, admin1), when (the
month of ``date_start``, or the derived ``month`` claim when the date is withheld)
and how bad (``deaths.best/low/high/civilians``, and whether it was one-sided
violence, ``type_of_violence == 3``). A view without a country or a month cannot be
placed and gives none; every other absent claim counts as nothing (an event whose
``deaths`` are withheld still counts as an event).

A death estimate without its bounds is its own bound: ``low`` and ``high`` fall
back to ``best`` when they are absent, as UCDP does for single estimates.

State keys (values are JSON objects, see :func:`new_tally`):

* ``cell:["Syria","Homs Governorate","2016-01"]`` - the tally of one area-month
  (the JSON list keeps ``null`` admin1 apart from any name);
* ``rank:["Syria","2016-01"]`` - ``{json(admin1): fatalities_best}`` of one
  country-month, for the country's top areas;
* ``country:Syria`` - ``{"first_month": ...}``, the earliest month seen, so that a
  baseline never reaches before the data begins.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from analyzers.base import View

__all__ = [
    "CELL_PREFIX",
    "Incident",
    "add_incident",
    "cell_key",
    "country_key",
    "incident_of",
    "months_before",
    "new_tally",
    "rank_key",
]

CELL_PREFIX = "cell:"
RANK_PREFIX = "rank:"
COUNTRY_PREFIX = "country:"

#: type_of_violence code of one-sided violence against civilians (UCDP GED).
ONE_SIDED = 3

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])")


@dataclass(frozen=True)
class Incident:
    """What one view tells about the area-month it falls in."""

    country: str
    admin1: str | None
    month: str
    best: int
    low: int
    high: int
    civilians: int
    one_sided: bool


def _count(value: Any) -> int | None:
    """A non-negative integer claim, or ``None`` when absent or not a count."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


def _month_of(view: View) -> str | None:
    for value in (view.get("date_start"), view.get("month")):
        if isinstance(value, str) and (match := _MONTH.match(value)):
            return f"{match.group(1)}-{match.group(2)}"
    return None


def incident_of(view: View) -> Incident | None:
    """The incident a view discloses, or ``None`` when it has no country or month."""
    country = view.get("country")
    month = _month_of(view)
    if not isinstance(country, str) or not country or month is None:
        return None
    admin1 = view.get("admin1")
    deaths = view.get("deaths")
    deaths = deaths if isinstance(deaths, dict) else {}
    best = _count(deaths.get("best")) or 0
    low = _count(deaths.get("low"))
    high = _count(deaths.get("high"))
    return Incident(
        country=country,
        admin1=admin1 if isinstance(admin1, str) else None,
        month=month,
        best=best,
        low=best if low is None else low,
        high=best if high is None else high,
        civilians=_count(deaths.get("civilians")) or 0,
        one_sided=view.get("type_of_violence") == ONE_SIDED,
    )


def cell_key(country: str, admin1: str | None, month: str) -> str:
    return CELL_PREFIX + json.dumps([country, admin1, month], ensure_ascii=False)


def rank_key(country: str, month: str) -> str:
    return RANK_PREFIX + json.dumps([country, month], ensure_ascii=False)


def country_key(country: str) -> str:
    return COUNTRY_PREFIX + country


def new_tally() -> dict[str, Any]:
    """An empty area-month: counts, and the flags raised so far (kind -> level)."""
    return {
        "events": 0,
        "fatalities_best": 0,
        "fatalities_low": 0,
        "fatalities_high": 0,
        "civilian_deaths": 0,
        "one_sided_events": 0,
        "flags": {},
    }


def add_incident(tally: dict[str, Any], incident: Incident) -> None:
    """Count ``incident`` into ``tally`` (in place)."""
    tally["events"] += 1
    tally["fatalities_best"] += incident.best
    tally["fatalities_low"] += incident.low
    tally["fatalities_high"] += incident.high
    tally["civilian_deaths"] += incident.civilians
    tally["one_sided_events"] += int(incident.one_sided)


def months_before(month: str, count: int) -> list[str]:
    """The ``count`` calendar months before ``month`` ("YYYY-MM"), nearest first."""
    year, number = int(month[:4]), int(month[5:7])
    out = []
    for _ in range(count):
        year, number = (year - 1, 12) if number == 1 else (year, number - 1)
        out.append(f"{year:04d}-{number:02d}")
    return out
