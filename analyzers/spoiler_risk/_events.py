"""Who fought whom, and what the account says: one ``conflict-event/1`` view, read for DPA.

UCDP's coding conventions decide who is a state and who is a group
(UCDP GED codebook 19.1 / 23.1, "type_of_violence", "side_a", "side_b"):

* in **state-based conflict** (``type_of_violence`` 1) side A is always a government
  ("a contested incompatibility ... between two parties, of which at least one is the
  government of a state"; side A is the government side), and side B is the opposition
  (or, in interstate conflict, another government);
* in **non-state conflict** (type 2) neither side is a government;
* in **one-sided violence** (type 3) side A is "the government of a state or a formally
  organised group" and side B is the civilians.

A side is therefore a government when it is side A of a type-1 event, when its name
starts ``"Government of"`` (every UCDP government actor is named so), or, if a policy
ever discloses them, when it carries a Gleditsch-Ward number (``side_a_gwno`` /
``side_b_gwno``, which GED fills only for states). The government's UCDP actor id
(``side_a_id``), the conflict id and the dyad id are kept with each event, so that
hostility is counted per government, conflict and dyad by id.

A side that is a coalition (``"Ahrar al-Sham, HTS, Southern Front"``) is split at
``", "`` into its members, and the event counts for each: they fought it together.
A member that is a government makes the others *fight alongside* it. The side's UCDP
id belongs to the coalition, so a group carries a UCDP id only from events where it
stood alone. ``"Civilians"`` is never a group.

When a policy pseudonymises the names (``side_a_ref``), the conventions above still
say who is who: in a type-1 event side A is the government, in a type-3 event side B
the civilians; the other pseudonyms stand for groups (``ref:<pseudonym>``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from clearinghouse.analyzers.base import View

__all__ = [
    "CIVILIANS",
    "STATE_PREFIX",
    "Event",
    "Side",
    "event_of",
    "government_count",
    "government_labels",
]

STATE_PREFIX = "Government of "
CIVILIANS = "Civilians"
COALITION_SEPARATOR = ", "


@dataclass(frozen=True)
class Side:
    """One side of an event: its member groups, and the government(s) standing on it."""

    groups: tuple[str, ...]
    #: "id|name" of each government on this side (id "" when withheld)
    governments: tuple[str, ...]
    ucdp_id: int | None  # the side's UCDP id, when the side is one group alone


@dataclass(frozen=True)
class Event:
    type_of_violence: int
    a: Side
    b: Side
    conflict_id: int | None
    dyad_id: int | None
    country: str | None
    period: str | None  # calendar year of date_start (or the year claim)
    civilian_deaths: int  # deaths.civilians, else deaths.best for one-sided violence
    narrative: str | None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _government(raw_id: int | None, name: str) -> str:
    return f"{'' if raw_id is None else raw_id}|{name}"


def government_labels(keys: Iterable[str]) -> list[str]:
    """One label per government named in ``keys`` ("id|name"), in name order.

    A government that stood alone on its side carries its UCDP actor id; in a coalition
    the side's id is the coalition's, so the same government comes without one. Both
    are the same actor: it is listed once, with every id it was seen under.
    """
    ids = _ids_by_name(keys)
    return [
        f"{name} (UCDP actor {', '.join(sorted(ids[name], key=int))})" if ids[name] else name
        for name in sorted(ids)
    ]


def government_count(keys: Iterable[str]) -> int:
    """How many governments ``keys`` ("id|name") name: one per name (see
    :func:`government_labels`)."""
    return len(_ids_by_name(keys))


def _ids_by_name(keys: Iterable[str]) -> dict[str, set[str]]:
    ids: dict[str, set[str]] = {}
    for key in keys:
        ucdp_id, name = key.split("|", 1)
        ids.setdefault(name, set()).update([ucdp_id] if ucdp_id else [])
    return ids


def _side(view: View, which: str, type_of_violence: int) -> Side | None:
    name = view.get(f"side_{which}")
    ucdp_id = _int(view.get(f"side_{which}_id"))
    gwno = view.get(f"side_{which}_gwno")
    coded_state = (type_of_violence == 1 and which == "a") or (
        isinstance(gwno, list) and len(gwno) > 0
    )
    if isinstance(name, str) and name:
        members = [m.strip() for m in name.split(COALITION_SEPARATOR) if m.strip()]
        if not members:
            return None
        if coded_state and not any(m.startswith(STATE_PREFIX) for m in members):
            # UCDP says this side is a government, whatever its name.
            return Side((), (_government(ucdp_id, name),), None)
        states = [m for m in members if m.startswith(STATE_PREFIX)]
        groups = tuple(dict.fromkeys(m for m in members if m not in states and m != CIVILIANS))
        single = ucdp_id if len(members) == 1 else None
        governments = tuple(_government(single, s) for s in states)
        return Side(groups, governments, single if groups else None)
    ref = view.get(f"side_{which}_ref")
    if isinstance(ref, str) and ref:
        if coded_state:
            return Side((), (_government(ucdp_id, f"ref:{ref}"),), None)
        if type_of_violence == 3 and which == "b":
            return Side((), (), None)
        return Side((f"ref:{ref}",), (), ucdp_id)
    return None


def _period(view: View) -> str | None:
    value = view.get("date_start")
    if isinstance(value, str) and re.match(r"^\d{4}-\d{2}", value):
        return value[:4]
    year = _int(view.get("year"))
    return str(year) if year is not None else None


def event_of(view: View) -> Event | None:
    """The event a view discloses, or ``None`` without a violence type or both sides."""
    tov = _int(view.get("type_of_violence"))
    if tov not in (1, 2, 3):
        return None
    a, b = _side(view, "a", tov), _side(view, "b", tov)
    if a is None or b is None:
        return None
    deaths = view.get("deaths")
    civilians = best = None
    if isinstance(deaths, dict):
        civilians, best = _int(deaths.get("civilians")), _int(deaths.get("best"))
    killed = civilians if civilians is not None else (best if tov == 3 else None)
    country, narrative = view.get("country"), view.get("narrative")
    return Event(
        type_of_violence=tov,
        a=a,
        b=b,
        conflict_id=_int(view.get("conflict_id")),
        dyad_id=_int(view.get("dyad_id")),
        country=country if isinstance(country, str) and country else None,
        period=_period(view),
        civilian_deaths=killed if killed is not None and killed > 0 else 0,
        narrative=narrative if isinstance(narrative, str) and narrative.strip() else None,
    )
