"""Cross-border corridors from the routes of single seizures.

A seizure's route is ``route_origin``, then ``route_transit`` in order, then
``route_destination``, each a country name or code mapped to the one place scheme
(:mod:`._places`: "Syria" and "SYR" are one place). Each pair of consecutive,
different countries on it is a *corridor leg* ("SYR>JOR"), tallied in state key
``corridor/<from>><to>``: seizures, milligrams (integers, exact in any order),
unweighed seizures, first and last period. Annual totals carry no route.

The seed paper: organised crime "operates across borders", and the borderlands
"with their licit and illicit ties to extra-territorial sources of support for
conflict parties" matter most; a peace operation confined to one country sees
only its own end of a corridor. A corridor is a finding (scope
``corridor:<from>><to>``) while it carries >= ``CORRIDOR_MIN_SEIZURES`` seizures or
>= ``CORRIDOR_MIN_KG`` kg.
"""

from __future__ import annotations

import itertools
from typing import Any

from clearinghouse.analyzers.base import Finding, View
from clearinghouse.analyzers.state import State
from clearinghouse.analyzers.trafficking_network._places import Place, country_code
from clearinghouse.analyzers.trafficking_network._views import grams, number, text
from clearinghouse.analyzers.trafficking_network.thresholds import (
    CORRIDOR_MIN_KG,
    CORRIDOR_MIN_SEIZURES,
    UNIT_KILOGRAMS,
)

__all__ = [
    "CORRIDOR_PREFIX",
    "corridor_findings",
    "kilograms_of",
    "legs_of",
    "record_corridors",
    "route_of",
]

CORRIDOR_PREFIX = "corridor/"


def route_of(view: View) -> list[Place]:
    """The countries of a single seizure's route, in order, consecutive repeats merged."""
    if view.get("kind") == "annual-total":
        return []
    transit = view.get("route_transit")
    stops = [
        view.get("route_origin"),
        *(transit if isinstance(transit, list) else []),
        view.get("route_destination"),
    ]
    countries: list[Place] = []
    for stop in stops:
        name = text(stop)
        if name is None:
            continue
        country = country_code(name)
        if not countries or countries[-1].key != country.key:
            countries.append(country)
    return countries


def legs_of(view: View) -> list[tuple[str, str]]:
    """The corridor legs of a seizure's route, in route order, each once."""
    legs: list[tuple[str, str]] = []
    for leg in itertools.pairwise(place.key for place in route_of(view)):
        if leg not in legs:
            legs.append(leg)
    return legs


def kilograms_of(view: View) -> float | None:
    """A single seizure's weight in kg from ``quantity`` and ``unit`` (else ``kilograms``);
    ``None`` for units that are not a weight or when the view withholds them."""
    quantity = number(view.get("quantity"))
    unit = text(view.get("unit"))
    if quantity is not None and unit is not None:
        factor = UNIT_KILOGRAMS.get(unit.lower())
        return None if factor is None else quantity * factor
    return number(view.get("kilograms"))


def record_corridors(state: State, view: View, period: str | None) -> list[str]:
    """Tally the view's route legs; the keys of the corridors it touched."""
    legs = legs_of(view)
    kilograms = kilograms_of(view)
    keys = []
    for origin, destination in legs:
        key = f"{CORRIDOR_PREFIX}{origin}>{destination}"
        entry: dict[str, Any] = state.get(key) or {
            "seizures": 0,
            "milligrams": 0,
            "unweighed": 0,
            "first": None,
            "last": None,
        }
        entry["seizures"] += 1
        if kilograms is None:
            entry["unweighed"] += 1
        else:
            entry["milligrams"] += grams(kilograms)
        if period is not None:
            entry["first"] = min(entry["first"] or period, period)
            entry["last"] = max(entry["last"] or period, period)
        state[key] = entry
        keys.append(key)
    return keys


def corridor_findings(key: str, entry: dict[str, Any]) -> list[Finding]:
    """The corridor finding of a leg's tallies (none under both thresholds)."""
    origin, _, destination = key.removeprefix(CORRIDOR_PREFIX).partition(">")
    kilograms, seizures = entry["milligrams"] / 1_000_000, entry["seizures"]
    if seizures < CORRIDOR_MIN_SEIZURES and kilograms < CORRIDOR_MIN_KG:
        return []
    explanation = (
        f"Cross-border corridor {origin} -> {destination}: {seizures} seizure(s) on routes "
        f"through this leg, {kilograms:,.1f} kg in all"
        + (f" ({entry['unweighed']} not weighed)" if entry["unweighed"] else "")
        + f", first {entry['first']}, last {entry['last']}; thresholds: >= "
        f"{CORRIDOR_MIN_SEIZURES} seizures or >= {CORRIDOR_MIN_KG:,.0f} kg."
    )
    level = "high" if kilograms >= 10 * CORRIDOR_MIN_KG else "medium"
    if kilograms < CORRIDOR_MIN_KG:
        level = "low"
    return [
        Finding(
            kind="corridor",
            subject=f"corridor:{origin}>{destination}",
            explanation=explanation,
            level=level,
            score=round(max(seizures / CORRIDOR_MIN_SEIZURES, kilograms / CORRIDOR_MIN_KG), 3),
            country=origin,
            area=f"{origin}>{destination}",
            indicators={
                "from": origin,
                "to": destination,
                "seizures": seizures,
                "kilograms": round(kilograms, 3),
                "unweighed": entry["unweighed"],
            },
        )
    ]
