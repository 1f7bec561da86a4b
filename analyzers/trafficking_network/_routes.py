"""Cross-border corridors from the routes of single seizures.

A seizure's route is ``route_origin``, then ``route_transit`` in order, then
``route_destination`` (each a country, ISO3 code preferred). Each pair of
consecutive, different countries on it is a *corridor leg* ("SYR>JOR"), counted
in state key ``corridor/<from>><to>`` with its seizures and kilograms. Annual
totals carry no route and add nothing here.

The seed paper: organised crime "operates across borders", and the borderlands
"with their licit and illicit ties to extra-territorial sources of support for
conflict parties" matter most; a peace operation confined to one country sees
only its own end of a corridor. A corridor is reported once it carries >=
``CORRIDOR_MIN_SEIZURES`` seizures or >= ``CORRIDOR_MIN_KG`` kg, and again each
time its cumulative weight passes the next power of ten.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

from analyzers.base import Finding, View
from analyzers.state import State
from analyzers.trafficking_network._views import number, text
from analyzers.trafficking_network.thresholds import (
    CORRIDOR_MIN_KG,
    CORRIDOR_MIN_SEIZURES,
    UNIT_KILOGRAMS,
)

__all__ = ["CORRIDOR_PREFIX", "kilograms_of", "legs_of", "record_corridors"]

CORRIDOR_PREFIX = "corridor/"


def legs_of(view: View) -> list[tuple[str, str]]:
    """The corridor legs of a seizure's route, in route order, each once."""
    if view.get("kind") == "annual-total":
        return []
    transit = view.get("route_transit")
    stops = [
        view.get("route_origin"),
        *(transit if isinstance(transit, list) else []),
        view.get("route_destination"),
    ]
    countries: list[str] = []
    for stop in stops:
        country = text(stop)
        if country is None:
            continue
        if len(country) == 3 and country.isalpha():
            country = country.upper()
        if not countries or countries[-1] != country:
            countries.append(country)
    legs: list[tuple[str, str]] = []
    for leg in itertools.pairwise(countries):
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


def _milestone(kilograms: float) -> float:
    """The largest power of ten <= ``kilograms`` from ``CORRIDOR_MIN_KG`` up, else 0."""
    if kilograms < CORRIDOR_MIN_KG:
        return 0.0
    return float(10 ** math.floor(math.log10(kilograms)))


def record_corridors(state: State, view: View, period: str | None) -> list[Finding]:
    """Count the view's route into its corridor legs; findings for legs that cross."""
    legs = legs_of(view)
    if not legs:
        return []
    kilograms = kilograms_of(view)
    findings = []
    for origin, destination in legs:
        key = f"{CORRIDOR_PREFIX}{origin}>{destination}"
        entry: dict[str, Any] = state.get(key) or {
            "seizures": 0,
            "kilograms": 0.0,
            "unweighed": 0,
            "first": None,
            "last": None,
            "reported": None,
        }
        entry["seizures"] += 1
        if kilograms is None:
            entry["unweighed"] += 1
        else:
            entry["kilograms"] = round(entry["kilograms"] + kilograms, 6)
        if period is not None:
            entry["first"] = min(entry["first"] or period, period)
            entry["last"] = max(entry["last"] or period, period)
        milestone = _milestone(entry["kilograms"])
        crossed = entry["reported"] is None and (
            entry["seizures"] >= CORRIDOR_MIN_SEIZURES or milestone > 0
        )
        grew = entry["reported"] is not None and milestone > entry["reported"]
        if crossed or grew:
            findings.append(
                _finding(origin, destination, entry, period, passed=milestone if grew else None)
            )
            entry["reported"] = milestone
        state[key] = entry
    return findings


def _finding(
    origin: str,
    destination: str,
    entry: dict[str, Any],
    period: str | None,
    *,
    passed: float | None,
) -> Finding:
    """``passed``: the power of ten just passed when the corridor grew, else ``None``."""
    kilograms, seizures = entry["kilograms"], entry["seizures"]
    why = (
        f"its cumulative weight passed {passed:,.0f} kg"
        if passed is not None
        else f"thresholds: >= {CORRIDOR_MIN_SEIZURES} seizures or >= {CORRIDOR_MIN_KG:,.0f} kg"
    )
    explanation = (
        f"Cross-border corridor {origin} -> {destination}: {seizures} seizure(s) on routes "
        f"through this leg, {kilograms:,.1f} kg in all"
        + (f" ({entry['unweighed']} not weighed)" if entry["unweighed"] else "")
        + f", first {entry['first']}, last {entry['last']}; {why}."
    )
    level = "high" if kilograms >= 10 * CORRIDOR_MIN_KG else "medium"
    if kilograms < CORRIDOR_MIN_KG:
        level = "low"
    return Finding(
        kind="corridor",
        subject=f"corridor:{origin}>{destination}",
        explanation=explanation,
        level=level,
        score=round(max(seizures / CORRIDOR_MIN_SEIZURES, kilograms / CORRIDOR_MIN_KG), 3),
        country=origin,
        area=f"{origin}>{destination}",
        period=period,
        indicators={
            "from": origin,
            "to": destination,
            "seizures": seizures,
            "kilograms": round(kilograms, 3),
            "unweighed": entry["unweighed"],
        },
    )
