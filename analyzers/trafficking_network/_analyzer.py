"""The ``unodc.trafficking-network`` analyzer: per-view bookkeeping, periodic passes, summary.

Per view (a few state keys, whatever the network's size):

* ``meta``: the running view count (which schedules the periodic passes) and the
  persons seen without a pseudonym;
* each actor of the view (:mod:`._network`): ``actor/<ref>`` - a finding when it
  becomes a recurring actor;
* a single seizure's route (:mod:`._routes`): ``corridor/<from>><to>`` per leg -
  a finding when a corridor crosses its thresholds or its next weight milestone;
* an annual total (:mod:`._trends`): ``trend/<code>|<group>`` and ``trend-pending``.

Every ``NETWORK_EVERY_VIEWS``-th view also runs the whole-network pass: Brandes
betweenness on the actor-place graph (a finding if the top brokers changed) and
the settled seizure trends (a finding per newly flagged change). These findings
ride on the result of the view that triggered the pass.
"""

from __future__ import annotations

from typing import Any, ClassVar

from analyzers.base import Finding, View
from analyzers.state import State
from analyzers.trafficking_network._network import (
    ACTOR_PREFIX,
    actors_of,
    broker_finding,
    brokers,
    record_actor,
)
from analyzers.trafficking_network._routes import CORRIDOR_PREFIX, record_corridors
from analyzers.trafficking_network._trends import (
    PENDING_KEY,
    TREND_PREFIX,
    changes,
    record_total,
    settle,
)
from analyzers.trafficking_network._views import period_of, place_label, place_of
from analyzers.trafficking_network.thresholds import (
    CORRIDOR_MIN_KG,
    CORRIDOR_MIN_SEIZURES,
    NETWORK_EVERY_VIEWS,
    RECURRING_MIN_EVENTS,
    RECURRING_MIN_SPREAD,
    TOP_BROKERS,
    TREND_MIN_CHANGE,
    TREND_MIN_KG,
    TREND_SETTLE_VIEWS,
)

__all__ = ["TraffickingNetworkAnalyzer"]

_META = "meta"
_NETWORK = "network"
_SUMMARY_ACTORS = 20


class TraffickingNetworkAnalyzer:
    """Links actors, places and routes across packets by pseudonymous references."""

    id: ClassVar[str] = "unodc.trafficking-network"
    version: ClassVar[str] = "1.0.0"
    schemas: ClassVar[frozenset[str]] = frozenset({"conflict-event/1", "seizure/1"})

    def analyze(self, view: View, state: State) -> list[Finding]:
        meta = state.get(_META) or {"views": 0, "unlinked_persons": 0}
        meta["views"] += 1
        views = meta["views"]
        findings: list[Finding] = []
        if view.schema in self.schemas:
            period = period_of(view)
            country, admin1 = place_of(view)
            place = place_label(country, admin1)
            refs, unlinked = actors_of(view)
            meta["unlinked_persons"] += unlinked
            for ref in refs:
                finding = record_actor(
                    state,
                    ref,
                    place=place,
                    source=view.issuer,
                    period=period,
                    country=country,
                    admin1=admin1,
                )
                if finding is not None:
                    findings.append(finding)
            if view.schema == "seizure/1":
                findings.extend(record_corridors(state, view, period))
                record_total(state, view, views)
        state[_META] = meta
        if views % NETWORK_EVERY_VIEWS == 0:
            findings.extend(self._network_pass(state, views, period_of(view)))
        return findings

    def _network_pass(self, state: State, views: int, period: str | None) -> list[Finding]:
        findings: list[Finding] = []
        previous = state.get(_NETWORK) or {"top": []}
        if state.keys(ACTOR_PREFIX):
            network = brokers(state)
            finding = broker_finding(previous["top"], network, views, period)
            if finding is not None:
                findings.append(finding)
            state[_NETWORK] = {**network, "at_view": views}
        findings.extend(settle(state, views))
        return findings

    def summary(self, state: State) -> dict[str, Any]:
        meta = state.get(_META) or {"views": 0, "unlinked_persons": 0}
        network = brokers(state)
        actors = [
            {
                "actor": key.removeprefix(ACTOR_PREFIX),
                "events": entry["events"],
                "places": len(entry["places"]),
                "sources": len(entry["sources"]),
                "first": entry["first"],
                "last": entry["last"],
            }
            for key, entry in state.items(ACTOR_PREFIX)
            if entry["recurring"]
        ]
        actors.sort(key=lambda a: (-a["events"], a["actor"]))
        corridors = []
        for key, entry in state.items(CORRIDOR_PREFIX):
            origin, _, destination = key.removeprefix(CORRIDOR_PREFIX).partition(">")
            corridors.append(
                {
                    "from": origin,
                    "to": destination,
                    "seizures": entry["seizures"],
                    "kilograms": round(entry["kilograms"], 3),
                    "unweighed": entry["unweighed"],
                    "first": entry["first"],
                    "last": entry["last"],
                }
            )
        corridors.sort(key=lambda c: (-c["kilograms"], -c["seizures"], c["from"], c["to"]))
        pending = state.get(PENDING_KEY) or {}
        trends = []
        for key, series in state.items(TREND_PREFIX):
            for change in changes(series):
                trends.append(
                    {
                        "country": series["country"],
                        "country_code": series["code"],
                        "drug_group": series["group"],
                        "settled": key not in pending,
                        **change,
                    }
                )
        trends.sort(key=lambda t: (-abs(t["change_kg"]), t["country_code"], t["drug_group"]))
        return {
            "views": meta["views"],
            "unlinked_persons": meta["unlinked_persons"],
            "thresholds": {
                "recurring_min_events": RECURRING_MIN_EVENTS,
                "recurring_min_spread": RECURRING_MIN_SPREAD,
                "network_every_views": NETWORK_EVERY_VIEWS,
                "top_brokers": TOP_BROKERS,
                "corridor_min_seizures": CORRIDOR_MIN_SEIZURES,
                "corridor_min_kg": CORRIDOR_MIN_KG,
                "trend_min_change": TREND_MIN_CHANGE,
                "trend_min_kg": TREND_MIN_KG,
                "trend_settle_views": TREND_SETTLE_VIEWS,
            },
            "network": {k: network[k] for k in ("actors", "places", "links")},
            "brokers": [{"actor": ref, "betweenness": value} for ref, value in network["top"]],
            "recurring_actors": {"count": len(actors), "top": actors[:_SUMMARY_ACTORS]},
            "corridors": corridors,
            "seizure_trends": {
                "flagged": len(trends),
                "pending_series": len(pending),
                "changes": trends,
            },
        }
