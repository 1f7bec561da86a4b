"""What one ``conflict-event/1`` view counts for, and the order-free tallies it goes into.

**Precision decides how an event is counted** (UCDP GED Codebook 19.1, Högbladh 2019,
variables ``date_prec`` and ``where_prec``; the same codes in the global releases 23.1+):

* *When.* ``date_prec`` 1-3 place the event within a week: it counts in the month of
  ``date_start``. ``date_prec`` 4 means only the month is known and 5 a span of more
  than a month: such an event counts in a month only when its ``date_start`` and
  ``date_end`` fall in the same calendar month (the month is then known, which is
  all a monthly series needs); otherwise its period is the year (``"2016"``), or the
  span of months (``"2016-11/2017-02"``) when it crosses a year. This analyzer keeps
  no day-level series, so a month-precision event is never placed on a day.
  UCDP's year-long national summaries (1 January to 31 December) are never counted
  in January.
* *Where.* ``where_prec`` 1-4 (exact place, within about 25 km, second- or
  first-order administrative area) locate the event in its ``admin1``. ``where_prec``
  5 ("a larger part of the country", or a linear feature such as a road or river)
  gives coordinates and an ``adm_1`` of a representative point of a region that
  may span several first-order areas: that admin1 is not meaningful, so the event
  is *regional*. ``where_prec`` 6 (only the country) and 7 (international waters
  or airspace) are *unlocated*, as is any event without an admin1.
* Only events placed both in a month and in an admin1 enter the area-month
  tallies that are ranked and flagged. Every other event is counted apart, per
  country, admin1 (when located) and period, as "imprecise / unlocated".
* When a policy withholds a precision code the view is taken at its word: an
  admin1 locates it, and the dates (or the ``month`` claim) place it.

**Grid cells** (for diffusion): the 0.5-degree PRIO-GRID cell (Tollefsen, Strand &
Buhaug 2012, "PRIO-GRID: A unified spatial data structure", Journal of Peace
Research 49(2)) from ``priogrid_gid``, else computed from the coordinates
(``row * 720 + col + 1``, row and column counted from -90 and -180 in half-degree
steps), else from the ``latitude_cell``/``longitude_cell`` claims. Only events with
``where_prec`` 1-3 have a cell: a first-order area's centroid (4) or a region's
point (5-7) does not say which cell the violence was in. An admin2 (3) is, on
average, of the order of one cell.

**Armed actors** (for fragmentation): ``side_a`` and ``side_b`` by UCDP actor id
(``side_*_id``), else by name or its pseudonym; side B of one-sided violence
(``type_of_violence`` 3) and any actor named "Civilians" are not armed actors.
Governments count: they are parties to the violence.

State keys (JSON values; sets are kept as sorted lists, so the tallies are the same
for every order of the same events):

* ``month:["Syria","2016-03"]`` - ``{admin1: tally}`` of the located, month-placed
  events of one country-month (see :func:`new_tally`);
* ``imprecise:["Syria",null,"2016"]`` - the tally of events counted apart, per
  country, admin1 (``null`` when not located) and period;
* ``country:Syria`` - ``{"months": [...]}``, the sorted months holding located,
  month-placed events: the span of the data held (baselines never reach before it;
  trends end at its last month).
"""

from __future__ import annotations

import json
import math
import re
from bisect import insort
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from clearinghouse.analyzers.base import View

__all__ = [
    "COUNTRY_PREFIX",
    "IMPRECISE_PREFIX",
    "MONTH_PREFIX",
    "ONE_SIDED",
    "Incident",
    "add_incident",
    "country_key",
    "imprecise_key",
    "incident_of",
    "merge_tallies",
    "month_key",
    "months_after",
    "months_before",
    "new_tally",
    "priogrid",
]

MONTH_PREFIX = "month:"
IMPRECISE_PREFIX = "imprecise:"
COUNTRY_PREFIX = "country:"

#: type_of_violence code of one-sided violence against civilians (UCDP GED).
ONE_SIDED = 3
#: Highest ``date_prec`` that places an event within a week (codebook: 1 the day,
#: 2-3 spans of up to a week; 4 only the month; 5 more than a month).
WEEK_PRECISION = 3
#: Highest ``where_prec`` whose admin1 is meaningful (4: the first-order area itself).
ADMIN1_PRECISION = 4
#: Highest ``where_prec`` whose coordinates place the event in a 0.5-degree cell.
CELL_PRECISION = 3

_DATE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])")
_CIVILIANS = "civilians"


@dataclass(frozen=True)
class Incident:
    """What one view counts for.

    ``month`` is set when the event is placed in a month; ``period`` is the month,
    the year, or a span of months. ``located`` when its admin1 is meaningful.
    """

    country: str
    admin1: str | None
    located: bool
    regional: bool  # where_prec 5: a larger part of the country
    month: str | None
    period: str
    best: int
    low: int
    high: int
    civilians: int
    one_sided: bool
    cell: int | None
    actors: tuple[str, ...]

    @property
    def precise(self) -> bool:
        """Placed in an admin1 and a month: ranked and flagged."""
        return self.located and self.month is not None


def _count(value: Any) -> int | None:
    """A non-negative integer claim, or ``None`` when absent or not a count."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


def _code(value: Any) -> int | None:
    return _count(value)


def _ym(value: Any) -> str | None:
    if isinstance(value, str) and (match := _DATE.match(value)):
        return f"{match.group(1)}-{match.group(2)}"
    return None


def _when(view: View) -> tuple[str | None, str] | None:
    """(month or None, period) of the view, or None when it cannot be placed in time."""
    start = _ym(view.get("date_start"))
    end = _ym(view.get("date_end"))
    precision = _code(view.get("date_precision"))
    if start is None:
        month = _ym(view.get("month"))
        return None if month is None else (month, month)
    if precision is not None and precision <= WEEK_PRECISION:
        return start, start
    if end is None or end < start:
        # No end to bound it: a precise code (or none) places it; 4-5 give the year.
        if precision is None:
            return start, start
        return None, start[:4]
    if end == start:
        return start, start
    if end[:4] == start[:4]:
        return None, start[:4]
    return None, f"{start}/{end}"


def priogrid(latitude: float, longitude: float) -> int | None:
    """The PRIO-GRID cell id of a point (0.5 degrees, 720 columns, from (-90, -180))."""
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        return None
    row = min(math.floor((latitude + 90) * 2), 359)
    col = min(math.floor((longitude + 180) * 2), 719)
    return row * 720 + col + 1


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _cell(view: View, where: int | None) -> int | None:
    if where is None or where > CELL_PRECISION:
        return None
    gid = _count(view.get("priogrid_gid"))
    if gid:
        return gid
    for lat_claim, lon_claim in (("latitude", "longitude"), ("latitude_cell", "longitude_cell")):
        lat, lon = _number(view.get(lat_claim)), _number(view.get(lon_claim))
        if lat is not None and lon is not None:
            return priogrid(lat, lon)
    return None


def _actors(view: View) -> tuple[str, ...]:
    out = set()
    for side in ("side_a", "side_b"):
        if side == "side_b" and view.get("type_of_violence") == ONE_SIDED:
            continue
        name = view.get(side)
        if isinstance(name, str) and name.strip().casefold() == _CIVILIANS:
            continue
        ident = _count(view.get(f"{side}_id"))
        if ident is not None:
            out.add(f"id:{ident}")
        elif isinstance(name, str) and name:
            out.add(f"name:{name}")
        elif isinstance(ref := view.get(f"{side}_ref"), str) and ref:
            out.add(f"ref:{ref}")
    return tuple(sorted(out))


def incident_of(view: View) -> Incident | None:
    """The incident a view discloses, or ``None`` when it has no country or date."""
    country = view.get("country")
    when = _when(view)
    if not isinstance(country, str) or not country or when is None:
        return None
    month, period = when
    admin1 = view.get("admin1")
    admin1 = admin1 if isinstance(admin1, str) and admin1 else None
    where = _code(view.get("where_precision"))
    located = admin1 is not None and (where is None or where <= ADMIN1_PRECISION)
    deaths = view.get("deaths")
    deaths = deaths if isinstance(deaths, dict) else {}
    best = _count(deaths.get("best")) or 0
    low = _count(deaths.get("low"))
    high = _count(deaths.get("high"))
    return Incident(
        country=country,
        admin1=admin1 if located else None,
        located=located,
        regional=where == 5,
        month=month,
        period=period,
        best=best,
        low=best if low is None else low,
        high=best if high is None else high,
        civilians=_count(deaths.get("civilians")) or 0,
        one_sided=view.get("type_of_violence") == ONE_SIDED,
        cell=_cell(view, where),
        actors=_actors(view),
    )


def month_key(country: str, month: str) -> str:
    return MONTH_PREFIX + json.dumps([country, month], ensure_ascii=False)


def imprecise_key(country: str, admin1: str | None, period: str) -> str:
    return IMPRECISE_PREFIX + json.dumps([country, admin1, period], ensure_ascii=False)


def country_key(country: str) -> str:
    return COUNTRY_PREFIX + country


def new_tally() -> dict[str, Any]:
    """An empty tally: integer counts and sorted sets (PRIO-GRID cells, armed actors)."""
    return {
        "events": 0,
        "fatalities_best": 0,
        "fatalities_low": 0,
        "fatalities_high": 0,
        "civilian_deaths": 0,
        "one_sided_events": 0,
        "cells": [],
        "actors": [],
    }


def _add_sorted(items: list[Any], item: Any) -> None:
    if item not in items:
        insort(items, item)


def add_incident(tally: dict[str, Any], incident: Incident) -> None:
    """Count ``incident`` into ``tally`` (in place)."""
    tally["events"] += 1
    tally["fatalities_best"] += incident.best
    tally["fatalities_low"] += incident.low
    tally["fatalities_high"] += incident.high
    tally["civilian_deaths"] += incident.civilians
    tally["one_sided_events"] += int(incident.one_sided)
    if incident.cell is not None:
        _add_sorted(tally["cells"], incident.cell)
    for actor in incident.actors:
        _add_sorted(tally["actors"], actor)
    if not incident.precise:
        tally["month_unknown_events"] = tally.get("month_unknown_events", 0) + int(
            incident.month is None
        )
        tally["regional_events"] = tally.get("regional_events", 0) + int(incident.regional)
        tally["unlocated_events"] = tally.get("unlocated_events", 0) + int(
            not incident.located and not incident.regional
        )


_SUMMED = (
    "events",
    "fatalities_best",
    "fatalities_low",
    "fatalities_high",
    "civilian_deaths",
    "one_sided_events",
)


def merge_tallies(tallies: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """One tally for several (sums of the counts, unions of the sets)."""
    out = new_tally()
    cells: set[int] = set()
    actors: set[str] = set()
    for tally in tallies:
        for name in _SUMMED:
            out[name] += int(tally.get(name, 0))
        cells.update(tally.get("cells", ()))
        actors.update(tally.get("actors", ()))
    out["cells"], out["actors"] = sorted(cells), sorted(actors)
    return out


def _shift(month: str, delta: int) -> str:
    index = int(month[:4]) * 12 + int(month[5:7]) - 1 + delta
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def months_before(month: str, count: int) -> list[str]:
    """The ``count`` calendar months before ``month`` ("YYYY-MM"), nearest first."""
    return [_shift(month, -i) for i in range(1, count + 1)]


def months_after(month: str, count: int) -> list[str]:
    """The ``count`` calendar months after ``month``, nearest first."""
    return [_shift(month, i) for i in range(1, count + 1)]
