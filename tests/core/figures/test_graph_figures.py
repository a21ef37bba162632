"""Graph figures: edges drawn over a digit."""

import numpy as np

from core.figures.graphs import graph_figure
from core.graphs import build_graph


def test_graph_figure_spreads_a_truncated_edge_sample_over_the_whole_image():
    """Drawing only some of many equal-weight edges must not leave part of the image without edges."""
    g = build_graph("knn", k=12)  # 4,921 undirected edges, all weight 1
    fig = graph_figure(np.zeros((28, 28), np.float32), g, max_edges=2000)
    edges = next(t for t in fig.data if t.name and "edges" in t.name)
    ys = np.array([y for y in edges.y if y is not None and not np.isnan(y)])
    assert "2,000 of" in edges.name
    assert ys.min() <= 2 and ys.max() >= 25  # edges drawn at the top and at the bottom
