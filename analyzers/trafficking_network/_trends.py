"""Seizure trends from ``seizure/1`` annual totals: year on year, per country x drug group.

UNODC publishes one row per country, drug and year (several drugs per group,
sometimes several rows per drug and year, which add up). Each row adds its weight,
in whole milligrams (integers: exact in any order), to the series
``trend/<country>|<drug group>`` under its year; the country is the one place key
(:mod:`._places`). A year absent from a series is *unknown*, never zero.

Some groups also carry a *reported total* row, its drug named "Total ... (including
the above, all other ... and any unspecified ... quantities)" (e.g. "Total
amphetamine-type stimulants (ATS) (including the above ...)"): it already contains
the other rows of the group. Those rows are tallied apart, and a year's total is the
larger of the reported totals and the sum of the other rows, so that nothing is
counted twice.

The findings of a series (scope ``trend:<country>|<group>``) are derived from its
complete tallies whenever a row of it arrives, so a late row can change or
withdraw them. A change between consecutive years ``a -> b`` is flagged when all
of these hold (:mod:`.thresholds`):

* the base is not small: ``a >= TREND_MIN_BASE_KG`` (no percentage off zero or off
  a few kilograms: one seizure more or less swings such a total);
* the change is material: ``|b - a| >= TREND_MIN_KG`` and ``|ln(b / a)| >=
  ln(1 + TREND_MIN_CHANGE)``;
* it is unusual *for this series*: ``|ln(b / a)| >= TREND_VOLATILITY_K x`` the
  median ``|ln|`` change over the series' other pairs of consecutive years (at least
  ``TREND_MIN_HISTORY`` of them). Seizure totals of some countries double and halve
  from year to year (a single large interdiction makes a year); a change is a cue
  only when it stands out of that series' own noise. Log changes are computed with
  both years floored at ``TREND_MIN_BASE_KG``, so that a small or zero year gives a
  bounded change.

The seed paper's rationale: seizures are the observable trace of the "illicit
economy" whose "concentration of risk-associated profits" in borderlands shapes
conflict; a sudden rise or fall is a cue for the common situation analysis.
"""

from __future__ import annotations

import math
import statistics
from typing import Any

from clearinghouse.analyzers.base import Finding, View
from clearinghouse.analyzers.state import State
from clearinghouse.analyzers.trafficking_network._places import country_code, country_name
from clearinghouse.analyzers.trafficking_network._views import grams, number, text
from clearinghouse.analyzers.trafficking_network.thresholds import (
    TREND_HIGH_KG,
    TREND_MIN_BASE_KG,
    TREND_MIN_CHANGE,
    TREND_MIN_HISTORY,
    TREND_MIN_KG,
    TREND_VOLATILITY_K,
)

__all__ = ["TREND_PREFIX", "changes", "pairs", "record_total", "trend_findings", "year_totals"]

TREND_PREFIX = "trend/"
_MG = 1_000_000
#: How UNODC names a group's reported-total row ("Total hallucinogens (including ...").
_TOTAL = "total "


def record_total(state: State, view: View) -> str | None:
    """Add an annual total to its series; the series key, or ``None`` when the view is
    not a usable annual total."""
    if view.get("kind") != "annual-total":
        return None
    year = view.get("year")
    kilograms = number(view.get("kilograms"))
    group = text(view.get("drug_group"))
    raw = text(view.get("country_code")) or text(view.get("country"))
    if not isinstance(year, int) or isinstance(year, bool) or kilograms is None:
        return None
    if group is None or raw is None:
        return None
    place = country_code(raw)
    key = f"{TREND_PREFIX}{place.key}|{group}"
    series: dict[str, Any] = state.get(key) or {
        "country": place.key,
        "mapped": place.mapped,
        "group": group,
        "milligrams": {},
        "reported_totals": {},
        "rows": {},
    }
    year_key = str(year)
    drug = (text(view.get("drug")) or "").casefold()
    column = "reported_totals" if drug.startswith(_TOTAL) else "milligrams"
    series[column][year_key] = series[column].get(year_key, 0) + grams(kilograms)
    series["rows"][year_key] = series["rows"].get(year_key, 0) + 1
    state[key] = series
    return key


def year_totals(series: dict[str, Any]) -> dict[str, int]:
    """Milligrams per year: the larger of the reported totals and the sum of the other rows."""
    parts, reported = series["milligrams"], series["reported_totals"]
    return {year: max(parts.get(year, 0), reported.get(year, 0)) for year in {*parts, *reported}}


def _log_change(a: float, b: float) -> float:
    return math.log(max(b, TREND_MIN_BASE_KG) / max(a, TREND_MIN_BASE_KG))


def pairs(series: dict[str, Any]) -> list[tuple[int, float, float, float]]:
    """(year, kg the year before, kg that year, floored log change) for every pair of
    consecutive years of the series, oldest first."""
    totals = {int(y): mg / _MG for y, mg in year_totals(series).items()}
    return [
        (year, totals[year - 1], totals[year], _log_change(totals[year - 1], totals[year]))
        for year in sorted(totals)
        if year - 1 in totals
    ]


def changes(series: dict[str, Any]) -> list[dict[str, Any]]:
    """The flagged year-on-year changes of a series, oldest first (see the module)."""
    every = pairs(series)
    out = []
    for i, (year, a, b, change) in enumerate(every):
        others = [abs(c) for j, (_, _, _, c) in enumerate(every) if j != i]
        if a < TREND_MIN_BASE_KG or abs(b - a) < TREND_MIN_KG:
            continue
        if abs(change) < math.log1p(TREND_MIN_CHANGE) or len(others) < TREND_MIN_HISTORY:
            continue
        typical = statistics.median(others)
        if abs(change) < TREND_VOLATILITY_K * typical:
            continue
        out.append(
            {
                "pair": f"{year - 1}-{year}",
                "from": year - 1,
                "to": year,
                "kg_from": round(a, 3),
                "kg_to": round(b, 3),
                "change_kg": round(b - a, 3),
                "ratio": round(b / a, 4),
                "log_change": round(change, 4),
                "typical_log_change": round(typical, 4),
                "history": len(others),
                "direction": "rise" if b > a else "fall",
            }
        )
    return out


def trend_findings(series: dict[str, Any]) -> list[Finding]:
    """One finding per flagged change of the series."""
    return [_finding(series, change) for change in changes(series)]


def _finding(series: dict[str, Any], change: dict[str, Any]) -> Finding:
    a, b, delta = change["kg_from"], change["kg_to"], change["change_kg"]
    code = series["country"]
    name = country_name(code)
    where = name if name == code else f"{name} ({code})"
    verb = "rose" if delta > 0 else "fell"
    threshold = max(TREND_VOLATILITY_K * change["typical_log_change"], math.log1p(TREND_MIN_CHANGE))
    explanation = (
        f"Seizures of {series['group']} in {where} {verb} from {a:,.1f} kg in {change['from']} "
        f"to {b:,.1f} kg in {change['to']} (x{change['ratio']:.2f}, {delta:+,.1f} kg; log change "
        f"{change['log_change']:+.2f}). The series' typical year-on-year |log change| is "
        f"{change['typical_log_change']:.2f} (median of its {change['history']} other pairs of "
        f"years), so the bar was {threshold:.2f} (>= {TREND_VOLATILITY_K:g} x typical and >= "
        f"ln {1 + TREND_MIN_CHANGE:g}); base >= {TREND_MIN_BASE_KG:,.0f} kg and change >= "
        f"{TREND_MIN_KG:,.0f} kg. Annual totals summed over the group's drugs."
    )
    return Finding(
        kind="seizure-trend",
        subject=f"seizure-trend:{code}|{series['group']}",
        explanation=explanation,
        level="high" if abs(delta) >= TREND_HIGH_KG else "medium",
        score=round(abs(change["log_change"]) / threshold, 3),
        country=code,
        period=str(change["to"]),
        indicators={
            "country_code": code,
            "drug_group": series["group"],
            "year_from": change["from"],
            "year_to": change["to"],
            "kg_from": a,
            "kg_to": b,
            "change_kg": delta,
            "change_pct": round(100 * (change["ratio"] - 1), 2),
            "log_change": change["log_change"],
            "typical_log_change": change["typical_log_change"],
            "threshold_log_change": round(threshold, 4),
        },
    )
