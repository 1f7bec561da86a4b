"""The actor-place network: recurring actors and brokers.

**Actors** are pseudonymous references only: ``side_a_ref`` and ``side_b_ref`` of
a conflict event (the trafficking analysis sees conflict actors only as
pseudonyms; side B of one-sided violence is "Civilians", the victims, and is not
an actor), and ``persons_refs`` of a seizure. A seizure view that discloses
``persons`` without ``persons_refs`` (a policy granting names, not pseudonyms)
adds no actor: a name is never a node, a state key or a finding; those persons
are only counted as *unlinked*.

**Places** are (country, admin1) as disclosed. Each actor keeps, in state key
``actor/<ref>``, its packet count, its places, its sources (issuers), and its
first and last period. That entry is the actor's row of the bipartite actor-place
graph, so the graph needs no other state.

**Recurring actor**: seen in >= ``RECURRING_MIN_EVENTS`` packets across >=
``RECURRING_MIN_SPREAD`` places or sources - one finding, when it crosses.

**Brokers**: every ``NETWORK_EVERY_VIEWS`` views, betweenness centrality
(Brandes) on the actor-place graph; the ``TOP_BROKERS`` actors with the highest
(positive) betweenness are the brokers, the actors "between" parts of the network
that are otherwise apart - the seed paper's "map spoiler networks". A finding
when that set changes.
"""

from __future__ import annotations

from typing import Any

from analyzers.base import Finding, View
from analyzers.state import State
from analyzers.trafficking_network._brandes import betweenness, normalised, undirected
from analyzers.trafficking_network._views import text
from analyzers.trafficking_network.thresholds import (
    NETWORK_EVERY_VIEWS,
    RECURRING_MIN_EVENTS,
    RECURRING_MIN_SPREAD,
    TOP_BROKERS,
)

__all__ = ["ACTOR_PREFIX", "actors_of", "broker_finding", "brokers", "record_actor"]

ACTOR_PREFIX = "actor/"
#: UCDP ``type_of_violence`` 3: one-sided violence, whose side B is "Civilians" - the
#: victims, not an actor of any network.
ONE_SIDED_VIOLENCE = 3
_DIGITS = 6


def actors_of(view: View) -> tuple[list[str], int]:
    """(the pseudonymous actor refs of the view, in order, unique; persons disclosed
    without a pseudonym)."""
    refs: list[str] = []
    unlinked = 0
    if view.schema == "conflict-event/1":
        candidates = [view.get("side_a_ref")]
        if view.get("type_of_violence") != ONE_SIDED_VIOLENCE:
            candidates.append(view.get("side_b_ref"))
    else:
        persons_refs = view.get("persons_refs")
        candidates = list(persons_refs) if isinstance(persons_refs, list) else []
        persons = view.get("persons")
        if not candidates and isinstance(persons, list):
            unlinked = sum(1 for p in persons if text(p))
    for candidate in candidates:
        ref = text(candidate)
        if ref and ref not in refs:
            refs.append(ref)
    return refs, unlinked


def record_actor(
    state: State,
    ref: str,
    *,
    place: str | None,
    source: str,
    period: str | None,
    country: str | None,
    admin1: str | None,
) -> Finding | None:
    """Count one packet for ``ref``; the recurring-actor finding if it just crossed."""
    key = ACTOR_PREFIX + ref
    entry: dict[str, Any] = state.get(key) or {
        "events": 0,
        "places": [],
        "sources": [],
        "first": None,
        "last": None,
        "recurring": False,
    }
    entry["events"] += 1
    if place is not None and place not in entry["places"]:
        entry["places"] = sorted([*entry["places"], place])
    if source not in entry["sources"]:
        entry["sources"] = sorted([*entry["sources"], source])
    if period is not None:
        entry["first"] = min(entry["first"] or period, period)
        entry["last"] = max(entry["last"] or period, period)
    finding = None
    spread = max(len(entry["places"]), len(entry["sources"]))
    if (
        not entry["recurring"]
        and entry["events"] >= RECURRING_MIN_EVENTS
        and spread >= RECURRING_MIN_SPREAD
    ):
        entry["recurring"] = True
        finding = _recurring_finding(ref, entry, period, country, admin1)
    state[key] = entry
    return finding


def _recurring_finding(
    ref: str, entry: dict[str, Any], period: str | None, country: str | None, admin1: str | None
) -> Finding:
    places, sources = entry["places"], entry["sources"]
    shown = "; ".join(places[:6]) + ("; ..." if len(places) > 6 else "")
    explanation = (
        f"Actor {ref} (a pseudonym) recurs: seen in {entry['events']} packets across "
        f"{len(places)} place(s) ({shown or 'none disclosed'}) and {len(sources)} source(s) "
        f"({', '.join(sources)}), first {entry['first']}, last {entry['last']}; thresholds: "
        f">= {RECURRING_MIN_EVENTS} packets across >= {RECURRING_MIN_SPREAD} places or sources."
    )
    return Finding(
        kind="recurring-actor",
        subject=f"actor:{ref}",
        explanation=explanation,
        level="medium" if len(places) >= RECURRING_MIN_SPREAD else "low",
        score=round(max(len(places), len(sources)) / RECURRING_MIN_SPREAD, 3),
        country=country,
        admin1=admin1,
        period=period,
        indicators={
            "actor": ref,
            "events": entry["events"],
            "places": len(places),
            "sources": len(sources),
            "min_events": RECURRING_MIN_EVENTS,
            "min_spread": RECURRING_MIN_SPREAD,
        },
    )


def brokers(state: State) -> dict[str, Any]:
    """Betweenness on the whole actor-place graph (a scan of every actor: run it only
    every ``NETWORK_EVERY_VIEWS`` views, or for the summary)."""
    edges: list[tuple[str, str]] = []
    actors = 0
    for key, entry in state.items(ACTOR_PREFIX):
        actors += 1
        node = "a:" + key.removeprefix(ACTOR_PREFIX)
        edges.extend((node, "p:" + place) for place in entry["places"])
    adjacency = undirected(edges)
    scores = normalised(betweenness(adjacency))
    ranked = sorted(
        ((round(v, _DIGITS), node[2:]) for node, v in scores.items() if node.startswith("a:")),
        key=lambda item: (-item[0], item[1]),
    )
    top = [[ref, value] for value, ref in ranked if value > 0][:TOP_BROKERS]
    return {
        "top": top,
        "actors": actors,
        "places": sum(1 for node in adjacency if node.startswith("p:")),
        "links": len(edges),
    }


def broker_finding(
    previous: list[list[Any]], network: dict[str, Any], views: int, period: str | None
) -> Finding | None:
    """The finding for a changed top-``TOP_BROKERS`` set, or ``None`` if it is unchanged."""
    before = {ref for ref, _ in previous}
    now = {ref: value for ref, value in network["top"]}
    if set(now) == before:
        return None
    entered = [ref for ref, _ in network["top"] if ref not in before]
    left = sorted(before - set(now))
    ranking = "; ".join(
        f"{i}. {ref} {value:.4f}" for i, (ref, value) in enumerate(network["top"], 1)
    )
    explanation = (
        f"The top {TOP_BROKERS} brokers by betweenness centrality (Brandes, normalised to "
        f"[0, 1]) on the actor-place graph of {network['actors']} actors, {network['places']} "
        f"places and {network['links']} links changed at view {views} (recomputed every "
        f"{NETWORK_EVERY_VIEWS} views): entered "
        + (", ".join(f"{ref} ({now[ref]:.4f})" for ref in entered) or "none")
        + "; left "
        + (", ".join(left) or "none")
        + f". Now: {ranking}. A broker lies on many of the shortest paths between other "
        "actors and places: it joins parts of the network that are otherwise apart."
    )
    indicators: dict[str, float | int | str] = {
        "actors": network["actors"],
        "places": network["places"],
        "links": network["links"],
        "entered": len(entered),
        "left": len(left),
    }
    for i, (ref, value) in enumerate(network["top"], 1):
        indicators[f"broker_{i}"] = ref
        indicators[f"betweenness_{i}"] = value
    return Finding(
        kind="broker-change",
        subject="network:brokers",
        explanation=explanation,
        level="medium",
        score=max((now[ref] for ref in entered), default=0.0),
        period=period,
        indicators=indicators,
    )
