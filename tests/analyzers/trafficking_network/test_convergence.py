"""``unodc.trafficking-network`` converges: the same picture for any order of the same views.

Real records, read with the project's importers and issued once as unodc's views:
every 40th event of the shipped UCDP GED Syria file and every country-year total of
three subregions of the shipped UNODC seizures file (conftest), plus single seizures
naming persons under the proposed policy; then analysed in permuted orders.
"""

from __future__ import annotations

from random import Random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clearinghouse.analyzers.base import View
from clearinghouse.analyzers.offline import OfflineRun, Picture, final_picture
from clearinghouse.analyzers.trafficking_network import TraffickingNetworkAnalyzer
from tests.analyzers._order import assert_same_in_any_order

ROUTES = [("Syria", ["JOR"], "SAU"), ("LBN", [], "Saudi Arabia"), ("SYR", ["Iraq"], "KWT")]


def _singles() -> list[dict[str, Any]]:
    out = []
    for i in range(24):
        origin, transit, destination = ROUTES[i % len(ROUTES)]
        out.append(
            {
                "kind": "single-seizure",
                "country_code": ["JOR", "SAU", "IRQ"][i % 3],
                "date": f"202{i % 3}-0{1 + i % 9}-15",
                "quantity": float(100 * (1 + i % 5)),
                "unit": "kg",
                "route_origin": origin,
                "route_transit": transit,
                "route_destination": destination,
                "persons": [f"Person {i % 7}", f"Person {(i * 3) % 11}"],
            }
        )
    return out


@pytest.fixture(scope="module")
def views(ged_views: list[View], seizure_views: list[View], config: dict[str, Any]) -> list[View]:
    run = OfflineRun.start(
        TraffickingNetworkAnalyzer(), config, participant="unodc", issuer="mission"
    )
    return ged_views + seizure_views + run.views("seizure/1", _singles())


@pytest.fixture(scope="module")
def in_file_order(views: list[View]) -> Picture:
    return final_picture(TraffickingNetworkAnalyzer(), views)


def test_the_sample_is_rich_enough(views: list[View], in_file_order: Picture) -> None:
    assert 800 <= len(views) <= 1600
    kinds = {f["kind"] for f in in_file_order.findings}
    assert kinds == {"recurring-actor", "broker", "corridor", "seizure-trend"}
    assert in_file_order.withdrawn > 0  # findings on partial tallies were withdrawn


@settings(max_examples=10, deadline=None)
@given(rng=st.randoms(use_true_random=False))
def test_any_order_gives_the_same_findings_and_summary(
    views: list[View], in_file_order: Picture, rng: Random
) -> None:
    assert_same_in_any_order(TraffickingNetworkAnalyzer, views, in_file_order, rng)


def test_findings_held_match_the_summary(in_file_order: Picture) -> None:
    summary = in_file_order.summary
    held = {(f["kind"], f["subject"], f.get("period")) for f in in_file_order.findings}
    trends = {
        ("seizure-trend", f"seizure-trend:{t['country_code']}|{t['drug_group']}", str(t["to"]))
        for t in summary["seizure_trends"]["changes"]
    }
    brokers = {("broker", f"actor:{b['actor']}", None) for b in summary["brokers"]}
    corridors = {
        ("corridor", f"corridor:{c['from']}>{c['to']}", None)
        for c in summary["corridors"]
        if c["reported"]
    }
    assert {k for k in held if k[0] == "seizure-trend"} == trends
    assert {k for k in held if k[0] == "broker"} == brokers
    assert {k for k in held if k[0] == "corridor"} == corridors
    for finding in in_file_order.findings:
        assert finding["level"] in {"low", "medium", "high", "critical"}
        assert finding["explanation"] and finding["indicators"] and finding["score"] >= 0
    for change in summary["seizure_trends"]["changes"]:
        assert change["kg_from"] >= summary["thresholds"]["trend_min_base_kg"]


def test_the_broker_graph_index_matches_the_actor_tallies(views: list[View]) -> None:
    from clearinghouse.analyzers.state import State
    from clearinghouse.analyzers.trafficking_network._network import (
        ACTOR_PREFIX,
        GRAPH_KEY,
        in_broker_graph,
    )

    state, analyzer = State(), TraffickingNetworkAnalyzer()
    for view in reversed(views):
        analyzer.analyze(view, state)
    graph = state.get(GRAPH_KEY)
    actors = dict(state.items(ACTOR_PREFIX))
    expected = {
        key.removeprefix(ACTOR_PREFIX): entry["places"]
        for key, entry in actors.items()
        if in_broker_graph(entry)
    }
    assert graph["nodes"] == expected
    assert graph["states"] == sorted(
        k.removeprefix(ACTOR_PREFIX) for k, e in actors.items() if e["state"]
    )
