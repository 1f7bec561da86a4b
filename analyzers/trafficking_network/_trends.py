"""Seizure trends from ``seizure/1`` annual totals: year over year, per country x drug group.

UNODC publishes one row per country, drug and year (several drugs per group,
sometimes several rows per drug and year, which add up). Each row adds its
kilograms to the series ``trend/<country code>|<drug group>`` under its year.

A drug group's total for a year is complete only once all its rows are in, and
rows do not say when that is. So a series is *judged* only when it has *settled*:
no row for it in the last ``TREND_SETTLE_VIEWS`` views. The per-view work is one
series key and the small ``trend-pending`` index of series waiting to settle;
judging runs every ``NETWORK_EVERY_VIEWS`` views over the pending series alone.

A change between consecutive years ``a`` -> ``b`` is flagged when
``|b - a| >= TREND_MIN_KG`` and ``|b - a| >= TREND_MIN_CHANGE * a`` (from zero:
any rise of >= ``TREND_MIN_KG``). One finding per flagged pair; a pair is
reported again only if late rows reverse its direction, and silently unflagged if
they bring it under the thresholds (the summary shows the current figures).

The seed paper's rationale: seizures are the observable trace of the "illicit
economy" whose "concentration of risk-associated profits" in borderlands shapes
conflict; a sudden rise or fall is a cue for the common situation analysis.
"""

from __future__ import annotations

from typing import Any

from analyzers.base import Finding, View
from analyzers.state import State
from analyzers.trafficking_network._views import number, text
from analyzers.trafficking_network.thresholds import (
    TREND_HIGH_KG,
    TREND_MIN_CHANGE,
    TREND_MIN_KG,
    TREND_SETTLE_VIEWS,
)

__all__ = ["PENDING_KEY", "TREND_PREFIX", "changes", "record_total", "settle"]

TREND_PREFIX = "trend/"
PENDING_KEY = "trend-pending"


def record_total(state: State, view: View, views: int) -> bool:
    """Add an annual total to its series; ``False`` when the view is not a usable one."""
    if view.get("kind") != "annual-total":
        return False
    year = view.get("year")
    kilograms = number(view.get("kilograms"))
    group = text(view.get("drug_group"))
    code = text(view.get("country_code")) or text(view.get("country"))
    if not isinstance(year, int) or isinstance(year, bool) or kilograms is None:
        return False
    if group is None or code is None:
        return False
    key = f"{TREND_PREFIX}{code}|{group}"
    series: dict[str, Any] = state.get(key) or {
        "country": text(view.get("country")) or code,
        "code": code,
        "group": group,
        "years": {},
        "flagged": {},
    }
    years = series["years"]
    years[str(year)] = round(years.get(str(year), 0.0) + kilograms, 6)
    state[key] = series
    pending: dict[str, int] = state.get(PENDING_KEY) or {}
    pending[key] = views
    state[PENDING_KEY] = pending
    return True


def changes(series: dict[str, Any]) -> list[dict[str, Any]]:
    """The flagged year-over-year changes of a series, oldest first."""
    years = series["years"]
    out = []
    for year in sorted(years, key=int):
        before = str(int(year) - 1)
        if before not in years:
            continue
        a, b = years[before], years[year]
        delta = b - a
        if abs(delta) < TREND_MIN_KG or (a > 0 and abs(delta) < TREND_MIN_CHANGE * a):
            continue
        out.append(
            {
                "pair": f"{before}-{year}",
                "from": int(before),
                "to": int(year),
                "kg_from": round(a, 3),
                "kg_to": round(b, 3),
                "change_kg": round(delta, 3),
                "change": round(delta / a, 4) if a > 0 else None,
                "direction": "rise" if delta > 0 else "fall",
            }
        )
    return out


def settle(state: State, views: int) -> list[Finding]:
    """Judge the pending series that have settled; findings for newly flagged changes."""
    pending: dict[str, int] = state.get(PENDING_KEY) or {}
    ready = sorted(key for key, last in pending.items() if last <= views - TREND_SETTLE_VIEWS)
    findings = []
    for key in ready:
        del pending[key]
        series = state.get(key)
        if series is None:
            continue
        flagged: dict[str, str] = {}
        for change in changes(series):
            flagged[change["pair"]] = change["direction"]
            if series["flagged"].get(change["pair"]) != change["direction"]:
                findings.append(_finding(series, change))
        series["flagged"] = flagged
        state[key] = series
    if ready:
        state[PENDING_KEY] = pending
    return findings


def _finding(series: dict[str, Any], change: dict[str, Any]) -> Finding:
    a, b, delta = change["kg_from"], change["kg_to"], change["change_kg"]
    verb = "rose" if delta > 0 else "fell"
    if change["change"] is None:
        relative = "from none"
        score = abs(delta) / TREND_MIN_KG
    else:
        relative = f"{change['change']:+.1%}"
        score = abs(change["change"]) / TREND_MIN_CHANGE
    where = (
        series["country"]
        if series["country"] == series["code"]
        else (f"{series['country']} ({series['code']})")
    )
    explanation = (
        f"Seizures of {series['group']} in {where} {verb} from {a:,.1f} kg in "
        f"{change['from']} to {b:,.1f} kg in {change['to']} ({relative}, {delta:+,.1f} kg); "
        f"thresholds: a change of >= {TREND_MIN_CHANGE:.0%} and >= {TREND_MIN_KG:,.0f} kg "
        f"(annual totals, summed over the group's drugs)."
    )
    return Finding(
        kind="seizure-trend",
        subject=f"seizure-trend:{series['code']}|{series['group']}|{change['pair']}",
        explanation=explanation,
        level="high" if abs(delta) >= TREND_HIGH_KG else "medium",
        score=round(score, 3),
        country=series["country"],
        period=str(change["to"]),
        indicators={
            "country_code": series["code"],
            "drug_group": series["group"],
            "year_from": change["from"],
            "year_to": change["to"],
            "kg_from": a,
            "kg_to": b,
            "change_kg": delta,
            "change_pct": "n/a" if change["change"] is None else round(100 * change["change"], 2),
        },
    )
