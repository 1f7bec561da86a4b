"""The actor-place network: actors, states, recurring actors and brokers.

**Actors** are the references a view gives, never computed here: ``side_a_ref`` /
``side_b_ref`` of a conflict event (side B of one-sided violence is "Civilians",
the victims, and is not an actor) and ``persons_refs`` of a seizure, the
pseudonyms the issuer's policy derives. A federation whose policy discloses the
names instead (``side_a``, ``side_b``, ``persons``) gives those as references:
the analyzer pseudonymises nothing itself and uses whatever reference the view
carries; the summary counts actors by kind of reference.

**Places** are (country, admin1) in the one place scheme (:mod:`._places`); a
seizure's persons are also linked to every country of its route, the
cross-border part of the network.

**States.** An actor is a state when any view showed it as (a) side A of
state-based violence (``type_of_violence`` 1: the UCDP GED codebook has side A of a
state-based conflict always be a government), (b) a side with a Gleditsch-Ward
number (``side_a_gwno`` / ``side_b_gwno``, which UCDP gives only for states), or
(c) named "Government of ..." (``side_a`` / ``side_b`` disclosed). The evidence is a
set, so the call does not depend on order. States are left out of the broker
graph: a state's forces act throughout its territory by definition, so as a node
it joins every place and would always rank first, hiding the non-state actors
that actually bridge parts of the network.

**Tallies** (state key ``actor/<ref>``): packets, places, countries, sources,
first and last period, state evidence, kinds of reference: counts and sorted sets.

**Recurring actor** (scope ``actor:<ref>``): seen in >= ``RECURRING_MIN_EVENTS``
packets across >= ``RECURRING_MIN_SPREAD`` places or sources.

**Brokers** (scope ``network``): betweenness centrality (Brandes) on the graph of
the *recurring* non-state actors and their places, recomputed whenever that graph
changes (an actor becomes recurring, gains a place, or is found to be a state); the
``TOP_BROKERS`` actors with the highest positive betweenness, one finding each.
Only recurring actors are nodes: an actor seen in fewer than
``RECURRING_MIN_EVENTS`` packets is too thinly evidenced to anchor a map of the
network, and a seizure database naming thousands of one-off persons would
otherwise make every new person a recomputation over the whole graph.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from clearinghouse.analyzers.base import Finding, View
from clearinghouse.analyzers.state import State
from clearinghouse.analyzers.trafficking_network._brandes import betweenness, normalised, undirected
from clearinghouse.analyzers.trafficking_network._views import text
from clearinghouse.analyzers.trafficking_network.thresholds import (
    RECURRING_MIN_EVENTS,
    RECURRING_MIN_SPREAD,
    STATE_NAME_PREFIX,
    TOP_BROKERS,
)

__all__ = [
    "ACTOR_PREFIX",
    "GRAPH_KEY",
    "Actor",
    "actor_findings",
    "actors_of",
    "broker_findings",
    "brokers",
    "in_broker_graph",
    "is_state",
    "record_actor",
    "recurring",
]

ACTOR_PREFIX = "actor/"
#: The broker graph's index: its nodes (recurring non-state actors -> places) and the
#: state actors, kept up to date by :func:`record_actor` so that recomputing the
#: brokers reads one key, not every actor.
GRAPH_KEY = "broker-graph"
#: UCDP ``type_of_violence`` 1: state-based violence, whose side A is a government.
STATE_BASED = 1
#: UCDP ``type_of_violence`` 3: one-sided violence, whose side B is "Civilians" - the
#: victims, not an actor of any network.
ONE_SIDED_VIOLENCE = 3
_DIGITS = 6
#: The packet-count bands a recurring-actor finding shows (1-2-5 steps), so that
#: the finding changes when the actor's weight does, not at every packet.
_BANDS = (5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000)

#: (reference, kind of reference, state evidence) of one actor in one view.
Actor = tuple[str, str, list[str]]


def _gwno(value: Any) -> bool:
    if isinstance(value, list):
        return any(isinstance(v, int) and not isinstance(v, bool) for v in value)
    return isinstance(value, int) and not isinstance(value, bool)


def _side(view: View, side: str) -> Actor | None:
    ref, name = text(view.get(f"{side}_ref")), text(view.get(side))
    reference, kind = (ref, "pseudonym") if ref else (name, "as-disclosed")
    if reference is None:
        return None
    evidence = []
    if side == "side_a" and view.get("type_of_violence") == STATE_BASED:
        evidence.append("side A of state-based violence")
    if _gwno(view.get(f"{side}_gwno")):
        evidence.append("Gleditsch-Ward number")
    if name is not None and name.casefold().startswith(STATE_NAME_PREFIX):
        evidence.append("named as a government")
    return reference, kind, evidence


def actors_of(view: View) -> list[Actor]:
    """The actors of the view, in order, each once (see the module's rules)."""
    actors: list[Actor] = []
    if view.schema == "conflict-event/1":
        sides = ["side_a"]
        if view.get("type_of_violence") != ONE_SIDED_VIOLENCE:
            sides.append("side_b")
        for side in sides:
            actor = _side(view, side)
            if actor is not None:
                actors.append(actor)
    elif view.schema == "seizure/1":
        refs, kind = view.get("persons_refs"), "pseudonym"
        if not isinstance(refs, list):
            refs, kind = view.get("persons"), "as-disclosed"
        for candidate in refs if isinstance(refs, list) else []:
            ref = text(candidate)
            if ref is not None:
                actors.append((ref, kind, []))
    seen: set[str] = set()
    unique = []
    for actor in actors:
        if actor[0] not in seen:
            seen.add(actor[0])
            unique.append(actor)
    return unique


def _union(values: Sequence[str], more: Sequence[str]) -> list[str]:
    return sorted(set(values) | set(more))


def record_actor(
    state: State,
    actor: Actor,
    *,
    places: Sequence[str],
    countries: Sequence[str],
    source: str,
    period: str | None,
) -> bool:
    """Count one packet for the actor; ``True`` when the broker graph changed (the
    actor entered or left it, its places changed while in it, or it was found to be a
    state)."""
    ref, kind, evidence = actor
    key = ACTOR_PREFIX + ref
    entry: dict[str, Any] = state.get(key) or {
        "events": 0,
        "places": [],
        "countries": [],
        "sources": [],
        "first": None,
        "last": None,
        "state": [],
        "references": [],
    }
    before = (in_broker_graph(entry), entry["places"])
    was_state = bool(entry["state"])
    entry["events"] += 1
    entry["places"] = _union(entry["places"], places)
    entry["countries"] = _union(entry["countries"], countries)
    entry["sources"] = _union(entry["sources"], [source])
    entry["state"] = _union(entry["state"], evidence)
    entry["references"] = _union(entry["references"], [kind])
    if period is not None:
        entry["first"] = min(entry["first"] or period, period)
        entry["last"] = max(entry["last"] or period, period)
    state[key] = entry
    after = (in_broker_graph(entry), entry["places"])
    changed = (before[0] or after[0]) and before != after
    if entry["state"] and not was_state:
        changed = True  # one more state left out: the broker findings say how many
    if changed:
        graph: dict[str, Any] = state.get(GRAPH_KEY) or {"nodes": {}, "states": []}
        if after[0]:
            graph["nodes"][ref] = entry["places"]
        else:
            graph["nodes"].pop(ref, None)
        if entry["state"]:
            graph["states"] = _union(graph["states"], [ref])
        state[GRAPH_KEY] = graph
    return changed


def recurring(entry: dict[str, Any]) -> bool:
    """Seen in >= ``RECURRING_MIN_EVENTS`` packets across >= ``RECURRING_MIN_SPREAD``
    places or sources."""
    spread = max(len(entry["places"]), len(entry["sources"]))
    return entry["events"] >= RECURRING_MIN_EVENTS and spread >= RECURRING_MIN_SPREAD


def in_broker_graph(entry: dict[str, Any]) -> bool:
    """A recurring, non-state actor: a node of the broker graph."""
    return recurring(entry) and not entry["state"]


def is_state(entry: dict[str, Any]) -> bool:
    return bool(entry["state"])


def _band(events: int) -> int:
    return max((b for b in _BANDS if b <= events), default=0)


def actor_findings(ref: str, entry: dict[str, Any]) -> list[Finding]:
    """The recurring-actor finding of an actor's tallies (none when it does not recur)."""
    places, sources = entry["places"], entry["sources"]
    spread = max(len(places), len(sources))
    if not recurring(entry):
        return []
    band = _band(entry["events"])
    shown = "; ".join(places[:6]) + ("; ..." if len(places) > 6 else "")
    span = f"{(entry['first'] or '?')[:4]}-{(entry['last'] or '?')[:4]}"
    state = (
        f" It is a state actor ({', '.join(entry['state'])}), left out of the broker ranking."
        if entry["state"]
        else ""
    )
    explanation = (
        f"Actor {ref} recurs: seen in at least {band} packets across {len(places)} place(s) "
        f"({shown or 'none disclosed'}) and {len(sources)} source(s) ({', '.join(sources)}), "
        f"{span}; thresholds: >= {RECURRING_MIN_EVENTS} packets across >= "
        f"{RECURRING_MIN_SPREAD} places or sources.{state}"
    )
    countries = entry["countries"]
    return [
        Finding(
            kind="recurring-actor",
            subject=f"actor:{ref}",
            explanation=explanation,
            level="medium" if len(places) >= RECURRING_MIN_SPREAD else "low",
            score=round(spread / RECURRING_MIN_SPREAD, 3),
            country=countries[0] if len(countries) == 1 else None,
            indicators={
                "actor": ref,
                "events_at_least": band,
                "places": len(places),
                "countries": len(countries),
                "sources": len(sources),
                "state": "yes" if entry["state"] else "no",
                "min_events": RECURRING_MIN_EVENTS,
                "min_spread": RECURRING_MIN_SPREAD,
            },
        )
    ]


def brokers(state: State) -> dict[str, Any]:
    """Betweenness on the graph of recurring non-state actors and their places (run it
    when the graph changed, or for the summary)."""
    graph: dict[str, Any] = state.get(GRAPH_KEY) or {"nodes": {}, "states": []}
    edges: list[tuple[str, str]] = []
    for ref in sorted(graph["nodes"]):
        edges.extend(("a:" + ref, "p:" + place) for place in graph["nodes"][ref])
    adjacency = undirected(edges)
    scores = normalised(betweenness(adjacency))
    ranked = sorted(
        ((round(v, _DIGITS), node[2:]) for node, v in scores.items() if node.startswith("a:")),
        key=lambda item: (-item[0], item[1]),
    )
    top = [[ref, value] for value, ref in ranked if value > 0][:TOP_BROKERS]
    return {
        "top": top,
        "actors": len(graph["nodes"]),
        "states_excluded": len(graph["states"]),
        "places": sum(1 for node in adjacency if node.startswith("p:")),
        "links": len(edges),
    }


def broker_findings(network: dict[str, Any]) -> list[Finding]:
    """One finding per top broker of the graph ``network`` describes."""
    findings = []
    size = (
        f"{network['actors']} recurring non-state actors, {network['places']} places and "
        f"{network['links']} links ({network['states_excluded']} state actor(s) left out)"
    )
    for rank, (ref, value) in enumerate(network["top"], 1):
        explanation = (
            f"Actor {ref} is broker no. {rank} of the actor-place network: betweenness "
            f"centrality {value:.4f} (Brandes, normalised to [0, 1]) on the graph of {size}. "
            "A broker lies on many of the shortest paths between other actors and places: "
            f"it joins parts of the network that are otherwise apart. The top {TOP_BROKERS} "
            "recurring non-state actors with a positive betweenness are brokers."
        )
        findings.append(
            Finding(
                kind="broker",
                subject=f"actor:{ref}",
                explanation=explanation,
                level="medium",
                score=value,
                indicators={
                    "actor": ref,
                    "rank": rank,
                    "betweenness": value,
                    "actors": network["actors"],
                    "places": network["places"],
                    "links": network["links"],
                    "states_excluded": network["states_excluded"],
                },
            )
        )
    return findings
