"""Brandes' betweenness on small graphs with known values."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clearinghouse.analyzers.trafficking_network._brandes import betweenness, normalised, undirected


def test_path_graph() -> None:
    # a-b-c-d-e: b lies on 3 pairs' paths (a-c, a-d, a-e), c on 4, d on 3.
    graph = undirected([("a", "b"), ("b", "c"), ("c", "d"), ("d", "e")])
    assert betweenness(graph) == {"a": 0.0, "b": 3.0, "c": 4.0, "d": 3.0, "e": 0.0}


def test_star_centre_has_all_pairs() -> None:
    graph = undirected([("hub", leaf) for leaf in "pqrs"])
    raw = betweenness(graph)
    assert raw["hub"] == 6.0  # C(4, 2) pairs of leaves
    assert normalised(raw)["hub"] == 1.0
    assert all(raw[leaf] == 0.0 for leaf in "pqrs")


def test_split_shortest_paths_share_the_credit() -> None:
    # A 4-cycle: each pair of opposite nodes has two shortest paths, one through each
    # of the other two nodes, so every node gets 1/2.
    graph = undirected([("a", "b"), ("b", "c"), ("c", "d"), ("d", "a")])
    assert betweenness(graph) == dict.fromkeys("abcd", 0.5)


def test_krackhardt_kite() -> None:
    # Krackhardt's kite (1990), the textbook example; normalised betweenness as
    # published (e.g. networkx.betweenness_centrality(krackhardt_kite_graph())).
    edges = [
        (0, 1), (0, 2), (0, 3), (0, 5), (1, 3), (1, 4), (1, 6), (2, 3), (2, 5),
        (3, 4), (3, 5), (3, 6), (4, 6), (5, 6), (5, 7), (6, 7), (7, 8), (8, 9),
    ]  # fmt: skip
    graph = undirected((str(a), str(b)) for a, b in edges)
    value = normalised(betweenness(graph))
    expected = {
        "0": 0.023, "1": 0.023, "2": 0.0, "3": 0.102, "4": 0.0,
        "5": 0.231, "6": 0.231, "7": 0.389, "8": 0.222, "9": 0.0,
    }  # fmt: skip
    assert value == pytest.approx(expected, abs=1e-3)


def test_disconnected_parts_and_self_loops() -> None:
    graph = undirected([("a", "b"), ("b", "c"), ("x", "y"), ("z", "z")])
    assert "z" not in graph
    assert betweenness(graph) == {"a": 0.0, "b": 1.0, "c": 0.0, "x": 0.0, "y": 0.0}
    assert normalised({"a": 0.0, "b": 0.0}) == {"a": 0.0, "b": 0.0}


def test_deterministic_whatever_the_edge_order() -> None:
    edges = [("a", "b"), ("b", "c"), ("c", "a"), ("c", "d"), ("d", "e"), ("b", "e")]
    one = betweenness(undirected(edges))
    other = betweenness(undirected(reversed(edges)))
    assert repr(one) == repr(other)


def _plain_brandes(adjacency: dict[str, list[str]]) -> dict[str, float]:
    """Brandes' algorithm with a search from every node (no leaf folding)."""
    from clearinghouse.analyzers.trafficking_network._brandes import _dependencies

    centrality = dict.fromkeys(adjacency, 0.0)
    for source in sorted(adjacency):
        for node, value in _dependencies(adjacency, source).items():
            if node != source:
                centrality[node] += value
    return {node: value / 2.0 for node, value in centrality.items()}


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 14), st.integers(0, 14)).map(lambda e: (f"n{e[0]}", f"n{e[1]}")),
        max_size=30,
    )
)
def test_leaf_folding_gives_the_full_algorithm_values(edges: list[tuple[str, str]]) -> None:
    graph = undirected(edges)
    assert betweenness(graph) == pytest.approx(_plain_brandes(graph), abs=1e-9)
