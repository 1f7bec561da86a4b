"""Who fought whom, and what the account says: one ``conflict-event/1`` view, read for DPA.

Actors are read from ``side_a`` / ``side_b`` as the view discloses them. A UCDP
side that is a coalition ("Ahrar al-Sham, HTS, Southern Front") is split at
``", "`` into its member groups, and the event counts for each: the members
fought it together. The side's UCDP id (``side_a_id``) belongs to the coalition,
so a group carries a UCDP id only from events where it stood alone.

Who is not a group: state actors (names starting ``"Government of"``) and
``"Civilians"``. When a policy pseudonymises the names instead (``side_a_ref``),
the pseudonym stands for the whole side and UCDP's coding conventions say who is
who: in state-based conflict (type 1) side A is a government, and in one-sided
violence (type 3) side B is the civilians.

Narratives are matched word by word against the keyword stems below: a word
matches when it starts with a stem (``"smuggl"`` matches "smuggling" and
"smugglers") and is not one of :data:`KEYWORD_EXCEPTIONS`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from analyzers.base import View

__all__ = [
    "KEYWORD_EXCEPTIONS",
    "PLUNDER_KEYWORDS",
    "RENT_KEYWORDS",
    "Event",
    "Side",
    "event_of",
    "keyword_matches",
]

STATE_PREFIX = "Government of "
CIVILIANS = "Civilians"
COALITION_SEPARATOR = ", "

#: Rent extraction from the state or the economy (checkpoints, levies, protection,
#: ransom, smuggling): the parasitic signal.
RENT_KEYWORDS: tuple[str, ...] = (
    "checkpoint",
    "extort",
    "smuggl",
    "tax",
    "levy",
    "levies",
    "royalt",
    "ransom",
    "kidnap",
    "abduct",
    "brib",
    "racket",
)
#: "Primitive capital accumulation (looting and plundering)": the predatory signal.
PLUNDER_KEYWORDS: tuple[str, ...] = (
    "loot",
    "plunder",
    "pillag",
    "ransack",
    "steal",
    "stole",
    "robb",
    "confiscat",
)
#: Words that start with a stem but mean something else.
KEYWORD_EXCEPTIONS: frozenset[str] = frozenset({"taxi", "taxis"})

_WORD = re.compile(r"[a-z]+")


@dataclass(frozen=True)
class Side:
    """One side of an event: its member groups, and whether a state stands on it."""

    groups: tuple[str, ...]
    state: bool
    ucdp_id: int | None  # the side's UCDP id, when the side is one group


@dataclass(frozen=True)
class Event:
    type_of_violence: int
    a: Side
    b: Side
    country: str | None
    admin1: str | None
    month: str | None
    civilian_deaths: int
    narrative: str | None


def _side(view: View, which: str, type_of_violence: int) -> Side | None:
    name = view.get(f"side_{which}")
    raw_id = view.get(f"side_{which}_id")
    ucdp_id = raw_id if isinstance(raw_id, int) and not isinstance(raw_id, bool) else None
    if isinstance(name, str) and name:
        members = [m.strip() for m in name.split(COALITION_SEPARATOR) if m.strip()]
        state = any(m.startswith(STATE_PREFIX) for m in members)
        groups = tuple(
            dict.fromkeys(m for m in members if not m.startswith(STATE_PREFIX) and m != CIVILIANS)
        )
        return Side(groups, state, ucdp_id if len(members) == 1 and groups else None)
    ref = view.get(f"side_{which}_ref")
    if isinstance(ref, str) and ref:
        # (UCDP conventions) type 1: side A is a government; type 3: side B is civilians.
        if type_of_violence == 1 and which == "a":
            return Side((), True, None)
        if type_of_violence == 3 and which == "b":
            return Side((), False, None)
        return Side((f"ref:{ref}",), False, ucdp_id)
    return None


def _month(view: View) -> str | None:
    for value in (view.get("date_start"), view.get("month")):
        if isinstance(value, str) and re.match(r"^\d{4}-\d{2}", value):
            return value[:7]
    return None


def event_of(view: View) -> Event | None:
    """The event a view discloses, or ``None`` without a violence type or both sides."""
    tov = view.get("type_of_violence")
    if isinstance(tov, bool) or tov not in (1, 2, 3):
        return None
    a, b = _side(view, "a", tov), _side(view, "b", tov)
    if a is None or b is None:
        return None
    deaths = view.get("deaths")
    civilians = deaths.get("civilians") if isinstance(deaths, dict) else None
    country, admin1, narrative = view.get("country"), view.get("admin1"), view.get("narrative")
    return Event(
        type_of_violence=tov,
        a=a,
        b=b,
        country=country if isinstance(country, str) else None,
        admin1=admin1 if isinstance(admin1, str) else None,
        month=_month(view),
        civilian_deaths=civilians
        if isinstance(civilians, int) and not isinstance(civilians, bool) and civilians > 0
        else 0,
        narrative=narrative if isinstance(narrative, str) else None,
    )


def keyword_matches(text: str, stems: tuple[str, ...]) -> dict[str, int]:
    """How many words of ``text`` start with each stem (stems with no match left out)."""
    counts: dict[str, int] = {}
    for word in _WORD.findall(text.lower()):
        if word in KEYWORD_EXCEPTIONS:
            continue
        for stem in stems:
            if word.startswith(stem):
                counts[stem] = counts.get(stem, 0) + 1
                break
    return counts
