"""TopoJSON decoding (specification §2.1.2, §2.1.4, §2.2.1), on small hand-made topologies
whose answers can be worked out on paper; the shipped outlines are checked through the
map in ``test_worldmap.py``.
"""

from __future__ import annotations

import pytest

from clearinghouse.node.ui.topojson import decode_arcs, read_countries, stitch_ring, unwrap_ring

SQUARE = {  # one square as two arcs, and a polygon using them backwards
    "type": "Topology",
    "transform": {"scale": [0.5, 2.0], "translate": [10.0, -20.0]},
    "arcs": [[[0, 0], [2, 0], [0, 1]], [[2, 1], [-2, 0], [0, -1]]],
    "objects": {
        "countries": {
            "type": "GeometryCollection",
            "geometries": [
                {"type": "Polygon", "arcs": [[0, 1]], "id": "1", "properties": {"name": "B"}},
                {"type": "MultiPolygon", "arcs": [[[~1, ~0]]], "properties": {"name": "A"}},
                {"type": None, "properties": {"name": "Nowhere"}},
            ],
        }
    },
}


def test_quantized_arcs_are_delta_decoded_then_transformed() -> None:
    topology = {
        "transform": {"scale": [0.5, 2.0], "translate": [10.0, -20.0]},
        "arcs": [[[0, 0], [2, 0], [0, 1]], [[2, 1], [-2, 0], [0, -1]]],
    }
    arcs = decode_arcs(topology)
    assert arcs == [
        [(10.0, -20.0), (11.0, -20.0), (11.0, -18.0)],
        [(11.0, -18.0), (10.0, -18.0), (10.0, -20.0)],
    ]
    # Without a transform, positions are absolute already.
    assert decode_arcs({"arcs": [[[1, 2], [3, 4]]]}) == [[(1.0, 2.0), (3.0, 4.0)]]


def test_rings_join_arcs_and_a_negative_index_reverses_its_arc() -> None:
    arcs = [[(0.0, 0.0), (1.0, 0.0), (1.0, 1.0)], [(1.0, 1.0), (0.0, 1.0), (0.0, 0.0)]]
    assert stitch_ring(arcs, [0, 1]) == ((0, 0), (1, 0), (1, 1), (0, 1), (0, 0))
    # ~1 == -2: arc 1 backwards, then arc 0 backwards; shared ends kept once.
    assert stitch_ring(arcs, [~1, ~0]) == ((0, 0), (0, 1), (1, 1), (1, 0), (0, 0))


def test_geometries_become_countries_sorted_by_name() -> None:
    a, b = read_countries(SQUARE)
    assert (a.name, a.code, b.name, b.code) == ("A", "", "B", "1")
    assert b.rings == (((10, -20), (11, -20), (11, -18), (10, -18), (10, -20)),)
    assert a.rings == (((10, -20), (10, -18), (11, -18), (11, -20), (10, -20)),)
    assert a.bbox == b.bbox == (10.0, -20.0, 11.0, -18.0)


def test_a_ring_across_the_antimeridian_is_made_continuous() -> None:
    ring = ((179.0, 0.0), (-179.0, 1.0), (179.0, 1.0), (179.0, 0.0))
    assert unwrap_ring(ring) == ((179.0, 0.0), (181.0, 1.0), (179.0, 1.0), (179.0, 0.0))
    plain = ((10.0, 0.0), (11.0, 0.0), (11.0, 1.0), (10.0, 0.0))
    assert unwrap_ring(plain) == plain


def test_a_ring_around_a_pole_is_closed_along_the_pole() -> None:
    ring = ((-180.0, -70.0), (0.0, -65.0), (179.0, -70.0), (-180.0, -70.0))
    assert unwrap_ring(ring) == (
        (-180.0, -70.0),
        (0.0, -65.0),
        (179.0, -70.0),
        (180.0, -70.0),
        (180.0, -90.0),
        (-180.0, -90.0),
        (-180.0, -70.0),
    )


def test_a_topology_without_the_collection_is_refused() -> None:
    with pytest.raises(KeyError):
        read_countries({"arcs": [], "objects": {}})
