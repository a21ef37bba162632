"""Graphs over MNIST images: builders (grid, knn, gaussian, superpixels), normalisations, and the
superpixel graphs of a whole data set (``superpixel_dataset``, cached).

May import ``data`` and the base modules; never ``models``, ``training`` or anything above.
"""

from __future__ import annotations

import numpy as np
import torch

from core.errors import UserInputError
from core.graphs.base import Graph
from core.graphs.builders import (
    FORMULAS,
    GRAPH_CHOICES,
    GRAPH_PARAMS,
    GRAPHS,
    SIZE_PARAM,
    ParamSpec,
    build_graph,
    check_params,
    describe_graph,
)
from core.graphs.normalize import NORMS, normalize


def adjacency_row(graph: Graph, node: int) -> np.ndarray:
    r"""(N,) row ``node`` of the adjacency: entry ``j`` is :math:`A_{ij}`, the summed weight of the
    edges ``j -> i`` with ``i = node``. For a pixel graph, ``.reshape(size, size)`` draws the
    "filter" node ``i`` applies to the image."""
    if isinstance(node, bool) or not isinstance(node, (int, np.integer)) or not 0 <= node < graph.num_nodes:
        raise UserInputError("node", f"must be an integer in [0, {graph.num_nodes - 1}], got {node!r}")
    into = graph.edge_index[1] == int(node)  # (E,) edges that end at node
    row = torch.zeros(graph.num_nodes, dtype=torch.float64)
    row.index_add_(0, graph.edge_index[0][into], graph.edge_weight[into].double())
    return row.numpy().astype(np.float32)  # (N,)


__all__ = [
    "FORMULAS",
    "GRAPHS",
    "GRAPH_CHOICES",
    "GRAPH_PARAMS",
    "NORMS",
    "SIZE_PARAM",
    "Graph",
    "ParamSpec",
    "adjacency_row",
    "build_graph",
    "check_params",
    "describe_graph",
    "normalize",
]
