"""How big a graph will be, known from its kind and parameters without building it (milliseconds).

The cost of a run (``core.training.cost``) is estimated before anything is built, so a config that
would need gigabytes is refused at once: :meth:`GraphSpec.shape` gives the node and edge counts of a
pixel graph at any side (the coarser levels of a pooled network too) and of a superpixel graph.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

KNN_EXTRA = 1  # a symmetrised k-NN graph has up to one more edge per node than k (28x28 pixels: 3-NN 3.87, 8-NN 8.16)
RAG_DEGREE = 6  # regions that touch: about six neighbours each (a planar map)


@dataclass(frozen=True)
class GraphShape:
    """``nodes`` per image and ``edges`` (directed, self-loops not counted)."""

    nodes: int
    edges: int


@dataclass(frozen=True)
class GraphSpec:
    """A graph kind and its parameters, as a run's config names them."""

    kind: str
    params: dict[str, Any] = field(default_factory=dict)

    def shape(self, size: int = 28, full: int = 28) -> GraphShape:
        """The graph's size on a ``size`` x ``size`` pixel layout; a coarser level of a ``full``-sided image keeps
        the kernel's width in grid steps, as ``core.models.graph_net.coarse_graph`` builds it."""
        p = dict(self.params)
        if size != full and size > 1 and p.get("sigma") is not None:
            p["sigma"] = min(float(p["sigma"]) * (full - 1) / (size - 1), 1.0)
        if self.kind == "superpixels":
            n = int(p.get("segments", 75))
            degree = RAG_DEGREE if p.get("edges") == "rag" else min(int(p.get("k", 8)) + KNN_EXTRA, n - 1)
            return GraphShape(n, int(n * degree))
        n = size * size
        if self.kind == "grid":
            straight = 2 * 2 * size * (size - 1)
            return GraphShape(n, straight + (2 * 2 * (size - 1) ** 2 if int(p.get("neighbours", 8)) == 8 else 0))
        if self.kind == "knn":
            return GraphShape(n, int(min(int(p.get("k", 8)) + KNN_EXTRA, n - 1) * n))
        if self.kind == "gaussian":
            edges = n * (n - 1)
            if p.get("cutoff"):
                edges = min(edges, _within_reach(size, float(p.get("sigma") or 0.05), float(p["cutoff"])))
            if p.get("topk"):
                edges = min(edges, int(min(int(p["topk"]) + KNN_EXTRA, n - 1) * n))
            return GraphShape(n, edges)
        return GraphShape(n, n * (n - 1))  # complete, and any kind not known here: every pair


def _within_reach(size: int, sigma: float, cutoff: float) -> int:
    """Pixel pairs of a ``size`` grid (coordinates on [0, 1]) whose weight exp(-d^2 / sigma^2) is at least
    ``cutoff``: every offset within reach, counted as often as it fits on the grid."""
    if cutoff <= 0:
        return size * size * (size * size - 1)
    reach2 = sigma * sigma * math.log(1.0 / cutoff) * (size - 1) ** 2  # in grid steps squared
    d = np.arange(-(size - 1), size)
    dx, dy = np.meshgrid(d, d)
    fits = (size - np.abs(dx)) * (size - np.abs(dy))
    inside = (dx * dx + dy * dy <= reach2) & ((dx != 0) | (dy != 0))
    return int(fits[inside].sum())
