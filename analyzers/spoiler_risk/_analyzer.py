"""The ``dpa.spoiler-risk`` analyzer: per-group counters, typology calls, findings, summary.

State: one key per group, ``group:<name>`` (``group:ref:<pseudonym>`` when the
names are pseudonymised), holding its counters and its last call. Per view, only
the groups of that event are read and written (a coalition side adds a few).

A finding (kind ``spoiler-typology``) is emitted when a group that has reached
:data:`~analyzers.spoiler_risk._typology.MIN_EVENTS` gets its first call, when its
call changes, or when the confidence of its call changes level.
"""

from __future__ import annotations

import bisect
from typing import Any, ClassVar

from analyzers.base import Finding, View
from analyzers.spoiler_risk import _typology as T
from analyzers.spoiler_risk._events import (
    PLUNDER_KEYWORDS,
    RENT_KEYWORDS,
    Event,
    event_of,
    keyword_matches,
)
from analyzers.spoiler_risk._typology import (
    MIN_EVENTS,
    UNDETERMINED,
    Call,
    call_of,
    indicators_of,
    is_principal_foe,
)
from analyzers.state import State

__all__ = ["GROUP_PREFIX", "SPOILER_LEVELS", "SpoilerRiskAnalyzer"]

GROUP_PREFIX = "group:"
#: Spoiler risk level of a call. Predatory groups are "inevitable 'enemies' of peace
#: operations" (seed paper); critical when both hostility and civilian targeting are
#: at full strength. Symbiosis "may be mistaken for peace"; parasitism can be bargained with.
SPOILER_LEVELS = {
    "predatory": "high",
    "symbiotic": "medium",
    "parasitic": "medium",
    UNDETERMINED: "low",
}


def _new_group(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "ucdp_id": None,
        "events": 0,
        "state_based": 0,
        "non_state": 0,
        "one_sided": 0,
        "anti_state": 0,
        "allied_with_state": 0,
        "vs_principal_foe": 0,
        "civilian_deaths": 0,
        "narratives": 0,
        "rent_events": 0,
        "plunder_events": 0,
        "keyword_matches": {},
        "areas": [],
        "call": None,
        "confidence_level": None,
    }


def _previous(group: dict[str, Any]) -> tuple[str, str] | None:
    """The call and confidence level last reported for ``group``, if any."""
    if group["call"] is None:
        return None
    return group["call"], group["confidence_level"]


def _count(group: dict[str, Any], event: Event, role: str, foes: set[str]) -> None:
    """Count ``event`` into ``group`` (in place); ``role`` is "a" or "b"."""
    own, other = (event.a, event.b) if role == "a" else (event.b, event.a)
    group["events"] += 1
    tov = event.type_of_violence
    group["state_based"] += int(tov == 1)
    group["non_state"] += int(tov == 2)
    if tov == 3 and role == "a":
        group["one_sided"] += 1
        group["civilian_deaths"] += event.civilian_deaths
    group["anti_state"] += int(other.state)
    group["allied_with_state"] += int(own.state)
    group["vs_principal_foe"] += int(any(g in foes for g in other.groups))
    if own.ucdp_id is not None:
        group["ucdp_id"] = own.ucdp_id
    if event.narrative is not None:
        group["narratives"] += 1
        matches = group["keyword_matches"]
        for stems, counter in (
            (RENT_KEYWORDS, "rent_events"),
            (PLUNDER_KEYWORDS, "plunder_events"),
        ):
            found = keyword_matches(event.narrative, stems)
            group[counter] += int(bool(found))
            for stem, count in found.items():
                matches[stem] = matches.get(stem, 0) + count
        group["keyword_matches"] = dict(sorted(matches.items()))
    if event.country is not None and event.admin1 is not None:
        area = f"{event.country}: {event.admin1}"
        at = bisect.bisect_left(group["areas"], area)
        if at == len(group["areas"]) or group["areas"][at] != area:
            group["areas"].insert(at, area)


def _explain(name: str, result: Call, before: dict[str, Any]) -> str:
    i, s, st = result.indicators, result.scores, result.strengths
    head = f"{name}: called {result.call}" if result.call != UNDETERMINED else f"{name}: no type"
    if before["call"] is None:
        change = "first call"
    elif before["call"] != result.call:
        change = f"was {before['call']}"
    else:
        change = f"confidence was {before['confidence_level']}"
    return (
        f"{head} ({change}) from {i['events']} events. Scores: predatory {s['predatory']:.2f}, "
        f"symbiotic {s['symbiotic']:.2f}, parasitic {s['parasitic']:.2f} (a call needs >= "
        f"{T.MIN_CALL_SCORE:.2f}). Against a state: {i['anti_state_share']:.1%} of events "
        f"(hostility {st['hostility']:.2f}, full at {T.HOSTILITY_SHARE:.0%}); one-sided violence: "
        f"{i['one_sided_share']:.1%} (full at {T.ONE_SIDED_SHARE:.0%}), "
        f"{i['civilian_deaths_per_event']:.2f} civilian deaths per event (full at "
        f"{T.CIVILIANS_PER_EVENT:.2f}); non-state clashes: {i['non_state_share']:.1%} (weight "
        f"{T.TURF_WEIGHT:.1f}); on a state's side: {i['allied_share']:.1%} (full at "
        f"{T.ALLIED_SHARE:.0%}); against principal foes of the state: "
        f"{i['principal_foe_share']:.1%} (full at {T.COBELLIGERENCE_SHARE:.0%}, if at most "
        f"{T.COBELLIGERENCE_MAX_ANTI_STATE:.0%} against a state); rent keywords in "
        f"{i['rent_share']:.1%} and plunder keywords in {i['plunder_share']:.1%} of "
        f"{i['narratives']} narratives (full at {T.RENT_SHARE:.0%} and {T.PLUNDER_SHARE:.0%}, "
        f"counted from {T.KEYWORD_MIN_EVENTS} matching narratives on); "
        f"named pro-government: {'yes' if i['named_pro_state'] else 'no'}; spread over "
        f"{i['areas']} admin1 areas. Confidence {result.confidence_level} "
        f"({result.confidence:.2f} = min(1, events/{T.CONFIDENT_EVENTS}) x the call's margin "
        f"over the next score; levels from "
        f"{', '.join(f'{b:.2f}' for b, _ in T.CONFIDENCE_LEVELS)}, changed only "
        f"{T.HYSTERESIS:.2f} past a bound)."
    )


class SpoilerRiskAnalyzer:
    """Armed and criminal groups called predatory, parasitic or symbiotic, with indicators."""

    id: ClassVar[str] = "dpa.spoiler-risk"
    version: ClassVar[str] = "1.0.0"
    schemas: ClassVar[frozenset[str]] = frozenset({"conflict-event/1"})

    def analyze(self, view: View, state: State) -> list[Finding]:
        event = event_of(view)
        if event is None:
            return []
        roles = {g: "b" for g in event.b.groups} | {g: "a" for g in event.a.groups}
        groups = {g: state.get(GROUP_PREFIX + g) or _new_group(g) for g in sorted(roles)}
        foes = {g for g, record in groups.items() if is_principal_foe(record)}
        findings = []
        for name, group in groups.items():
            _count(group, event, roles[name], foes)
            if group["events"] >= MIN_EVENTS:
                before = {"call": group["call"], "confidence_level": group["confidence_level"]}
                result = call_of(group, _previous(group))
                first = before["call"] is None and result.call != UNDETERMINED
                changed = before["call"] is not None and (
                    before["call"] != result.call
                    or before["confidence_level"] != result.confidence_level
                )
                if first or changed:
                    findings.append(self._finding(name, event, result, before))
                if first or before["call"] is not None:
                    group["call"] = result.call
                    group["confidence_level"] = result.confidence_level
            state[GROUP_PREFIX + name] = group
        return findings

    @staticmethod
    def _finding(name: str, event: Event, result: Call, before: dict[str, Any]) -> Finding:
        level = SPOILER_LEVELS[result.call]
        strengths = result.strengths
        if (
            result.call == "predatory"
            and min(strengths["hostility"], strengths["civilian_targeting"]) >= 1
        ):
            level = "critical"
        indicators: dict[str, float | int | str] = {
            **result.indicators,
            **{f"score_{t}": v for t, v in result.scores.items()},
            **{f"strength_{t}": v for t, v in result.strengths.items()},
            "confidence": result.confidence,
            "confidence_level": result.confidence_level,
        }
        if before["call"] is not None:
            indicators["previous_call"] = before["call"]
        return Finding(
            kind="spoiler-typology",
            subject=name,
            explanation=_explain(name, result, before),
            level=level,
            score=max(result.scores.values()),
            country=event.country,
            period=event.month,
            indicators=indicators,
        )

    def summary(self, state: State) -> dict[str, Any]:
        """Per group: call, confidence, indicators, scores, event count; and calls by type."""
        groups = []
        for _, group in state.items(GROUP_PREFIX):
            entry: dict[str, Any] = {
                "name": group["name"],
                "ucdp_id": group["ucdp_id"],
                "events": group["events"],
                "call": None,
                "confidence": None,
                "confidence_level": None,
                "indicators": indicators_of(group),
                "keyword_matches": group["keyword_matches"],
            }
            if group["events"] >= MIN_EVENTS:
                result = call_of(group, _previous(group))
                entry |= {
                    "call": result.call,
                    "confidence": result.confidence,
                    "confidence_level": result.confidence_level,
                    "scores": result.scores,
                    "strengths": result.strengths,
                }
            groups.append(entry)
        groups.sort(key=lambda g: (-g["events"], g["name"]))
        calls: dict[str, list[str]] = {}
        for g in groups:
            if g["call"] is not None:
                calls.setdefault(g["call"], []).append(g["name"])
        return {"groups": groups, "calls": dict(sorted(calls.items()))}
