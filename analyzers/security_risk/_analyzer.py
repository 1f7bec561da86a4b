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

An imprecise or unlocated event changes no flag. It is counted apart, and the
tally it joins (country, admin1 when located, period) is reported as one
``imprecise-events`` finding (scope ``imprecise:[country, admin1, period]``), so
that every participant sees what could not be placed beside the hotspots; such a
finding has no level and is never ranked.
"""

from __future__ import annotations

import json
from bisect import insort
from typing import Any, ClassVar

from clearinghouse.analyzers.base import Finding, View
from clearinghouse.analyzers.converge import reconcile
from clearinghouse.analyzers.security_risk._flags import BASELINE_MONTHS, MonthData, judge_month
from clearinghouse.analyzers.security_risk._hotspots import (
    add_incident,
    country_key,
    imprecise_key,
    incident_of,
    month_key,
    months_after,
    months_before,
    new_tally,
)
from clearinghouse.analyzers.security_risk._summary import FALLING_RATIO, RISING_RATIO, summarise
from clearinghouse.analyzers.state import State

__all__ = [
    "FALLING_RATIO",
    "IMPRECISE_KIND",
    "RISING_RATIO",
    "SecurityRiskAnalyzer",
    "imprecise_finding",
    "scope_of",
]

#: The kind of the finding that reports events counted apart.
IMPRECISE_KIND = "imprecise-events"
_IMPRECISE_INDICATORS = (
    "events",
    "fatalities_best",
    "fatalities_low",
    "fatalities_high",
    "civilian_deaths",
    "month_unknown_events",
    "regional_events",
    "unlocated_events",
)


def scope_of(country: str, month: str) -> str:
    """The reconcile scope of one country-month's flags."""
    return json.dumps([country, month], ensure_ascii=False)


def imprecise_finding(
    country: str, admin1: str | None, period: str, tally: dict[str, Any]
) -> Finding:
    """The events of one country (admin1 when located) and period that are counted apart."""
    where = f"{admin1}, {country}" if admin1 else country
    why = []
    if tally.get("month_unknown_events"):
        why.append(f"{tally['month_unknown_events']} without a known month")
    if tally.get("regional_events"):
        why.append(f"{tally['regional_events']} located only to a larger region")
    if tally.get("unlocated_events"):
        why.append(f"{tally['unlocated_events']} located only to the country")
    return Finding(
        kind=IMPRECISE_KIND,
        subject=f"{where} / {period} / imprecise",
        country=country,
        admin1=admin1,
        period=period,
        explanation=(
            f"{where}, {period}: {tally['events']} event(s) with {tally['fatalities_best']} "
            f"deaths (best estimate) counted apart ({'; '.join(why)}), per UCDP's date and "
            "location precision codes; never ranked as an area-month or flagged."
        ),
        indicators={name: int(tally.get(name, 0)) for name in _IMPRECISE_INDICATORS},
    )


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
            finding = imprecise_finding(country, incident.admin1, incident.period, tally)
            return reconcile(state, key, [finding])
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
                cache[m] = state.peek(month_key(country, m)) or {}  # judged, never changed
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
