"""The summary of ``mission.security-risk``: a pure function of the tallies held.

Besides the ranked ``hotspots`` (located, month-placed area-months), the ``flags``
that hold and the ``trends``, the summary gives what a conflict monitor reads, per
area and period:

* ``imprecise`` - the events counted apart (month unknown, regional or unlocated),
  per country, admin1 (``null`` when not located) and period, beside the hotspots;
* ``indicators`` - per country-year, admin1-year and admin1-month:

  - **deadliness**: deaths (best estimate) per event;
  - **diffusion**: the share of 0.5-degree PRIO-GRID cells with events in the
    period, out of the cells of the same area (the country, or the admin1) that
    had events in *any* period of the data held. The denominator is the area's
    footprint of violence in the data, not its land area, so that the figure is
    comparable across countries of very different size and does not need a
    country boundary file. Only events located within an admin2 or better
    (``where_prec`` 1-3) have a cell (:mod:`analyzers.security_risk._hotspots`);
  - **fragmentation**: the number of distinct armed actors (side A and side B,
    governments included, civilians excluded) active in the area and period.

  Country-year and admin1-year figures include the located events whose month is
  unknown (and, for the country, the regional and unlocated ones), counted in the
  year of their ``date_start`` (GED's ``year``); admin1-month figures hold only the
  month-placed events.
* ``trends`` - per country and admin1, for a *named* period: the latest window of
  ``TREND_MONTHS`` months, ending at or before the country's last month of data held
  (``data_until``), whose deaths are compared with the ``TREND_MONTHS`` months before
  it, and for which the two windows together hold at least ``TREND_MIN_EVENTS``
  events and ``TREND_MIN_DEATHS`` deaths, with the earlier window inside the data
  held. ``current`` says whether that window ends at ``data_until``; an area with no
  such window is "insufficient data" (or "insufficient history" with fewer than six
  months held). Rising from ``RISING_RATIO`` x the earlier deaths (or from none),
  falling from ``FALLING_RATIO`` x, stable in between. The minimums: 10 events,
  because a ratio of two small counts swings by half or more with one event more or
  less; 25 deaths, UCDP's minimum for a conflict to count at all (see
  :mod:`analyzers.security_risk._flags`). A month with no events in the area counts
  as none. The last month held may still be filling: the period is named so that a
  reader can judge.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from clearinghouse.analyzers.security_risk._flags import (
    BASELINE_MONTHS,
    KINDS,
    MonthData,
    deadliness,
    judge_month,
)
from clearinghouse.analyzers.security_risk._hotspots import (
    COUNTRY_PREFIX,
    IMPRECISE_PREFIX,
    MONTH_PREFIX,
    merge_tallies,
    months_before,
)
from clearinghouse.analyzers.state import State

__all__ = [
    "FALLING_RATIO",
    "RISING_RATIO",
    "TREND_MIN_DEATHS",
    "TREND_MIN_EVENTS",
    "TREND_MONTHS",
    "summarise",
]

TREND_MONTHS = 3
TREND_MIN_EVENTS = 10
TREND_MIN_DEATHS = 25
RISING_RATIO = 1.25
FALLING_RATIO = 0.8

_HOTSPOT_FIELDS = (
    "events",
    "fatalities_best",
    "fatalities_low",
    "fatalities_high",
    "civilian_deaths",
)
_APART = ("month_unknown_events", "regional_events", "unlocated_events")

Tally = Mapping[str, Any]


def _year(period: str) -> str:
    return period[:4]


def _indicator(
    country: str, admin1: str | None, period: str, t: Tally, ever: Iterable[int]
) -> dict[str, Any]:
    footprint = len(set(ever))
    cells = len(t["cells"])
    return {
        "country": country,
        "admin1": admin1,
        "period": period,
        "events": int(t["events"]),
        "fatalities_best": int(t["fatalities_best"]),
        "deaths_per_event": deadliness(t),
        "grid_cells": cells,
        "grid_cells_ever": footprint,
        "diffusion": round(cells / footprint, 3) if footprint else None,
        "armed_actors": len(t["actors"]),
    }


def _direction(recent: int, before: int) -> str:
    if before == 0:
        return "rising" if recent > 0 else "stable"
    if recent >= RISING_RATIO * before:
        return "rising"
    if recent <= FALLING_RATIO * before:
        return "falling"
    return "stable"


def _windows(end: str) -> tuple[list[str], list[str]]:
    recent = [end, *months_before(end, TREND_MONTHS - 1)]
    return recent, months_before(recent[-1], TREND_MONTHS)


def _trend(
    country: str,
    admin1: str | None,
    months: list[str],
    per_month: Mapping[str, Tally],
) -> dict[str, Any]:
    """The trend of one area: the latest window with enough data, named."""
    first, last = months[0], months[-1]
    out: dict[str, Any] = {
        "country": country,
        "admin1": admin1,
        "data_until": last,
        "direction": "insufficient history",
    }
    end = last
    while _windows(end)[1][-1] >= first:
        recent, before = _windows(end)
        now = merge_tallies(per_month[m] for m in recent if m in per_month)
        then = merge_tallies(per_month[m] for m in before if m in per_month)
        events = now["events"] + then["events"]
        deaths = now["fatalities_best"] + then["fatalities_best"]
        if events >= TREND_MIN_EVENTS and deaths >= TREND_MIN_DEATHS:
            base = then["fatalities_best"]
            ratio = round(now["fatalities_best"] / base, 3) if base else None
            return out | {
                "month": end,
                "period": f"{recent[-1]}/{end}",
                "baseline_period": f"{before[-1]}/{before[0]}",
                "events": now["events"],
                "fatalities_best": now["fatalities_best"],
                "baseline_events": then["events"],
                "baseline_fatalities_best": then["fatalities_best"],
                "ratio": ratio,
                "direction": _direction(now["fatalities_best"], then["fatalities_best"]),
                "current": end == last,
            }
        out["direction"] = "insufficient data"
        end = months_before(end, 1)[0]
    return out


def summarise(state: State) -> dict[str, Any]:
    """The picture held, from the tallies alone (see the module docstring)."""
    held = _read_tallies(state)
    return {
        "hotspots": _hotspots(held),
        "imprecise": _imprecise(held),
        "trends": _trends(held),
        "flags": _flags(held),
        "indicators": _indicators(held),
        "countries": _countries(held),
    }


@dataclass(frozen=True)
class _Held:
    """The tallies in the state, read once and keyed for the parts of the summary."""

    #: (country, month) -> admin1 -> tally of the located, month-placed events
    months: dict[tuple[str, str], dict[str, Tally]]
    #: (country, admin1 or None, period) -> tally of the events counted apart
    apart: dict[tuple[str, str | None, str], Tally]
    #: country -> the months of data held for it, in order
    spans: dict[str, list[str]]
    #: (country, admin1, month) -> tally: ``months`` flattened
    area_months: dict[tuple[str, str, str], Tally]


def _read_tallies(state: State) -> _Held:
    months: dict[tuple[str, str], dict[str, Tally]] = {}
    for key, doc in state.items(MONTH_PREFIX):
        country, month = json.loads(key[len(MONTH_PREFIX) :])
        months[(country, month)] = doc
    apart: dict[tuple[str, str | None, str], Tally] = {}
    for key, tally in state.items(IMPRECISE_PREFIX):
        country, admin1, period = json.loads(key[len(IMPRECISE_PREFIX) :])
        apart[(country, admin1, period)] = tally
    spans: dict[str, list[str]] = {
        key[len(COUNTRY_PREFIX) :]: about["months"] for key, about in state.items(COUNTRY_PREFIX)
    }
    area_months = {
        (country, admin1, month): tally
        for (country, month), doc in months.items()
        for admin1, tally in doc.items()
    }
    return _Held(months, apart, spans, area_months)


def _hotspots(held: _Held) -> list[dict[str, Any]]:
    """Area-months, deadliest first."""
    return [
        {"country": c, "admin1": a, "month": m} | {f: int(t[f]) for f in _HOTSPOT_FIELDS}
        for (c, a, m), t in sorted(
            held.area_months.items(), key=lambda kv: (-int(kv[1]["fatalities_best"]), *kv[0])
        )
    ]


def _imprecise(held: _Held) -> list[dict[str, Any]]:
    """The events counted apart, deadliest first."""
    return [
        {"country": c, "admin1": a, "period": p}
        | {f: int(t[f]) for f in _HOTSPOT_FIELDS}
        | {f: int(t.get(f, 0)) for f in _APART}
        for (c, a, p), t in sorted(
            held.apart.items(),
            key=lambda kv: (-int(kv[1]["fatalities_best"]), kv[0][0], kv[0][1] or "", kv[0][2]),
        )
    ]


def _flags(held: _Held) -> list[dict[str, Any]]:
    """The flags that hold in each country-month, judged against its baseline months."""
    flags = []
    for (country, month), _ in sorted(held.months.items()):
        window = [month, *months_before(month, BASELINE_MONTHS)]
        data = MonthData(
            country,
            month,
            held.spans[country][0] if held.spans.get(country) else None,
            {m: held.months[(country, m)] for m in window if (country, m) in held.months},
        )
        for f in judge_month(data):
            flags.append(
                {
                    "country": country,
                    "admin1": f.admin1,
                    "month": month,
                    "kind": f.kind,
                    "level": f.level,
                    "score": f.score,
                }
            )
    flags.sort(key=lambda f: (f["month"], f["country"], f["admin1"], KINDS.index(f["kind"])))
    return flags


def _indicators(held: _Held) -> list[dict[str, Any]]:
    """Deadliness, diffusion and fragmentation per country-year, admin1-year and
    admin1-month."""
    country_cells, area_cells = _footprints(held)
    country_year: dict[tuple[str, str], list[Tally]] = defaultdict(list)
    area_year: dict[tuple[str, str, str], list[Tally]] = defaultdict(list)
    for (c, a, m), t in held.area_months.items():
        country_year[(c, _year(m))].append(t)
        area_year[(c, a, _year(m))].append(t)
    for (c, where, p), t in held.apart.items():
        country_year[(c, _year(p))].append(t)
        if where is not None:
            area_year[(c, where, _year(p))].append(t)

    indicators = []
    for (c, y), ts in sorted(country_year.items()):
        indicators.append(_indicator(c, None, y, merge_tallies(ts), country_cells[c]))
    for (c, a, y), ts in sorted(area_year.items()):
        indicators.append(_indicator(c, a, y, merge_tallies(ts), area_cells[(c, a)]))
    for (c, a, m), t in sorted(held.area_months.items()):
        indicators.append(_indicator(c, a, m, t, area_cells[(c, a)]))
    return indicators


def _footprints(held: _Held) -> tuple[dict[str, set[int]], dict[tuple[str, str], set[int]]]:
    """The cells with events in any period, per country and per (country, admin1): the
    denominators of diffusion."""
    country_cells: dict[str, set[int]] = defaultdict(set)
    area_cells: dict[tuple[str, str], set[int]] = defaultdict(set)
    for (c, a, _), t in held.area_months.items():
        country_cells[c].update(t["cells"])
        area_cells[(c, a)].update(t["cells"])
    for (c, where, _), t in held.apart.items():
        country_cells[c].update(t["cells"])
        if where is not None:
            area_cells[(c, where)].update(t["cells"])
    return country_cells, area_cells


def _trends(held: _Held) -> list[dict[str, Any]]:
    """The trend of each country (its month-placed events, located or not), then of
    each of its admin1 areas."""
    trends = []
    for country, span in sorted(held.spans.items()):
        if not span:
            continue
        whole: dict[str, list[Tally]] = defaultdict(list)
        per_area: dict[str, dict[str, Tally]] = defaultdict(dict)
        for (c, a, m), t in held.area_months.items():
            if c == country:
                whole[m].append(t)
                per_area[a][m] = t
        for (c, _, p), t in held.apart.items():
            if c == country and len(p) == 7:  # placed in a month, not located
                whole[p].append(t)
        merged = {m: merge_tallies(ts) for m, ts in whole.items()}
        trends.append(_trend(country, None, span, merged))
        for area in sorted(per_area):
            trends.append(_trend(country, area, span, per_area[area]))
    return trends


def _countries(held: _Held) -> list[dict[str, Any]]:
    """Per country: the months held, and its events and deaths, precise or apart."""
    countries = []
    for country in sorted({c for c, _ in held.months} | {c for c, _, _ in held.apart}):
        precise = merge_tallies(t for (c, _, _), t in held.area_months.items() if c == country)
        other = merge_tallies(t for (c, _, _), t in held.apart.items() if c == country)
        span = held.spans.get(country) or []
        countries.append(
            {
                "country": country,
                "first_month": span[0] if span else None,
                "last_month": span[-1] if span else None,
                "events": precise["events"] + other["events"],
                "fatalities_best": precise["fatalities_best"] + other["fatalities_best"],
                "imprecise_events": other["events"],
                "imprecise_fatalities_best": other["fatalities_best"],
            }
        )
    return countries
