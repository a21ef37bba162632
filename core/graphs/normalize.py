"""Adjacency normalisations, on edge lists (no dense N x N unless the graph is dense anyway).

With A the weighted adjacency (A[i, j] = weight of edge j -> i), D = diag(row sums of A):

- ``none``: A
- ``sum``:  A + I (sum aggregation that keeps the node itself, as GIN does)
- ``rw``:   D^-1 A (random walk: every row sums to 1, a mean over neighbours)
- ``sym``:  D^-1/2 A D^-1/2
- ``gcn``:  D~^-1/2 (A + I) D~^-1/2 with D~ the degrees of A + I (Kipf & Welling)
- ``cheb``: scaled Laplacian L~ = 2 L / lambda_max - I with L = I - D^-1/2 A D^-1/2 and
            lambda_max = 2 (PyG ChebConv's default for ``sym``), so L~ = -D^-1/2 A D^-1/2
"""

from __future__ import annotations

import torch

from core.errors import UserInputError
from core.graphs.base import Graph
from core.graphs.grid import complete_edge_index, is_complete_edge_index

NORMS: dict[str, str] = {  # name -> LaTeX formula shown in the UI
    "none": r"\hat A = A",
    "sum": r"\hat A = A + I",
    "rw": r"\hat A = D^{-1} A",
    "sym": r"\hat A = D^{-1/2} A D^{-1/2}",
    "gcn": r"\hat A = \tilde D^{-1/2} (A + I) \tilde D^{-1/2},\ \tilde D = D + I",
    "cheb": r"\tilde L = \tfrac{2}{\lambda_{max}} L - I,\ L = I - D^{-1/2} A D^{-1/2},\ \lambda_{max} = 2",
}


def _add_self_loops(g: Graph, fill: float = 1.0) -> Graph:
    n = g.num_nodes
    if is_complete_edge_index(g.edge_index, n):  # a dense graph: no loops yet, and its looped index is shared too
        ew = torch.cat([g.edge_weight, torch.full((n,), fill, dtype=g.edge_weight.dtype)])
        return g.with_(edge_index=complete_edge_index(n, self_loops=True), edge_weight=ew)
    keep = g.edge_index[0] != g.edge_index[1]  # drop existing loops, then add one per node
    loops = torch.arange(n, dtype=torch.long).repeat(2, 1)
    ei = torch.cat([g.edge_index[:, keep], loops], dim=1)
    ew = torch.cat([g.edge_weight[keep], torch.full((n,), fill, dtype=g.edge_weight.dtype)])
    return g.with_(edge_index=ei, edge_weight=ew)


def _inv_pow(deg: torch.Tensor, p: float) -> torch.Tensor:
    out = deg.clamp_min(1e-12).pow(-p)
    return torch.where(deg > 0, out, torch.zeros_like(out))  # isolated nodes stay 0


def normalize(graph: Graph, norm: str) -> Graph:
    """Return a new graph whose edge weights are the normalised adjacency ``norm``."""
    if norm not in NORMS:
        raise UserInputError("norm", f"unknown normalisation {norm!r} (choose from {', '.join(NORMS)})")
    g = graph
    if norm in ("sum", "gcn"):
        g = _add_self_loops(g)
    src, dst = g.edge_index
    w = g.edge_weight
    if norm in ("sym", "gcn", "cheb"):
        d = _inv_pow(g.degrees(), 0.5)
        w = d[dst] * w * d[src]
        if norm == "cheb":
            w = -w
    elif norm == "rw":
        w = _inv_pow(g.degrees(), 1.0)[dst] * w
    return g.with_(edge_weight=w, params={**g.params, "norm": norm})
