"""A graph's size known before it is built: exact edge counts for pixel graphs, at every pooled level."""

import pytest

from core.graphs import build_graph
from core.graphs.shape import GraphSpec


@pytest.mark.parametrize(
    "kind, params",
    [
        ("grid", {"neighbours": 8}),
        ("grid", {"neighbours": 4}),
        ("gaussian", {"sigma": 0.05}),
        ("gaussian", {"sigma": 0.05, "cutoff": 0.01}),
        ("gaussian", {"sigma": 0.2, "cutoff": 0.1}),
        ("complete", {}),
    ],
)
@pytest.mark.parametrize("size", [28, 14, 7])
def test_pixel_graph_edges_are_exact(kind, params, size):
    from core.models.graph_net import coarse_graph

    built = coarse_graph(build_graph(kind, size=28, **params), size)  # a pooled net's level: sigma rescaled
    shape = GraphSpec(kind, params).shape(size)
    assert (shape.nodes, shape.edges) == (built.num_nodes, built.edge_index.shape[1])


@pytest.mark.parametrize(
    "kind, params", [("knn", {"k": 8}), ("knn", {"k": 3}), ("gaussian", {"sigma": 0.05, "topk": 8})]
)
def test_symmetrised_knn_edges_are_close_and_not_under(kind, params):
    built = build_graph(kind, size=28, **params).edge_index.shape[1]
    estimated = GraphSpec(kind, params).shape().edges
    assert built <= estimated <= 1.15 * built
