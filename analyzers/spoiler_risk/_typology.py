"""The typology call for one group: indicators -> strengths -> type scores -> call.

Indicators (from the group's counters, see :mod:`analyzers.spoiler_risk._groups`):

* ``anti_state_share`` - share of its events fought against a state actor (state-
  based conflict opposite a "Government of ...");
* ``one_sided_share`` - share of its events that are its one-sided violence
  against civilians (type 3, the group as side A);
* ``civilian_deaths_per_event`` - civilian deaths in that one-sided violence, per
  event of the group;
* ``non_state_share`` - share of its events that are clashes with other non-state
  groups (type 2);
* ``allied_share`` - share of its events fought on the same side as a state;
* ``principal_foe_share`` - share of its events fought against a *principal foe*
  of the state: a group with >= ``PRINCIPAL_FOE_MIN_EVENTS`` events against a state
  making up >= ``PRINCIPAL_FOE_SHARE`` of its events (judged when the event arrives);
* ``rent_share`` / ``plunder_share`` - share of the events with a disclosed
  narrative that match :data:`~analyzers.spoiler_risk._events.RENT_KEYWORDS` /
  :data:`~analyzers.spoiler_risk._events.PLUNDER_KEYWORDS`;
* ``named_pro_state`` - 1 when the name carries a :data:`PRO_STATE_MARKERS` marker;
* ``areas`` - geographic spread: distinct country x admin1. Reported, not scored:
  in event data, spread follows a group's size more than its relation to authority.

Strengths are indicator / threshold, capped at 1 (a value at the threshold is full
evidence): hostility H (``anti_state_share`` / ``HOSTILITY_SHARE``), civilian
targeting C (the larger of ``one_sided_share`` / ``ONE_SIDED_SHARE`` and
``civilian_deaths_per_event`` / ``CIVILIANS_PER_EVENT``), plunder P
(``plunder_share`` / ``PLUNDER_SHARE``) and rent R (``rent_share`` / ``RENT_SHARE``),
each 0 below ``KEYWORD_MIN_EVENTS`` matching narratives (headlines name attackers
and victims alike, so one match is noise),
alignment A (the largest of ``allied_share`` / ``ALLIED_SHARE``, ``named_pro_state``,
and ``principal_foe_share`` / ``COBELLIGERENCE_SHARE`` when ``anti_state_share`` <=
``COBELLIGERENCE_MAX_ANTI_STATE``).

Scores, after the seed paper's typology:

* predatory = (H + max(C, P)) / 2 - hostile to authority structures *and* preying
  on the population (violence against civilians, looting and plundering);
* parasitic = (1 - H) x max(R, ``TURF_WEIGHT`` x non_state_share) - extracting
  rents without seeking to replace the state; clashes with other non-state groups
  ("protection competition") count at half weight when no rent signal is seen;
* symbiotic = (1 - H) x A - aligned with state actors, embedded in authority.

The call is the top score when it reaches ``MIN_CALL_SCORE`` (ties in the order
predatory, symbiotic, parasitic: the costlier mistake is to under-call a predator),
else "undetermined". Confidence = min(1, events / ``CONFIDENT_EVENTS``) x (score of
the call - best other score), in ``CONFIDENCE_LEVELS`` (0 for "undetermined"). A
reported call or level stands until the evidence moves ``HYSTERESIS`` past it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "ALLIED_SHARE",
    "CIVILIANS_PER_EVENT",
    "COBELLIGERENCE_MAX_ANTI_STATE",
    "COBELLIGERENCE_SHARE",
    "CONFIDENCE_LEVELS",
    "CONFIDENT_EVENTS",
    "HOSTILITY_SHARE",
    "HYSTERESIS",
    "KEYWORD_MIN_EVENTS",
    "MIN_CALL_SCORE",
    "MIN_EVENTS",
    "ONE_SIDED_SHARE",
    "PLUNDER_SHARE",
    "PRINCIPAL_FOE_MIN_EVENTS",
    "PRINCIPAL_FOE_SHARE",
    "PRO_STATE_MARKERS",
    "RENT_SHARE",
    "TURF_WEIGHT",
    "TYPES",
    "UNDETERMINED",
    "Call",
    "call_of",
    "indicators_of",
    "is_principal_foe",
]

#: A group is called only from this many events on.
MIN_EVENTS = 10
HOSTILITY_SHARE = 0.25
ONE_SIDED_SHARE = 0.05
CIVILIANS_PER_EVENT = 0.25
PLUNDER_SHARE = 0.02
RENT_SHARE = 0.05
#: Keyword evidence counts only from this many matching narratives on.
KEYWORD_MIN_EVENTS = 3
TURF_WEIGHT = 0.5
ALLIED_SHARE = 0.1
COBELLIGERENCE_SHARE = 0.5
COBELLIGERENCE_MAX_ANTI_STATE = 0.05
PRINCIPAL_FOE_MIN_EVENTS = 10
PRINCIPAL_FOE_SHARE = 0.75
MIN_CALL_SCORE = 0.3
CONFIDENT_EVENTS = 50
#: Lower bounds of confidence for each level, highest first.
CONFIDENCE_LEVELS: tuple[tuple[float, str], ...] = ((0.6, "high"), (0.3, "medium"), (0.0, "low"))
#: Name markers of pro-government militias (lower case, matched inside the name).
PRO_STATE_MARKERS: tuple[str, ...] = (
    "pro-government",
    "pro-regime",
    "national defence forces",
    "national defense forces",
    "ndf (",
    "popular mobilization",
    "sahwa",
    "awakening council",
)
#: How far a score or a confidence must move past a bound to change a reported call or level,
#: so that a group hovering at a bound does not flip back and forth in broadcast findings.
HYSTERESIS = 0.05
#: Types in tie-break order.
TYPES = ("predatory", "symbiotic", "parasitic")
UNDETERMINED = "undetermined"


@dataclass(frozen=True)
class Call:
    call: str
    scores: dict[str, float]
    confidence: float
    confidence_level: str
    strengths: dict[str, float]
    indicators: dict[str, float | int]


def is_principal_foe(group: dict[str, Any]) -> bool:
    """Whether a group is mostly at war with the state (see the module docstring)."""
    anti = int(group["anti_state"])
    return anti >= PRINCIPAL_FOE_MIN_EVENTS and anti >= PRINCIPAL_FOE_SHARE * group["events"]


def _cap(value: float, threshold: float) -> float:
    return min(1.0, value / threshold)


def indicators_of(group: dict[str, Any]) -> dict[str, float | int]:
    n = max(1, int(group["events"]))
    narratives = int(group["narratives"])
    name = str(group["name"]).lower()
    return {
        "events": int(group["events"]),
        "anti_state_share": round(group["anti_state"] / n, 4),
        "one_sided_share": round(group["one_sided"] / n, 4),
        "civilian_deaths_per_event": round(group["civilian_deaths"] / n, 4),
        "non_state_share": round(group["non_state"] / n, 4),
        "allied_share": round(group["allied_with_state"] / n, 4),
        "principal_foe_share": round(group["vs_principal_foe"] / n, 4),
        "narratives": narratives,
        "rent_share": round(group["rent_events"] / narratives, 4) if narratives else 0.0,
        "plunder_share": round(group["plunder_events"] / narratives, 4) if narratives else 0.0,
        "named_pro_state": int(any(m in name for m in PRO_STATE_MARKERS)),
        "areas": len(group["areas"]),
    }


def _settle(scores: dict[str, float], incumbent: str | None) -> str:
    """The call, kept as ``incumbent`` unless the evidence moved by ``HYSTERESIS``."""
    top = min(TYPES, key=lambda t: (-scores[t], TYPES.index(t)))
    candidate = top if scores[top] >= MIN_CALL_SCORE else UNDETERMINED
    if incumbent is None or candidate == incumbent:
        return candidate
    if incumbent == UNDETERMINED:
        return candidate if scores[top] >= MIN_CALL_SCORE + HYSTERESIS else incumbent
    if candidate == UNDETERMINED:
        return candidate if scores[top] < MIN_CALL_SCORE - HYSTERESIS else incumbent
    return candidate if scores[top] >= scores[incumbent] + HYSTERESIS else incumbent


def _band(confidence: float) -> str:
    return next(name for bound, name in CONFIDENCE_LEVELS if confidence >= bound)


def _level(confidence: float, incumbent: str | None) -> str:
    """The confidence level, kept as ``incumbent`` unless ``HYSTERESIS`` past a bound."""
    level = _band(confidence)
    if incumbent is None or level == incumbent:
        return level
    order = [name for _, name in reversed(CONFIDENCE_LEVELS)]
    if order.index(level) > order.index(incumbent):
        level = _band(confidence - HYSTERESIS)
        return level if order.index(level) > order.index(incumbent) else incumbent
    level = _band(confidence + HYSTERESIS)
    return level if order.index(level) < order.index(incumbent) else incumbent


def call_of(group: dict[str, Any], previous: tuple[str, str] | None = None) -> Call:
    """The typology call of a group's counters (pure; see the module docstring).

    ``previous`` is the call and confidence level last reported for the group, if
    any: they stand until the evidence moves past them by ``HYSTERESIS``.
    """
    ind = indicators_of(group)
    hostility = _cap(float(ind["anti_state_share"]), HOSTILITY_SHARE)
    civilians = max(
        _cap(float(ind["one_sided_share"]), ONE_SIDED_SHARE),
        _cap(float(ind["civilian_deaths_per_event"]), CIVILIANS_PER_EVENT),
    )
    plunder = (
        _cap(float(ind["plunder_share"]), PLUNDER_SHARE)
        if group["plunder_events"] >= KEYWORD_MIN_EVENTS
        else 0.0
    )
    rent = (
        _cap(float(ind["rent_share"]), RENT_SHARE)
        if group["rent_events"] >= KEYWORD_MIN_EVENTS
        else 0.0
    )
    cobelligerence = (
        _cap(float(ind["principal_foe_share"]), COBELLIGERENCE_SHARE)
        if ind["anti_state_share"] <= COBELLIGERENCE_MAX_ANTI_STATE
        else 0.0
    )
    alignment = max(
        _cap(float(ind["allied_share"]), ALLIED_SHARE),
        float(ind["named_pro_state"]),
        cobelligerence,
    )
    scores = {
        "predatory": round((hostility + max(civilians, plunder)) / 2, 4),
        "symbiotic": round((1 - hostility) * alignment, 4),
        "parasitic": round(
            (1 - hostility) * max(rent, TURF_WEIGHT * float(ind["non_state_share"])), 4
        ),
    }
    call = _settle(scores, previous[0] if previous else None)
    if call == UNDETERMINED:
        confidence = 0.0
    else:
        rival = max(v for t, v in scores.items() if t != call)
        margin = max(0.0, scores[call] - rival)
        confidence = round(min(1.0, ind["events"] / CONFIDENT_EVENTS) * margin, 4)
    level = _level(confidence, previous[1] if previous else None)
    strengths = {
        "hostility": round(hostility, 4),
        "civilian_targeting": round(civilians, 4),
        "plunder": round(plunder, 4),
        "rent": round(rent, 4),
        "alignment": round(alignment, 4),
    }
    return Call(call, scores, confidence, level, strengths, ind)
