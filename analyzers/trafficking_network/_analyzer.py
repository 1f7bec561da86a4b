"""The ``unodc.trafficking-network`` analyzer: order-free tallies, findings derived from them.

Each view is first *absorbed* into tallies (counts, integer milligrams, sorted
sets), in these state keys:

* ``meta``: the number of views;
* ``place/<key>``: every country a view names, in the one place scheme
  (:mod:`._places`), with its records and schemas, mapped or not;
* ``actor/<ref>``: each actor's packets, places, sources, period span and state
  evidence (:mod:`._network`);
* ``corridor/<from>><to>``: each route leg of single seizures (:mod:`._routes`);
* ``trend/<country>|<group>``: the annual totals of a series (:mod:`._trends`).

Then the findings of every *scope* the view touched are derived from the tallies
alone and reconciled (:func:`analyzers.converge.reconcile`: new or changed
findings, and withdrawals of those that no longer hold):

* ``actor:<ref>`` for each actor of the view (recurring actor);
* ``network`` when the broker graph changed (brokers on the complete graph held);
* ``corridor:<from>><to>`` for each leg of the view's route;
* ``trend:<country>|<group>`` for the view's annual total (every flagged change of
  the complete series held).

So the findings that hold, and the summary, are a function of the set of views
received, whatever their order.
"""

from __future__ import annotations

from typing import Any, ClassVar

from clearinghouse.analyzers.base import Finding, View
from clearinghouse.analyzers.converge import reconcile
from clearinghouse.analyzers.state import State
from clearinghouse.analyzers.trafficking_network._network import (
    ACTOR_PREFIX,
    actor_findings,
    actors_of,
    broker_findings,
    brokers,
    record_actor,
)
from clearinghouse.analyzers.trafficking_network._places import Place, country_name
from clearinghouse.analyzers.trafficking_network._routes import (
    CORRIDOR_PREFIX,
    corridor_findings,
    record_corridors,
    route_of,
)
from clearinghouse.analyzers.trafficking_network._trends import (
    TREND_PREFIX,
    changes,
    record_total,
    trend_findings,
)
from clearinghouse.analyzers.trafficking_network._views import period_of, place_label, place_of
from clearinghouse.analyzers.trafficking_network.thresholds import (
    CORRIDOR_MIN_KG,
    CORRIDOR_MIN_SEIZURES,
    RECURRING_MIN_EVENTS,
    RECURRING_MIN_SPREAD,
    TOP_BROKERS,
    TREND_HIGH_KG,
    TREND_MIN_BASE_KG,
    TREND_MIN_CHANGE,
    TREND_MIN_HISTORY,
    TREND_MIN_KG,
    TREND_VOLATILITY_K,
)

__all__ = ["TraffickingNetworkAnalyzer"]

_META = "meta"
_PLACE_PREFIX = "place/"
_NETWORK_SCOPE = "network"
_SUMMARY_ACTORS = 20


def _record_place(state: State, place: Place, schema: str) -> None:
    key = _PLACE_PREFIX + place.key
    entry: dict[str, Any] = state.get(key) or {"mapped": place.mapped, "records": 0, "schemas": []}
    entry["records"] += 1
    entry["schemas"] = sorted({*entry["schemas"], schema})
    state[key] = entry


class TraffickingNetworkAnalyzer:
    """Links actors, places and routes across packets by the references views carry."""

    id: ClassVar[str] = "unodc.trafficking-network"
    version: ClassVar[str] = "2.0.0"
    schemas: ClassVar[frozenset[str]] = frozenset({"conflict-event/1", "seizure/1"})

    def analyze(self, view: View, state: State) -> list[Finding]:
        if view.schema not in self.schemas:
            return []
        meta = state.get(_META) or {"views": 0}
        meta["views"] += 1
        state[_META] = meta
        scopes: dict[str, list[Finding]] = {}
        period = period_of(view)
        country, admin1 = place_of(view)
        route = route_of(view) if view.schema == "seizure/1" else []
        for place in ([country] if country is not None else []) + route:
            _record_place(state, place, view.schema)
        label = place_label(country.key if country is not None else None, admin1)
        places = [label] if label is not None else []
        countries = [country.key] if country is not None else []
        for stop in route:
            if stop.key not in places:
                places.append(stop.key)
            countries.append(stop.key)
        graph_changed = False
        for actor in actors_of(view):
            graph_changed |= record_actor(
                state,
                actor,
                places=places,
                countries=countries,
                source=view.issuer,
                period=period,
            )
            entry = state.get(ACTOR_PREFIX + actor[0])
            scopes[f"actor:{actor[0]}"] = actor_findings(actor[0], entry)
        if graph_changed:
            scopes[_NETWORK_SCOPE] = broker_findings(brokers(state))
        if view.schema == "seizure/1":
            for key in record_corridors(state, view, period):
                scopes["corridor:" + key.removeprefix(CORRIDOR_PREFIX)] = corridor_findings(
                    key, state.get(key)
                )
            series_key = record_total(state, view)
            if series_key is not None:
                scopes["trend:" + series_key.removeprefix(TREND_PREFIX)] = trend_findings(
                    state.get(series_key)
                )
        findings: list[Finding] = []
        for scope in sorted(scopes):
            findings.extend(reconcile(state, scope, scopes[scope]))
        return findings

    def summary(self, state: State) -> dict[str, Any]:
        meta = state.get(_META) or {"views": 0}
        network = brokers(state)
        actors, references = _recurring_actors(state)
        corridors = _corridors(state)
        series_count, trends = _seizure_trends(state)
        return {
            "views": meta["views"],
            "places": _places(state),
            "thresholds": _thresholds(),
            "network": {k: network[k] for k in ("actors", "states_excluded", "places", "links")},
            "actor_references": references,
            "brokers": [{"actor": ref, "betweenness": value} for ref, value in network["top"]],
            "recurring_actors": {"count": len(actors), "top": actors[:_SUMMARY_ACTORS]},
            "corridors": corridors,
            "seizure_trends": {"series": series_count, "flagged": len(trends), "changes": trends},
        }


def _recurring_actors(state: State) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The recurring actors, most events first, and how many actors are known by each
    kind of reference (``pseudonym``, ``as-disclosed``)."""
    actors = []
    references = {"pseudonym": 0, "as-disclosed": 0}
    for key, entry in state.items(ACTOR_PREFIX):
        for kind in entry["references"]:
            references[kind] = references.get(kind, 0) + 1
        if actor_findings(key.removeprefix(ACTOR_PREFIX), entry):
            actors.append(
                {
                    "actor": key.removeprefix(ACTOR_PREFIX),
                    "events": entry["events"],
                    "places": len(entry["places"]),
                    "countries": len(entry["countries"]),
                    "sources": len(entry["sources"]),
                    "state": bool(entry["state"]),
                    "first": entry["first"],
                    "last": entry["last"],
                }
            )
    actors.sort(key=lambda a: (-a["events"], a["actor"]))
    return actors, references


def _corridors(state: State) -> list[dict[str, Any]]:
    """Every route leg held, heaviest first, and whether it is reported as a corridor."""
    corridors = []
    for key, entry in state.items(CORRIDOR_PREFIX):
        origin, _, destination = key.removeprefix(CORRIDOR_PREFIX).partition(">")
        corridors.append(
            {
                "from": origin,
                "to": destination,
                "seizures": entry["seizures"],
                "kilograms": round(entry["milligrams"] / 1_000_000, 3),
                "unweighed": entry["unweighed"],
                "first": entry["first"],
                "last": entry["last"],
                "reported": bool(corridor_findings(key, entry)),
            }
        )
    corridors.sort(key=lambda c: (-c["kilograms"], -c["seizures"], c["from"], c["to"]))
    return corridors


def _seizure_trends(state: State) -> tuple[int, list[dict[str, Any]]]:
    """How many series of annual totals are held, and their flagged changes, largest
    first."""
    trends = []
    series_count = 0
    for _, series in state.items(TREND_PREFIX):
        series_count += 1
        for change in changes(series):
            trends.append(
                {
                    "country_code": series["country"],
                    "country": country_name(series["country"]),
                    "drug_group": series["group"],
                    **change,
                }
            )
    trends.sort(key=lambda t: (-abs(t["change_kg"]), t["country_code"], t["drug_group"]))
    return series_count, trends


def _places(state: State) -> dict[str, Any]:
    """How many places were mapped to the scheme, and the names that were not."""
    mapped: list[str] = []
    unmapped = []
    for key, entry in state.items(_PLACE_PREFIX):
        name = key.removeprefix(_PLACE_PREFIX)
        if entry["mapped"]:
            mapped.append(name)
        else:
            unmapped.append({"name": name, "records": entry["records"]})
    return {"scheme": "ISO 3166-1 alpha-3", "mapped": len(mapped), "unmapped": unmapped}


def _thresholds() -> dict[str, Any]:
    """The thresholds the findings were derived with (:mod:`.thresholds`), so that a
    reader of the summary can judge them."""
    return {
        "recurring_min_events": RECURRING_MIN_EVENTS,
        "recurring_min_spread": RECURRING_MIN_SPREAD,
        "top_brokers": TOP_BROKERS,
        "corridor_min_seizures": CORRIDOR_MIN_SEIZURES,
        "corridor_min_kg": CORRIDOR_MIN_KG,
        "trend_min_base_kg": TREND_MIN_BASE_KG,
        "trend_min_kg": TREND_MIN_KG,
        "trend_min_change": TREND_MIN_CHANGE,
        "trend_volatility_k": TREND_VOLATILITY_K,
        "trend_min_history": TREND_MIN_HISTORY,
        "trend_high_kg": TREND_HIGH_KG,
    }
