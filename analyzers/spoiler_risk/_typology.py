"""The typology call of one group in one period, from its order-free tallies.

**Evidence** (each item counted from the tallies of the group and period; an *event*
is one ``conflict-event/1`` record, a *narrative* one distinct account, so that a
round-up headline UCDP attaches to many events counts once):

* ``hostility`` - events of state-based violence (``type_of_violence`` 1) in which the
  group is on side B, opposite a government on side A (UCDP: side A of a state-based
  conflict is always a government), counted per government actor id, conflict id and
  dyad id. The first half of the seed paper's predatory type: "hostile to existing
  authority structures".
* ``one_sided`` - events of one-sided violence (type 3) with the group as side A: "the
  use of armed force by the government of a state or by a formally organised group
  against civilians which results in at least 25 deaths in a year" (UCDP GED codebook).
* ``plunder`` - distinct narratives of the group's events that use a term of the
  ``plunder`` lexicon (looting, plunder, theft, cattle raiding...). With ``one_sided``,
  the second half of the predatory type: "primitive capital accumulation (looting and
  plundering)", of which violence against civilians is the form UCDP codes.
* ``rent`` - distinct narratives with a term of the ``rent`` lexicon (taxation, levies,
  tolls, extortion, kidnapping for ransom, smuggling): living off the conflict economy,
  the parasitic type. The ``rent_site`` terms (checkpoints, mining, gold, diamonds, oil
  fields, cattle, transhumance) say where the rent was taken; alone they are context
  (``rent_site_narratives``), not evidence.
* ``alongside`` - events in which the group is on the same side as a government (a
  coalition side with a ``"Government of ..."`` member).
* ``state_backing`` - distinct narratives with a term of the ``state_backing`` lexicon
  (pro-government, government-backed, auxiliaries...) that also name the group, counted
  only from events in which the group is *not* opposite a government. UCDP folds
  pro-government militias into the government side, so such words in an account that
  does not name the group mostly describe the government's side, not the group.
  With ``alongside``: alignment with or protection by the state, the symbiotic type.

**Calls**, per group and calendar year, in this order:

1. a group whose organisation is *communal or identity* (:func:`organisation_of`) is
   not typed: the typology is one of organised crime and armed groups, and the seed
   paper warns that the label "must be applied with care";
2. ``predatory`` - hostility >= 1 event AND predation (one-sided >= 1 event, or plunder
   >= ``MIN_NARRATIVES`` narratives);
3. ``symbiotic`` - alignment (alongside >= 1 event, or state backing >=
   ``MIN_NARRATIVES`` narratives) AND no hostility in the period;
4. ``parasitic`` - rent >= ``MIN_NARRATIVES`` narratives;
5. otherwise "insufficient evidence": no call, never a default type.

UCDP's coded events count from one (UCDP codes an event only from its sources and
inside a conflict that crossed 25 deaths in a year); words in a narrative count from
``MIN_NARRATIVES`` distinct accounts, because a narrative names attackers and victims
alike and one account may be about the other side.

**Confidence** grows with the amount of evidence, never with a margin between scores:
the number of independent evidence items behind the weakest condition of the call
(predatory: the smaller of hostility events and predation items; symbiotic: alignment
items; parasitic: rent narratives) against ``CONFIDENCE_LEVELS``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import pycountry

from clearinghouse.analyzers.spoiler_risk._events import government_count
from clearinghouse.analyzers.spoiler_risk._lexicon import normalise

__all__ = [
    "BANDS",
    "COMMUNAL",
    "COMMUNAL_MARKERS",
    "CONFIDENCE_LEVELS",
    "FORMAL",
    "FORMAL_NAME_MARKERS",
    "INSUFFICIENT",
    "MIN_NARRATIVES",
    "NOT_TYPED",
    "TYPES",
    "UNDETERMINED_ORGANISATION",
    "Assessment",
    "assess",
    "band",
    "evidence_of",
    "new_tally",
    "organisation_of",
]

TYPES = ("predatory", "symbiotic", "parasitic")
INSUFFICIENT = "insufficient evidence"
NOT_TYPED = "not typed (communal or identity group)"
#: Narrative evidence counts from this many distinct accounts (see the module docstring).
MIN_NARRATIVES = 2
#: (lower bound of independent evidence items, level), highest first. One or two items
#: can be one incident or one mis-attributed account; from 3 a pattern is repeated; from
#: 10 it holds across many separate reports. Not tuned to any country's data.
CONFIDENCE_LEVELS: tuple[tuple[int, str], ...] = ((10, "high"), (3, "medium"), (1, "low"))

#: Lower bounds of the bands in which a finding states its evidence counts: findings
#: change when a band does, not with every event (exact counts are in the summary).
BANDS: tuple[int, ...] = (0, 1, 3, 10, 30, 100)

FORMAL = "formally organised"
COMMUNAL = "communal or identity group"
UNDETERMINED_ORGANISATION = "not determined"
#: Words (normalised) in a name that suggest an informally organised group along
#: communal or identity lines, or supporters of a party (UCDP non-state conflict
#: organisation levels 3 and 2). Weak evidence: overridden by any event UCDP codes
#: only for formally organised actors, and by :data:`FORMAL_NAME_MARKERS`.
COMMUNAL_MARKERS: frozenset[str] = frozenset(
    {
        "clan",
        "clans",
        "tribe",
        "tribes",
        "tribal",
        "tribesmen",
        "community",
        "communities",
        "communal",
        "ethnic",
        "kinship",
        "lineage",
        "supporters",
        "partisans",
        "ethnie",
        "communaute",
        "communautes",
        "qabila",
        "qabail",
        "ashira",
        "ashair",
        "ashaer",
        "ashiret",
    }
)
#: Words (normalised) naming a formal organisational form: army, brigade, front...
FORMAL_NAME_MARKERS: frozenset[str] = frozenset(
    {
        "army",
        "jaysh",
        "jaish",
        "brigade",
        "brigades",
        "liwa",
        "division",
        "front",
        "jabhat",
        "jabha",
        "forces",
        "force",
        "movement",
        "harakat",
        "haraka",
        "corps",
        "faylaq",
        "battalion",
        "katiba",
        "regiment",
        "legion",
        "party",
        "organisation",
        "organization",
    }
)


def new_tally(group: str, period: str) -> dict[str, Any]:
    """The empty tallies of ``group`` in ``period`` (all counts, sets as sorted lists)."""
    return {
        "group": group,
        "period": period,
        "ucdp_ids": [],
        "countries": [],
        "events": 0,
        "by_type": {"1": 0, "2": 0, "3": 0},
        "hostility": 0,
        "hostile_to": {},  # "gov id|gov name" -> events
        "hostile_conflicts": {},  # conflict id -> events
        "hostile_dyads": {},  # dyad id -> events
        "one_sided": 0,
        "one_sided_deaths": 0,
        "alongside": 0,
        "alongside_with": {},  # "gov id|gov name" -> events
        "with_narrative": 0,  # events with a narrative
        "lexicon": {},  # "category/evidence" -> digests of matching narratives
        "terms": {},  # term as written -> digests of matching narratives
    }


#: Arabic name particles that are also ISO 639-3 language names ("Abu").
_NAME_PARTICLES = frozenset({"abu", "al", "el", "bin", "ibn", "bani", "banu", "ould", "ag"})


@lru_cache(maxsize=1)
def identity_names() -> frozenset[str]:
    """Names of languages in ISO 639-3 (``pycountry``), normalised, and the part before a
    comma ("Dogon, Toro So" -> "dogon"): most ethnic and communal groups that UCDP names
    by their community ("Dinka", "Nuer", "Lendu", "Hema") share their language's name."""
    names: set[str] = set()
    for language in pycountry.languages:
        for attribute in ("name", "common_name"):
            value = getattr(language, attribute, None)
            if isinstance(value, str):
                names.add(normalise(value))
                names.add(normalise(value.split(",", 1)[0]))
    return frozenset(n for n in names if n and n not in _NAME_PARTICLES)


@lru_cache(maxsize=4096)
def _communal_words(name: str) -> tuple[str, ...]:
    """The words of ``name`` that suggest a communal or identity group; none when the
    name also has a word of :data:`FORMAL_NAME_MARKERS`."""
    normalised = normalise(name)
    words = set(normalised.split())
    if words & FORMAL_NAME_MARKERS:
        return ()
    found = set(words & COMMUNAL_MARKERS)
    if len(words) <= 3:
        found |= {w for w in words | {normalised} if w in identity_names()}
    return tuple(sorted(found))


def organisation_of(name: str, formal_events: int) -> tuple[str, str]:
    """(organisation, reason): formally organised, communal or identity group, or not
    determined. ``formal_events``: the group's events, in any period, that UCDP codes
    only for formally organised actors (state-based conflict, one-sided violence)."""
    if formal_events > 0:
        # No count here: the reason is part of every year's finding, and those are
        # derived again only when the organisation itself changes.
        return FORMAL, (
            "seen in state-based conflict or committing one-sided violence, which UCDP codes "
            "only for formally organised actors"
        )
    communal = _communal_words(name)
    if communal:
        return COMMUNAL, (
            f"the name has {', '.join(repr(w) for w in communal)}, a communal word or the "
            "name of a community's language (weak evidence: no event that UCDP codes only "
            "for formally organised actors)"
        )
    return UNDETERMINED_ORGANISATION, "only non-state conflict seen, name not conclusive"


@dataclass(frozen=True)
class Assessment:
    call: str  # a type, INSUFFICIENT or NOT_TYPED
    confidence: str | None  # level, for a type
    support: int  # independent evidence items behind the weakest condition (0: no call)
    evidence: dict[str, int]
    rule: str  # the rule that made (or refused) the call, in words


def _distinct(tally: dict[str, Any], category: str) -> int:
    digests: set[str] = set()
    for key, values in tally["lexicon"].items():
        if key.split("/", 1)[0] == category:
            digests.update(values)
    return len(digests)


def band(count: int) -> str:
    """``count`` as its band: "0", "1-2", "3-9", "10-29", "30-99", "100+"."""
    lower = max(b for b in BANDS if count >= b)
    at = BANDS.index(lower)
    if at == len(BANDS) - 1:
        return f"{lower}+"
    upper = BANDS[at + 1] - 1
    return str(lower) if lower == upper else f"{lower}-{upper}"


def _level(support: int) -> str:
    return next(name for bound, name in CONFIDENCE_LEVELS if support >= bound)


def evidence_of(tally: dict[str, Any]) -> dict[str, int]:
    """The counts behind a call (see the module docstring)."""
    return {
        "events": int(tally["events"]),
        "hostility_events": int(tally["hostility"]),
        "governments_fought": government_count(tally["hostile_to"]),
        "hostile_conflicts": len(tally["hostile_conflicts"]),
        "hostile_dyads": len(tally["hostile_dyads"]),
        "one_sided_events": int(tally["one_sided"]),
        "one_sided_deaths": int(tally["one_sided_deaths"]),
        "events_with_narrative": int(tally["with_narrative"]),
        "plunder_narratives": _distinct(tally, "plunder"),
        "rent_narratives": _distinct(tally, "rent"),
        "rent_site_narratives": _distinct(tally, "rent_site"),
        "alongside_government_events": int(tally["alongside"]),
        "state_backing_narratives": _distinct(tally, "state_backing"),
    }


def assess(tally: dict[str, Any], organisation: str) -> Assessment:
    """The call for one group and period (see the module docstring for the rules)."""
    e = evidence_of(tally)
    hostile = e["hostility_events"]
    plunder = e["plunder_narratives"] if e["plunder_narratives"] >= MIN_NARRATIVES else 0
    predation = e["one_sided_events"] + plunder
    backing = (
        e["state_backing_narratives"] if e["state_backing_narratives"] >= MIN_NARRATIVES else 0
    )
    alignment = e["alongside_government_events"] + backing
    rent = e["rent_narratives"] if e["rent_narratives"] >= MIN_NARRATIVES else 0

    def typed(call: str, support: int, rule: str) -> Assessment:
        return Assessment(call, _level(support), support, e, rule)

    if organisation == COMMUNAL:
        return Assessment(NOT_TYPED, None, 0, e, "communal or identity group: not typed")
    if hostile and predation:
        return typed(
            "predatory",
            min(hostile, predation),
            "hostile to a government (state-based conflict) and preying on civilians or "
            "property (one-sided violence, plunder)",
        )
    if alignment and not hostile:
        return typed("symbiotic", alignment, "aligned with or backed by the state, never hostile")
    if rent:
        return typed("parasitic", rent, "living off the conflict economy (rent)")
    missing = []
    if hostile:
        missing.append("hostile to a government but no predation")
    if alignment and hostile:
        missing.append("aligned with a government and hostile to one")
    why = "; ".join(missing) or "no evidence for any type"
    return Assessment(INSUFFICIENT, None, 0, e, why)
