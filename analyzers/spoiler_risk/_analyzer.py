"""The ``dpa.spoiler-risk`` analyzer: order-free tallies per group and year, calls derived.

State (all values order-free: counts, and sets kept as sorted lists):

* ``tally:<group> @ <year>`` - the group's evidence in that calendar year
  (:func:`~analyzers.spoiler_risk._typology.new_tally`);
* ``org:<group>`` - across years: its events that UCDP codes only for formally organised
  actors, and the years it was seen in;
* ``reported:<group> @ <year>`` - what :func:`analyzers.converge.reconcile` last reported.

Per view: the view is absorbed into the tallies of the groups it names, for the
event's year; then the findings of each touched scope (group and year) are derived
from the tallies alone and reconciled. When a group's organisation changes (its first
event of state-based conflict or one-sided violence makes a group with a communal name
formally organised), every year of that group is derived again.

One finding per group and year with a call (kind ``spoiler-typology``, subject the
group, period the year); "insufficient evidence" and "not typed" are not findings
(a call that falls back to them is withdrawn), but the summary lists them.
"""

from __future__ import annotations

import bisect
import re
from typing import Any, ClassVar

from clearinghouse.analyzers.base import Finding, View
from clearinghouse.analyzers.converge import reconcile
from clearinghouse.analyzers.spoiler_risk._events import Event, Side, event_of, government_labels
from clearinghouse.analyzers.spoiler_risk._lexicon import lexicon, narrative_digest, normalise
from clearinghouse.analyzers.spoiler_risk._typology import (
    CONFIDENCE_LEVELS,
    INSUFFICIENT,
    MIN_NARRATIVES,
    NOT_TYPED,
    TYPES,
    Assessment,
    assess,
    band,
    new_tally,
    organisation_of,
)
from clearinghouse.analyzers.state import State

__all__ = ["GROUP_PREFIX", "ORG_PREFIX", "PERIOD", "SPOILER_LEVELS", "SpoilerRiskAnalyzer"]

#: State keys of the per-group, per-year tallies.
GROUP_PREFIX = "tally:"
ORG_PREFIX = "org:"
#: What a finding's ``period`` is.
PERIOD = "calendar year of the event's date_start (UCDP year when no date)"
UNDATED = "undated"
#: Spoiler risk level of a call: predatory groups are "inevitable 'enemies' of peace
#: operations" (seed paper); parasitic and symbiotic ones "may be susceptible to
#: bargaining for political settlements", and symbiosis may be "mistaken for peace".
SPOILER_LEVELS = {"predatory": "high", "symbiotic": "medium", "parasitic": "medium"}


def _add(sorted_list: list[Any], value: Any) -> None:
    """Insert ``value`` into ``sorted_list`` unless it is there (a set kept sorted)."""
    at = bisect.bisect_left(sorted_list, value)
    if at == len(sorted_list) or sorted_list[at] != value:
        sorted_list.insert(at, value)


def _bump(counts: dict[str, int], key: object) -> None:
    counts[str(key)] = counts.get(str(key), 0) + 1


def _scope(group: str, period: str) -> str:
    return f"{group} @ {period}"


def _absorb(
    tally: dict[str, Any],
    event: Event,
    own: Side,
    other: Side,
    role: str,
    text: tuple[str, str, dict[str, dict[str, list[str]]]] | None,
) -> int:
    """Count ``event`` into ``tally`` (in place); returns 1 if the event shows the group
    formally organised (state-based conflict, or one-sided violence as side A)."""
    tov = event.type_of_violence
    tally["events"] += 1
    _bump(tally["by_type"], tov)
    if own.ucdp_id is not None:
        _add(tally["ucdp_ids"], own.ucdp_id)
    if event.country is not None:
        _add(tally["countries"], event.country)
    opposite_government = bool(other.governments)
    if tov == 1 and role == "b" and opposite_government:
        tally["hostility"] += 1
        for government in other.governments:
            _bump(tally["hostile_to"], government)
        if event.conflict_id is not None:
            _bump(tally["hostile_conflicts"], event.conflict_id)
        if event.dyad_id is not None:
            _bump(tally["hostile_dyads"], event.dyad_id)
    if tov == 3 and role == "a":
        tally["one_sided"] += 1
        tally["one_sided_deaths"] += event.civilian_deaths
    if own.governments:
        tally["alongside"] += 1
        for government in own.governments:
            _bump(tally["alongside_with"], government)
    if text is not None:
        digest, normalised, found = text
        tally["with_narrative"] += 1
        for category, by_evidence in found.items():
            if category == "state_backing" and (
                opposite_government or not _names(normalised, tally["group"])
            ):
                continue  # the words describe its foe, or the government's own side
            for evidence, terms in by_evidence.items():
                _add(tally["lexicon"].setdefault(f"{category}/{evidence}", []), digest)
                for term in terms:
                    _add(tally["terms"].setdefault(term, []), digest)
    return int(tov == 1 or (tov == 3 and role == "a"))


def _names(normalised: str, group: str) -> bool:
    """Whether a normalised narrative names ``group`` (its name without a bracketed
    qualifier such as "(Syria)", as whole words)."""
    name = normalise(re.sub(r"\([^)]*\)", " ", group))
    return bool(name) and f" {name} " in f" {normalised} "


def _kinds(tally: dict[str, Any], category: str) -> str:
    kinds = sorted(k.split("/", 1)[1] for k in tally["lexicon"] if k.split("/", 1)[0] == category)
    return f" ({', '.join(kinds)})" if kinds else ""


def _explain(group: str, period: str, a: Assessment, tally: dict[str, Any], org: str) -> str:
    """Why the call, from the tallies; counts in bands (:func:`band`), so that the
    finding changes when the evidence changes band, not with every event."""
    e = {k: band(v) for k, v in a.evidence.items()}
    fought = ", ".join(government_labels(tally["hostile_to"]))
    alongside = ", ".join(government_labels(tally["alongside_with"]))
    levels = ", ".join(f"{level} from {n}" for n, level in reversed(CONFIDENCE_LEVELS))
    return (
        f"{group} in {period} (calendar year): {a.call}, {a.rule}. Confidence {a.confidence}: "
        f"{band(a.support)} independent evidence items behind the weakest condition of the "
        f"call ({levels}). Evidence, in bands of counts: state-based violence against a "
        f"government in {e['hostility_events']} events"
        + (f" (against {fought})" if fought else "")
        + f"; one-sided violence against civilians in {e['one_sided_events']} events; "
        f"fought alongside a government in {e['alongside_government_events']} events"
        + (f" ({alongside})" if alongside else "")
        + f"; distinct narratives of its events with plunder terms: {e['plunder_narratives']}"
        f"{_kinds(tally, 'plunder')}, rent terms: {e['rent_narratives']}"
        f"{_kinds(tally, 'rent')}, rent sites: {e['rent_site_narratives']}"
        f"{_kinds(tally, 'rent_site')}, state backing naming it: "
        f"{e['state_backing_narratives']} (narrative evidence counts from {MIN_NARRATIVES} "
        f"accounts). Organisation: {org}."
    )


class SpoilerRiskAnalyzer:
    """Armed groups called predatory, parasitic or symbiotic per year, with the evidence."""

    id: ClassVar[str] = "dpa.spoiler-risk"
    version: ClassVar[str] = "2.0.1"
    schemas: ClassVar[frozenset[str]] = frozenset({"conflict-event/1"})

    def analyze(self, view: View, state: State) -> list[Finding]:
        event = event_of(view)
        if event is None:
            return []
        period = event.period or UNDATED
        text = None
        if event.narrative is not None:
            normalised = normalise(event.narrative)
            text = (narrative_digest(normalised), normalised, lexicon().match(normalised))
        roles: dict[str, tuple[str, Side, Side]] = {}
        for g in event.b.groups:
            roles[g] = ("b", event.b, event.a)
        for g in event.a.groups:
            roles[g] = ("a", event.a, event.b)
        out: list[Finding] = []
        for group in sorted(roles):
            role, own, other = roles[group]
            key = GROUP_PREFIX + _scope(group, period)
            tally = state.get(key) or new_tally(group, period)
            formal = _absorb(tally, event, own, other, role, text)
            state[key] = tally
            org = state.get(ORG_PREFIX + group) or {"formal_events": 0, "periods": []}
            before = organisation_of(group, org["formal_events"])[0]
            org["formal_events"] += formal
            _add(org["periods"], period)
            state[ORG_PREFIX + group] = org
            changed_org = organisation_of(group, org["formal_events"])[0] != before
            for p in org["periods"] if changed_org else [period]:
                out += self._derive(state, group, p, org["formal_events"])
        return out

    def _derive(self, state: State, group: str, period: str, formal: int) -> list[Finding]:
        scope = _scope(group, period)
        tally = state.peek(GROUP_PREFIX + scope)  # assessed, never changed
        organisation, reason = organisation_of(group, formal)
        a = assess(tally, organisation)
        findings = []
        if a.call in TYPES:
            countries = tally["countries"]
            findings.append(
                Finding(
                    kind="spoiler-typology",
                    subject=group,
                    period=period,
                    country=countries[0] if len(countries) == 1 else None,
                    level=SPOILER_LEVELS[a.call],
                    explanation=_explain(group, period, a, tally, f"{organisation} ({reason})"),
                    indicators={
                        "call": a.call,
                        "confidence": str(a.confidence),
                        "support": band(a.support),
                        "organisation": organisation,
                        **{k: band(v) for k, v in a.evidence.items()},
                    },
                )
            )
        return reconcile(state, scope, findings)

    def summary(self, state: State) -> dict[str, Any]:
        """Per group: organisation, UCDP ids, and per year the call (or why none) with its
        evidence; per year, the groups of each call."""
        orgs = dict(state.items(ORG_PREFIX))
        groups: dict[str, dict[str, Any]] = {}
        calls: dict[str, dict[str, list[str]]] = {}
        totals: dict[str, int] = {t: 0 for t in (*TYPES, INSUFFICIENT, NOT_TYPED)}
        for _, tally in state.items(GROUP_PREFIX):
            name, period = tally["group"], tally["period"]
            org = orgs[ORG_PREFIX + name]
            organisation, reason = organisation_of(name, org["formal_events"])
            a = assess(tally, organisation)
            entry = groups.setdefault(
                name,
                {
                    "name": name,
                    "organisation": organisation,
                    "organisation_reason": reason,
                    "ucdp_ids": [],
                    "events": 0,
                    "periods": [],
                },
            )
            for ucdp_id in tally["ucdp_ids"]:
                _add(entry["ucdp_ids"], ucdp_id)
            entry["events"] += tally["events"]
            entry["periods"].append(
                {
                    "period": period,
                    "call": a.call,
                    "confidence": a.confidence,
                    "support": a.support,
                    "rule": a.rule,
                    "evidence": a.evidence,
                    "terms": {t: len(d) for t, d in sorted(tally["terms"].items())},
                }
            )
            totals[a.call] += 1
            calls.setdefault(period, {}).setdefault(a.call, []).append(name)
        for entry in groups.values():
            entry["periods"].sort(key=lambda p: p["period"])
        ordered = sorted(groups.values(), key=lambda g: (-g["events"], g["name"]))
        return {
            "period": PERIOD,
            "groups": ordered,
            "calls": {
                p: {c: sorted(names) for c, names in sorted(by.items())}
                for p, by in sorted(calls.items())
            },
            "group_periods": totals,
        }
