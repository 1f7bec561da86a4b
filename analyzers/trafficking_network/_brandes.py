"""Betweenness centrality of an undirected, unweighted graph (Brandes, 2001).

U. Brandes, "A faster algorithm for betweenness centrality", Journal of
Mathematical Sociology 25(2), 2001: one breadth-first search per source ``s``
counts the shortest paths ``sigma`` from ``s`` and the predecessors on them; a
sweep back in order of decreasing distance accumulates each node's dependency
``delta[v] = sum over successors w of sigma[v] / sigma[w] * (1 + delta[w])``.
The betweenness of ``v`` is the sum of ``delta[v]`` over all sources, halved for
an undirected graph (each pair counted from both ends). O(V·E) time, O(V + E)
memory.

Deterministic: nodes and neighbours are visited in sorted order, so the same
graph always gives the same floating-point values.

:func:`betweenness` skips the searches from *leaves* (nodes of degree 1 whose
neighbour has a larger degree: an actor seen in one place, a place with one actor).
Every shortest path from a leaf ``s`` runs through its neighbour ``p``, so for every
other node ``v`` the dependency ``delta_s[v]`` equals ``delta_p[v]``, and ``p`` lies
on all of them: ``delta_s[p]`` is the size of the component less 2. The search from
``p`` is counted once more per leaf, and ``p`` gets that many times the component
size less 2. Same values as the full algorithm; far fewer searches on an actor-place
graph where most actors appear in one place.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence

__all__ = ["betweenness", "normalised", "undirected"]


def undirected(edges: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """The sorted adjacency lists of the undirected graph with ``edges`` (no self-loops)."""
    neighbours: dict[str, set[str]] = {}
    for a, b in edges:
        if a == b:
            continue
        neighbours.setdefault(a, set()).add(b)
        neighbours.setdefault(b, set()).add(a)
    return {node: sorted(neighbours[node]) for node in sorted(neighbours)}


def _dependencies(adjacency: Mapping[str, Sequence[str]], source: str) -> dict[str, float]:
    """Brandes' dependencies of every node reached from ``source`` (source included)."""
    order: list[str] = []
    predecessors: dict[str, list[str]] = {source: []}
    paths = {source: 1}
    distance = {source: 0}
    queue = deque([source])
    while queue:
        v = queue.popleft()
        order.append(v)
        for w in adjacency[v]:
            if w not in distance:
                distance[w] = distance[v] + 1
                paths[w] = 0
                predecessors[w] = []
                queue.append(w)
            if distance[w] == distance[v] + 1:
                paths[w] += paths[v]
                predecessors[w].append(v)
    dependency = dict.fromkeys(order, 0.0)
    for w in reversed(order):
        for v in predecessors[w]:
            dependency[v] += paths[v] / paths[w] * (1.0 + dependency[w])
    return dependency


def betweenness(adjacency: Mapping[str, Sequence[str]]) -> dict[str, float]:
    """Raw betweenness of every node of an undirected graph (Brandes' algorithm, with
    the searches from leaves folded into their neighbour's).

    ``adjacency`` must be symmetric (as :func:`undirected` builds it).
    """
    nodes = sorted(adjacency)
    leaves: dict[str, int] = {}
    sources = []
    for node in nodes:
        neighbours = adjacency[node]
        if len(neighbours) == 1 and len(adjacency[neighbours[0]]) > 1:
            leaves[neighbours[0]] = leaves.get(neighbours[0], 0) + 1
        else:
            sources.append(node)
    centrality = dict.fromkeys(nodes, 0.0)
    for source in sources:
        dependency = _dependencies(adjacency, source)
        weight = 1 + leaves.get(source, 0)
        for w, value in dependency.items():
            if w != source:
                centrality[w] += weight * value
        if source in leaves:
            centrality[source] += leaves[source] * (len(dependency) - 2)
    return {node: value / 2.0 for node, value in centrality.items()}


def normalised(raw: Mapping[str, float]) -> dict[str, float]:
    """Betweenness scaled to [0, 1]: divided by (n-1)(n-2)/2, the number of pairs of
    other nodes (the most a node can lie between)."""
    n = len(raw)
    if n < 3:
        return dict.fromkeys(raw, 0.0)
    pairs = (n - 1) * (n - 2) / 2.0
    return {node: value / pairs for node, value in raw.items()}
