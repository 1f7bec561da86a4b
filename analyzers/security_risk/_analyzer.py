"""The ``mission.security-risk`` analyzer: absorb a view, re-judge the months it touches.

Per view: count the incident into its order-free tally (its country-month document
when it is placed in an admin1 and a month, else its imprecise tally), then judge
again every country-month whose flags the new count can change and reconcile
them (:func:`analyzers.converge.reconcile`, scope ``["country","YYYY-MM"]``):

* the event's month (all areas: ``new-hotspot`` is a rank among them);
* the ``BASELINE_MONTHS`` months after it (their escalation baseline, and the next
  month's "previous top", include this month);
* when the event moves the first month of the data held for the country earlier,
  every held month whose baseline or previous month now falls inside the data.

An imprecise or unlocated event changes no flag, so it yields no finding.
"""

from __future__ import annotations

import json
from bisect import insort
from typing import Any, ClassVar

from analyzers.base import Finding, View
from analyzers.converge import reconcile
from analyzers.security_risk._flags import BASELINE_MONTHS, MonthData, judge_month
from analyzers.security_risk._hotspots import (
    add_incident,
    country_key,
    imprecise_key,
    incident_of,
    month_key,
    months_after,
    months_before,
    new_tally,
)
from analyzers.security_risk._summary import FALLING_RATIO, RISING_RATIO, summarise
from analyzers.state import State

__all__ = ["FALLING_RATIO", "RISING_RATIO", "SecurityRiskAnalyzer", "scope_of"]


def scope_of(country: str, month: str) -> str:
    """The reconcile scope of one country-month's flags."""
    return json.dumps([country, month], ensure_ascii=False)


class SecurityRiskAnalyzer:
    """Hotspots, escalation flags, trends and indicators per country x admin1 x period."""

    id: ClassVar[str] = "mission.security-risk"
    version: ClassVar[str] = "2.0.0"
    schemas: ClassVar[frozenset[str]] = frozenset({"conflict-event/1"})

    def analyze(self, view: View, state: State) -> list[Finding]:
        incident = incident_of(view)
        if incident is None:
            return []
        country = incident.country
        if not incident.precise or incident.month is None or incident.admin1 is None:
            key = imprecise_key(country, incident.admin1, incident.period)
            tally = state.get(key) or new_tally()
            add_incident(tally, incident)
            state[key] = tally
            return []
        month, admin1 = incident.month, incident.admin1
        doc: dict[str, Any] = state.get(month_key(country, month)) or {}
        tally = doc.get(admin1) or new_tally()
        add_incident(tally, incident)
        doc[admin1] = tally
        state[month_key(country, month)] = doc

        about = state.get(country_key(country)) or {"months": []}
        held: list[str] = about["months"]
        old_first = held[0] if held else None
        if month not in held:
            insort(held, month)
            state[country_key(country)] = about
        first = held[0]

        scopes = {month, *months_after(month, BASELINE_MONTHS)}
        if old_first is not None and first < old_first:
            # Months m with m-1 or m-BASELINE_MONTHS newly inside the data held.
            last = months_after(old_first, BASELINE_MONTHS - 1)[-1]
            scopes.update(m for m in held if first < m <= last)

        cache: dict[str, dict[str, Any]] = {month: doc}

        def tallies(m: str) -> dict[str, Any]:
            if m not in cache:
                cache[m] = state.get(month_key(country, m)) or {}
            return cache[m]

        findings: list[Finding] = []
        for m in sorted(scopes):
            window = [m, *months_before(m, BASELINE_MONTHS)]
            data = MonthData(country, m, first, {w: tallies(w) for w in window})
            findings += reconcile(state, scope_of(country, m), judge_month(data))
        return findings

    def summary(self, state: State) -> dict[str, Any]:
        """``hotspots`` (located area-months, by deaths), ``imprecise`` (counted apart),
        ``trends``, ``flags`` (those that hold), ``indicators`` (deadliness, diffusion,
        fragmentation) and ``countries`` (totals and the span of the data held)."""
        return summarise(state)
