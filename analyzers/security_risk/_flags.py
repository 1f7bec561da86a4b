"""Escalation flags of an area-month, with their thresholds.

A flag is raised the first time its rule holds for an area-month, and raised
again only when its level climbs to a higher band; so a finding always reports a
*change*: a threshold crossed. Flags are sticky: the tallies only grow, and a flag
once reported is not withdrawn when late data move a baseline.

Rules (all on one country x admin1 x month tally):

* ``escalation`` - deaths (best estimate) >= ``ESCALATION_RATIO`` x the mean of
  the same area's previous ``BASELINE_MONTHS`` months, and >= ``ESCALATION_MIN_FATALITIES``.
  Months before the first month seen for the country are not part of the baseline;
  an area-month with no earlier month of data has no baseline and no escalation.
* ``civilian-harm`` - civilian deaths >= ``CIVILIAN_MIN_DEATHS`` and >=
  ``CIVILIAN_SHARE`` of the deaths (best estimate).
* ``one-sided-violence`` - >= ``ONE_SIDED_MIN_EVENTS`` events of one-sided
  violence and >= ``ONE_SIDED_SHARE`` of the area-month's events.
* ``new-hotspot`` - the area enters the country's top ``TOP_N`` areas of the
  month by deaths, with >= ``HOTSPOT_MIN_FATALITIES``, while it was not in the top
  ``TOP_N`` of the previous month (which must hold data for the country).

Levels: deaths (civilian deaths for ``civilian-harm``) in ``LEVEL_BANDS``; the
one-sided share in ``ONE_SIDED_LEVELS``. The ``score`` of a finding is the
exceedance: the driving figure over its threshold (>= 1 when raised).

Events without an admin1 are kept in the hotspot table but never flagged: in UCDP
GED they are country-wide or year-long summaries (``where_prec`` 5-6), dated to
their first day, and would otherwise pass for a January flare-up.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from analyzers.base import Finding
from analyzers.security_risk._hotspots import Incident, months_before

__all__ = [
    "BASELINE_MONTHS",
    "CIVILIAN_MIN_DEATHS",
    "CIVILIAN_SHARE",
    "ESCALATION_MIN_FATALITIES",
    "ESCALATION_RATIO",
    "HOTSPOT_MIN_FATALITIES",
    "LEVEL_BANDS",
    "ONE_SIDED_LEVELS",
    "ONE_SIDED_MIN_EVENTS",
    "ONE_SIDED_SHARE",
    "TOP_N",
    "Context",
    "baseline",
    "evaluate",
    "top_areas",
]

BASELINE_MONTHS = 3
ESCALATION_RATIO = 2.0
ESCALATION_MIN_FATALITIES = 25
CIVILIAN_SHARE = 0.5
CIVILIAN_MIN_DEATHS = 25
ONE_SIDED_SHARE = 0.25
ONE_SIDED_MIN_EVENTS = 3
TOP_N = 5
HOTSPOT_MIN_FATALITIES = 25
#: Lower bounds of deaths per area-month for each level, highest first.
LEVEL_BANDS: tuple[tuple[int, str], ...] = (
    (500, "critical"),
    (100, "high"),
    (25, "medium"),
    (0, "low"),
)
#: Lower bounds of the one-sided share of events for each level, highest first.
ONE_SIDED_LEVELS: tuple[tuple[float, str], ...] = ((0.5, "high"), (ONE_SIDED_SHARE, "medium"))
_RANK = {"low": 0, "medium": 1, "high": 2, "critical": 3}


@dataclass(frozen=True)
class Context:
    """An area-month after counting one incident, and what it is compared with."""

    incident: Incident
    area: str  # json(admin1): the key of this area in ``rank``
    tally: Mapping[str, Any]
    baseline: float | None  # mean deaths of the previous months, None without history
    baseline_months: int
    rank: Mapping[str, int]  # json(admin1) -> deaths, this month
    previous_rank: Mapping[str, int]  # the same, previous month


def baseline(
    month: str, first_month: str, deaths_in: Callable[[str], int]
) -> tuple[float | None, int]:
    """(mean deaths of the previous ``BASELINE_MONTHS`` months, how many were counted).

    A month with no events counts as 0 deaths; months before ``first_month`` (the
    first month of data for the country) are left out; with none left, (None, 0).
    """
    months = [m for m in months_before(month, BASELINE_MONTHS) if m >= first_month]
    if not months:
        return None, 0
    return sum(deaths_in(m) for m in months) / len(months), len(months)


def top_areas(rank: Mapping[str, int]) -> list[str]:
    """The ``TOP_N`` areas (json(admin1)) by deaths, ties by name."""
    return [k for k, _ in sorted(rank.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_N]]


def _band(value: float, bands: tuple[tuple[Any, str], ...]) -> str:
    return next(level for bound, level in bands if value >= bound)


def _place(c: Context) -> str:
    i = c.incident
    return f"{i.admin1}, {i.country}, {i.month}"


def _deaths(c: Context) -> str:
    t = c.tally
    return (
        f"{t['fatalities_best']} deaths (best estimate; low {t['fatalities_low']}, "
        f"high {t['fatalities_high']}) in {t['events']} events"
    )


def _escalation(c: Context) -> tuple[str, float, dict[str, Any], str] | None:
    deaths = c.tally["fatalities_best"]
    if c.baseline is None or deaths < ESCALATION_MIN_FATALITIES:
        return None
    threshold = max(ESCALATION_RATIO * c.baseline, ESCALATION_MIN_FATALITIES)
    if deaths < ESCALATION_RATIO * c.baseline:
        return None
    level = _band(deaths, LEVEL_BANDS)
    months = f"the previous {c.baseline_months} month(s)"
    if c.baseline == 0:
        against = f"against no deaths in {months}"
    else:
        against = f"{deaths / c.baseline:.1f}x the mean of {months} ({c.baseline:.1f})"
    text = (
        f"Escalation in {_place(c)}: {_deaths(c)}, {against}; threshold >= "
        f"{ESCALATION_RATIO:g}x that mean and >= {ESCALATION_MIN_FATALITIES} deaths. "
        f"Level {level} by deaths."
    )
    indicators = {"baseline_mean": round(c.baseline, 3), "baseline_months": c.baseline_months}
    return level, deaths / threshold, indicators, text


def _civilian_harm(c: Context) -> tuple[str, float, dict[str, Any], str] | None:
    civilians, deaths = c.tally["civilian_deaths"], c.tally["fatalities_best"]
    if civilians < CIVILIAN_MIN_DEATHS or deaths == 0 or civilians / deaths < CIVILIAN_SHARE:
        return None
    share = civilians / deaths
    level = _band(civilians, LEVEL_BANDS)
    text = (
        f"Civilian harm in {_place(c)}: {civilians} civilian deaths, {share:.0%} of "
        f"{_deaths(c)}; threshold >= {CIVILIAN_MIN_DEATHS} civilian deaths and >= "
        f"{CIVILIAN_SHARE:.0%} of deaths. Level {level} by civilian deaths."
    )
    return level, share / CIVILIAN_SHARE, {"civilian_share": round(share, 3)}, text


def _one_sided(c: Context) -> tuple[str, float, dict[str, Any], str] | None:
    one_sided, events = c.tally["one_sided_events"], c.tally["events"]
    if one_sided < ONE_SIDED_MIN_EVENTS or one_sided / events < ONE_SIDED_SHARE:
        return None
    share = one_sided / events
    level = _band(share, ONE_SIDED_LEVELS)
    text = (
        f"One-sided violence in {_place(c)}: {one_sided} of {events} events "
        f"({share:.0%}) were one-sided violence against civilians; threshold >= "
        f"{ONE_SIDED_MIN_EVENTS} events and >= {ONE_SIDED_SHARE:.0%}. Level {level} "
        f"(high from {ONE_SIDED_LEVELS[0][0]:.0%})."
    )
    return level, share / ONE_SIDED_SHARE, {"one_sided_share": round(share, 3)}, text


def _new_hotspot(c: Context) -> tuple[str, float, dict[str, Any], str] | None:
    deaths = c.tally["fatalities_best"]
    if deaths < HOTSPOT_MIN_FATALITIES or not c.previous_rank:
        return None
    area = c.area
    top = top_areas(c.rank)
    if area not in top or area in top_areas(c.previous_rank):
        return None
    position = top.index(area) + 1
    level = _band(deaths, LEVEL_BANDS)
    text = (
        f"New hotspot in {_place(c)}: {_deaths(c)} rank it #{position} in {c.incident.country} "
        f"this month; it was not in the top {TOP_N} the month before "
        f"({c.previous_rank.get(area, 0)} deaths); threshold: top {TOP_N} and >= "
        f"{HOTSPOT_MIN_FATALITIES} deaths. Level {level} by deaths."
    )
    indicators = {"rank": position, "previous_month_deaths": c.previous_rank.get(area, 0)}
    return level, deaths / HOTSPOT_MIN_FATALITIES, indicators, text


_RULES = (
    ("escalation", _escalation),
    ("civilian-harm", _civilian_harm),
    ("one-sided-violence", _one_sided),
    ("new-hotspot", _new_hotspot),
)


def evaluate(c: Context, raised: dict[str, str]) -> list[Finding]:
    """Findings for rules newly holding or at a higher level; updates ``raised`` in place."""
    if c.incident.admin1 is None:
        return []
    findings = []
    for kind, rule in _RULES:
        outcome = rule(c)
        if outcome is None:
            continue
        level, score, extra, text = outcome
        before = raised.get(kind)
        if before is not None and _RANK[level] <= _RANK[before]:
            continue
        raised[kind] = level
        t = c.tally
        indicators: dict[str, float | int | str] = {
            "events": t["events"],
            "fatalities_best": t["fatalities_best"],
            "fatalities_low": t["fatalities_low"],
            "fatalities_high": t["fatalities_high"],
            "civilian_deaths": t["civilian_deaths"],
            "one_sided_events": t["one_sided_events"],
            **extra,
        }
        if before is not None:
            text += f" Raised from {before}."
        findings.append(
            Finding(
                kind=kind,
                subject=f"{c.incident.country} / {c.incident.admin1} / {c.incident.month}",
                explanation=text,
                level=level,
                score=round(score, 3),
                country=c.incident.country,
                admin1=c.incident.admin1,
                period=c.incident.month,
                indicators=indicators,
            )
        )
    return findings
