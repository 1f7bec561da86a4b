"""The ``mission.security-risk`` analyzer: hotspot tallies, escalation flags, summary.

Per view (a handful of state keys, whatever the state's size): count the incident
into its area-month (``cell:``), the country-month ranking (``rank:``) and the
country's first month (``country:``); read the area's previous
:data:`~analyzers.security_risk._flags.BASELINE_MONTHS` cells and the previous
month's ranking; evaluate the flags of :mod:`analyzers.security_risk._flags`.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from analyzers.base import Finding, View
from analyzers.security_risk._flags import Context, baseline, evaluate
from analyzers.security_risk._hotspots import (
    CELL_PREFIX,
    add_incident,
    cell_key,
    country_key,
    incident_of,
    months_before,
    new_tally,
    rank_key,
)
from analyzers.state import State

__all__ = ["FALLING_RATIO", "RISING_RATIO", "SecurityRiskAnalyzer"]

#: A trend is "rising" when the latest month's deaths are >= this x the baseline mean.
RISING_RATIO = 1.25
#: ... and "falling" when they are <= this x the baseline mean; "stable" in between.
FALLING_RATIO = 0.8

_HOTSPOT_FIELDS = (
    "events",
    "fatalities_best",
    "fatalities_low",
    "fatalities_high",
    "civilian_deaths",
)


class SecurityRiskAnalyzer:
    """Incident hotspots and escalation flags per country x admin1 x month."""

    id: ClassVar[str] = "mission.security-risk"
    version: ClassVar[str] = "1.0.0"
    schemas: ClassVar[frozenset[str]] = frozenset({"conflict-event/1"})

    def analyze(self, view: View, state: State) -> list[Finding]:
        incident = incident_of(view)
        if incident is None:
            return []
        country, admin1, month = incident.country, incident.admin1, incident.month
        key = cell_key(country, admin1, month)
        tally = state.get(key) or new_tally()
        add_incident(tally, incident)

        about = state.get(country_key(country))
        if about is None or month < about["first_month"]:
            about = {"first_month": month}
            state[country_key(country)] = about

        area = json.dumps(admin1, ensure_ascii=False)
        rank: dict[str, int] = state.get(rank_key(country, month)) or {}
        if admin1 is not None:
            rank[area] = tally["fatalities_best"]
            state[rank_key(country, month)] = rank

        def deaths_in(m: str) -> int:
            cell = state.get(cell_key(country, admin1, m))
            return int(cell["fatalities_best"]) if cell else 0

        mean, counted = baseline(month, about["first_month"], deaths_in)
        previous = months_before(month, 1)[0]
        context = Context(
            incident=incident,
            area=area,
            tally=tally,
            baseline=mean,
            baseline_months=counted,
            rank=rank,
            previous_rank=state.get(rank_key(country, previous)) or {},
        )
        findings = evaluate(context, tally["flags"])
        state[key] = tally
        return findings

    def summary(self, state: State) -> dict[str, Any]:
        """``hotspots`` (one per area-month), ``trends`` (per area) and ``flags`` raised."""
        cells: dict[tuple[str, str | None, str], dict[str, Any]] = {}
        for key, tally in state.items(CELL_PREFIX):
            country, admin1, month = json.loads(key[len(CELL_PREFIX) :])
            cells[(country, admin1, month)] = tally

        def order(k: tuple[str, str | None, str]) -> tuple[str, str, str]:
            return (k[0], k[1] or "", k[2])

        hotspots = [
            {"country": k[0], "admin1": k[1], "month": k[2]}
            | {f: cells[k][f] for f in _HOTSPOT_FIELDS}
            for k in sorted(cells, key=lambda k: (-cells[k]["fatalities_best"], *order(k)))
        ]
        flags = [
            {"country": k[0], "admin1": k[1], "month": k[2], "kind": kind, "level": level}
            for k in sorted(cells, key=lambda k: (k[2], *order(k)))
            for kind, level in sorted(cells[k]["flags"].items())
        ]
        return {"hotspots": hotspots, "trends": _trends(cells, state), "flags": flags}


def _trends(
    cells: dict[tuple[str, str | None, str], dict[str, Any]], state: State
) -> list[dict[str, Any]]:
    """Per area: its latest month against the mean of the months before it."""
    latest: dict[tuple[str, str | None], str] = {}
    for country, admin1, month in cells:
        area = (country, admin1)
        latest[area] = max(month, latest.get(area, month))
    out = []
    for (country, admin1), month in sorted(
        latest.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")
    ):
        first = (state.get(country_key(country)) or {}).get("first_month", month)

        def deaths_in(m: str, country: str = country, admin1: str | None = admin1) -> int:
            cell = cells.get((country, admin1, m))
            return int(cell["fatalities_best"]) if cell else 0

        mean, counted = baseline(month, first, deaths_in)
        deaths = deaths_in(month)
        tally = cells[(country, admin1, month)]
        if mean is None:
            direction, ratio = "no baseline", None
        else:
            ratio = None if mean == 0 else round(deaths / mean, 3)
            if deaths > 0 and deaths >= RISING_RATIO * mean:
                direction = "rising"
            elif deaths < mean and deaths <= FALLING_RATIO * mean:
                direction = "falling"
            else:
                direction = "stable"
        out.append(
            {
                "country": country,
                "admin1": admin1,
                "month": month,
                "fatalities_best": deaths,
                "baseline_mean": None if mean is None else round(mean, 3),
                "baseline_months": counted,
                "ratio": ratio,
                "direction": direction,
                "one_sided_share": round(tally["one_sided_events"] / tally["events"], 3),
                "civilian_share": round(tally["civilian_deaths"] / deaths, 3) if deaths else None,
            }
        )
    return out
