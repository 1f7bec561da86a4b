"""Flags of a country-month, judged on the complete tallies held, with their thresholds.

Flags are a function of the tallies alone: every time an event is counted, the
analyzer re-judges every country-month whose flags it can change (its own month,
for all areas of the country, because ``new-hotspot`` is a rank; and the
``BASELINE_MONTHS`` months after it, whose baseline and previous-month ranking
include it) and hands the result to :func:`analyzers.converge.reconcile`, which
reports new or changed flags and withdraws those that no longer hold. A flag is
identified by (kind, ``"country / admin1 / month"``, month).

Only located, month-placed area-months are judged (see
:mod:`analyzers.security_risk._hotspots`): an imprecise or unlocated event is never
an area-month and never a flag.

Thresholds, with their rationale:

* ``MIN_DEATHS`` = 25. UCDP counts an armed conflict (and a non-state conflict, and
  one-sided violence by an actor) only from 25 battle-related (or civilian) deaths
  in a calendar year (UCDP Definitions, "State-based armed conflict", "Non-state
  conflict", "One-sided violence"; Pettersson & Öberg 2020, "Organized violence,
  1989-2019", Journal of Peace Research 57(4)). An area-month with fewer deaths is
  below what UCDP would count as a conflict in a whole year, so it is never flagged.
* ``escalation``: deaths (best estimate) >= ``MIN_DEATHS`` and >= ``ESCALATION_RATIO``
  (2, a doubling) x the mean deaths of the same area in the previous
  ``BASELINE_MONTHS`` (3, a quarter) months. A month without events in the area
  counts as 0 deaths. The area-month is judged only when all three baseline months
  lie within the data held for the country (from its first month with located,
  month-placed events): months before the data begin are unknown, not quiet.
* ``civilian-harm``: civilian deaths >= ``MIN_DEATHS`` and >= ``CIVILIAN_SHARE`` (half)
  of the deaths: violence that mostly kills civilians.
* ``one-sided-violence``: >= ``ONE_SIDED_MIN_EVENTS`` (3) events of one-sided violence
  (``type_of_violence`` 3, deliberate killing of civilians by an organised actor)
  making >= ``ONE_SIDED_SHARE`` (a quarter) of the area-month's events; three
  events, so that one incident alone (a single report, maybe a duplicate) does not
  flag an area.
* ``new-hotspot``: the area is among the country's top ``TOP_N`` (5) areas of the
  month by deaths, with >= ``MIN_DEATHS``, and was not among the top ``TOP_N`` of the
  previous month (which must lie within the data held).

Levels by deaths (civilian deaths for ``civilian-harm``): ``medium`` from 25 (UCDP's
minimum above), ``high`` from 100, ``critical`` from 1,000 (UCDP's threshold of a
*war*, 1,000 battle-related deaths in a calendar year, reached in one area-month);
by the one-sided share for ``one-sided-violence`` (``high`` from half). The
``score`` is the exceedance: the driving figure over its threshold (>= 1).

Nothing here depends on a country: no place names, no country constants.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from clearinghouse.analyzers.base import Finding
from clearinghouse.analyzers.security_risk._hotspots import months_before

__all__ = [
    "BASELINE_MONTHS",
    "CIVILIAN_MIN_DEATHS",
    "CIVILIAN_SHARE",
    "ESCALATION_MIN_FATALITIES",
    "ESCALATION_RATIO",
    "HOTSPOT_MIN_FATALITIES",
    "KINDS",
    "LEVEL_BANDS",
    "MIN_DEATHS",
    "ONE_SIDED_LEVELS",
    "ONE_SIDED_MIN_EVENTS",
    "ONE_SIDED_SHARE",
    "TOP_N",
    "MonthData",
    "deadliness",
    "judge_month",
    "top_areas",
]

MIN_DEATHS = 25
BASELINE_MONTHS = 3
ESCALATION_RATIO = 2
ESCALATION_MIN_FATALITIES = MIN_DEATHS
CIVILIAN_SHARE = 0.5
CIVILIAN_MIN_DEATHS = MIN_DEATHS
ONE_SIDED_SHARE = 0.25
ONE_SIDED_MIN_EVENTS = 3
TOP_N = 5
HOTSPOT_MIN_FATALITIES = MIN_DEATHS
#: Lower bounds of deaths per area-month for each level, highest first.
LEVEL_BANDS: tuple[tuple[int, str], ...] = (
    (1000, "critical"),
    (100, "high"),
    (MIN_DEATHS, "medium"),
    (0, "low"),
)
#: Lower bounds of the one-sided share of events for each level, highest first.
ONE_SIDED_LEVELS: tuple[tuple[float, str], ...] = ((0.5, "high"), (ONE_SIDED_SHARE, "medium"))
KINDS = ("escalation", "civilian-harm", "one-sided-violence", "new-hotspot")

Tallies = Mapping[str, Mapping[str, Any]]  # admin1 -> tally of one country-month


@dataclass(frozen=True)
class MonthData:
    """What the flags of one country-month are judged on."""

    country: str
    month: str
    first_month: str | None  # first month of the data held for the country
    months: Mapping[str, Tallies]  # this month and the BASELINE_MONTHS before it
    #: each month's :func:`top_areas`, ranked once rather than once per area judged
    _tops: dict[str, list[str]] = field(default_factory=dict, repr=False, compare=False)

    def tallies(self, month: str) -> Tallies:
        return self.months.get(month) or {}

    def top(self, month: str) -> list[str]:
        """The month's :func:`top_areas`."""
        if month not in self._tops:
            self._tops[month] = top_areas(self.tallies(month))
        return self._tops[month]

    def held(self, month: str) -> bool:
        return self.first_month is not None and month >= self.first_month


def deadliness(tally: Mapping[str, Any]) -> float | None:
    """Deaths (best estimate) per event, or None without events."""
    events = int(tally["events"])
    return None if events == 0 else round(int(tally["fatalities_best"]) / events, 3)


def top_areas(tallies: Tallies) -> list[str]:
    """The ``TOP_N`` areas by deaths (best estimate), ties by name."""
    ranked = sorted(tallies.items(), key=lambda kv: (-int(kv[1]["fatalities_best"]), kv[0]))
    return [area for area, _ in ranked[:TOP_N]]


def _band(value: float, bands: tuple[tuple[Any, str], ...]) -> str:
    return next(level for bound, level in bands if value >= bound)


def _deaths(t: Mapping[str, Any]) -> str:
    return (
        f"{t['fatalities_best']} deaths (best estimate; low {t['fatalities_low']}, "
        f"high {t['fatalities_high']}) in {t['events']} events"
    )


Outcome = tuple[str, float, dict[str, float | int | str], str]


def _escalation(d: MonthData, area: str, t: Mapping[str, Any]) -> Outcome | None:
    deaths = int(t["fatalities_best"])
    window = months_before(d.month, BASELINE_MONTHS)
    if deaths < ESCALATION_MIN_FATALITIES or not d.held(window[-1]):
        return None
    before = sum(int(d.tallies(m).get(area, {}).get("fatalities_best", 0)) for m in window)
    # deaths >= ratio x (before / months), in integers
    if deaths * BASELINE_MONTHS < ESCALATION_RATIO * before:
        return None
    mean = before / BASELINE_MONTHS
    span = f"{window[-1]}..{window[0]}"
    if before == 0:
        against = f"against no deaths in the previous {BASELINE_MONTHS} months ({span})"
    else:
        against = (
            f"{deaths / mean:.1f}x the mean of the previous {BASELINE_MONTHS} months "
            f"({span}: {mean:.1f})"
        )
    level = _band(deaths, LEVEL_BANDS)
    text = (
        f"Escalation: {_deaths(t)}, {against}; threshold >= {ESCALATION_RATIO}x that mean "
        f"and >= {ESCALATION_MIN_FATALITIES} deaths. Level {level} by deaths."
    )
    threshold = max(ESCALATION_RATIO * mean, ESCALATION_MIN_FATALITIES)
    indicators: dict[str, float | int | str] = {
        "baseline_mean": round(mean, 3),
        "baseline_months": BASELINE_MONTHS,
        "baseline_period": span,
    }
    return level, deaths / threshold, indicators, text


def _civilian_harm(d: MonthData, area: str, t: Mapping[str, Any]) -> Outcome | None:
    civilians, deaths = int(t["civilian_deaths"]), int(t["fatalities_best"])
    if civilians < CIVILIAN_MIN_DEATHS or deaths == 0 or civilians < CIVILIAN_SHARE * deaths:
        return None
    share = civilians / deaths
    level = _band(civilians, LEVEL_BANDS)
    text = (
        f"Civilian harm: {civilians} civilian deaths, {share:.0%} of {_deaths(t)}; "
        f"threshold >= {CIVILIAN_MIN_DEATHS} civilian deaths and >= {CIVILIAN_SHARE:.0%} "
        f"of deaths. Level {level} by civilian deaths."
    )
    return level, share / CIVILIAN_SHARE, {"civilian_share": round(share, 3)}, text


def _one_sided(d: MonthData, area: str, t: Mapping[str, Any]) -> Outcome | None:
    one_sided, events = int(t["one_sided_events"]), int(t["events"])
    if one_sided < ONE_SIDED_MIN_EVENTS or one_sided < ONE_SIDED_SHARE * events:
        return None
    share = one_sided / events
    level = _band(share, ONE_SIDED_LEVELS)
    text = (
        f"One-sided violence: {one_sided} of {events} events ({share:.0%}) were one-sided "
        f"violence against civilians; threshold >= {ONE_SIDED_MIN_EVENTS} events and >= "
        f"{ONE_SIDED_SHARE:.0%}. Level {level} (high from {ONE_SIDED_LEVELS[0][0]:.0%})."
    )
    return level, share / ONE_SIDED_SHARE, {"one_sided_share": round(share, 3)}, text


def _new_hotspot(d: MonthData, area: str, t: Mapping[str, Any]) -> Outcome | None:
    deaths = int(t["fatalities_best"])
    previous = months_before(d.month, 1)[0]
    if deaths < HOTSPOT_MIN_FATALITIES or not d.held(previous):
        return None
    top = d.top(d.month)
    before = d.tallies(previous)
    if area not in top or area in d.top(previous):
        return None
    position = top.index(area) + 1
    was = int(before.get(area, {}).get("fatalities_best", 0))
    level = _band(deaths, LEVEL_BANDS)
    text = (
        f"New hotspot: {_deaths(t)} rank it #{position} in {d.country} this month; it was "
        f"not in the top {TOP_N} in {previous} ({was} deaths); threshold: top {TOP_N} "
        f"and >= {HOTSPOT_MIN_FATALITIES} deaths. Level {level} by deaths."
    )
    indicators: dict[str, float | int | str] = {"rank": position, "previous_month_deaths": was}
    return level, deaths / HOTSPOT_MIN_FATALITIES, indicators, text


_RULES = (
    ("escalation", _escalation),
    ("civilian-harm", _civilian_harm),
    ("one-sided-violence", _one_sided),
    ("new-hotspot", _new_hotspot),
)


def judge_month(d: MonthData) -> list[Finding]:
    """Every flag that holds for the areas of one country-month, on the tallies held."""
    findings = []
    for area, t in sorted(d.tallies(d.month).items()):
        for kind, rule in _RULES:
            outcome = rule(d, area, t)
            if outcome is None:
                continue
            level, score, extra, text = outcome
            indicators: dict[str, float | int | str] = {
                "events": int(t["events"]),
                "fatalities_best": int(t["fatalities_best"]),
                "fatalities_low": int(t["fatalities_low"]),
                "fatalities_high": int(t["fatalities_high"]),
                "civilian_deaths": int(t["civilian_deaths"]),
                "one_sided_events": int(t["one_sided_events"]),
                "deaths_per_event": deadliness(t) or 0.0,
                "grid_cells": len(t["cells"]),
                "armed_actors": len(t["actors"]),
                **extra,
            }
            findings.append(
                Finding(
                    kind=kind,
                    subject=f"{d.country} / {area} / {d.month}",
                    explanation=f"{area}, {d.country}, {d.month}. {text}",
                    level=level,
                    score=round(score, 3),
                    country=d.country,
                    admin1=area,
                    period=d.month,
                    indicators=indicators,
                )
            )
    return findings
