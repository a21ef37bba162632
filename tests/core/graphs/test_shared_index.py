"""Dense graphs share one edge index (and one with self-loops) per node count; their values are exactly those of the
construction before the sharing (every pair's edge from np.nonzero, loops appended by a copy of the edge list)."""

from __future__ import annotations

import gc

import numpy as np
import pytest
import torch

from core.graphs import NORMS, Graph, build_graph, normalize
from core.graphs.grid import complete_edge_index, pairwise_offsets, pixel_positions
from core.graphs.knn import gaussian_weights, knn_mask


def old_gaussian(size: int, sigma: float, cutoff=None, topk=None) -> tuple[torch.Tensor, torch.Tensor]:
    """(edge_index, edge_weight) as gaussian() built them before the shared index: the whole (N, N) kernel, then
    np.nonzero of the mask and the weights gathered at (target, source)."""
    n = size * size
    pos = pixel_positions(size)
    dist2 = (pairwise_offsets(pos) ** 2).sum(-1)
    weight = gaussian_weights(dist2 / (size - 1) ** 2, sigma)
    mask = ~np.eye(n, dtype=bool)
    if topk is not None:
        mask &= knn_mask(dist2, topk)
    if cutoff is not None:
        mask &= weight >= cutoff
    tgt, src = np.nonzero(mask)
    return (
        torch.as_tensor(np.stack([src, tgt]), dtype=torch.long),
        torch.as_tensor(weight[tgt, src], dtype=torch.float32),
    )


def old_normalize(edge_index: torch.Tensor, edge_weight: torch.Tensor, n: int, norm: str):
    """normalize() before the shared looped index: loops appended to a copy of the edge list."""
    if norm in ("sum", "gcn"):
        keep = edge_index[0] != edge_index[1]
        edge_index = torch.cat([edge_index[:, keep], torch.arange(n, dtype=torch.long).repeat(2, 1)], dim=1)
        edge_weight = torch.cat([edge_weight[keep], torch.ones(n, dtype=edge_weight.dtype)])
    src, dst = edge_index
    deg = torch.zeros(n, dtype=edge_weight.dtype).index_add_(0, dst, edge_weight)
    w = edge_weight
    if norm in ("sym", "gcn", "cheb"):
        d = torch.where(deg > 0, deg.clamp_min(1e-12).pow(-0.5), torch.zeros_like(deg))
        w = d[dst] * w * d[src]
        w = -w if norm == "cheb" else w
    elif norm == "rw":
        w = torch.where(deg > 0, deg.clamp_min(1e-12).pow(-1.0), torch.zeros_like(deg))[dst] * w
    return edge_index, w


@pytest.mark.parametrize(
    "size,sigma,cutoff,topk",
    [
        (3, 0.5, None, None),
        (4, 0.05, None, None),
        (4, 0.4, None, None),
        (4, 0.4, 0.0, None),
        (4, 0.4, 0.5, None),
        (4, 0.4, None, 3),
    ],
)
@pytest.mark.parametrize("norm", list(NORMS))
def test_gaussian_graphs_are_unchanged(size, sigma, cutoff, topk, norm):
    g = build_graph("gaussian", size=size, sigma=sigma, cutoff=cutoff, topk=topk)
    ei, ew = old_gaussian(size, sigma, cutoff, topk)
    assert torch.equal(g.edge_index, ei) and torch.equal(g.edge_weight, ew)  # bit for bit, in the same order
    assert g.edge_index.dtype == torch.long and g.edge_weight.dtype == torch.float32
    normed = normalize(g, norm)
    nei, nw = old_normalize(ei, ew, size * size, norm)
    assert torch.equal(normed.edge_index, nei) and torch.equal(normed.edge_weight, nw)


def test_the_complete_graph_is_unchanged():
    g = build_graph("complete", size=3)
    tgt, src = np.nonzero(~np.eye(9, dtype=bool))
    assert torch.equal(g.edge_index, torch.as_tensor(np.stack([src, tgt]), dtype=torch.long))
    assert torch.equal(g.edge_weight, torch.ones(72))


def test_dense_graphs_share_one_index_and_one_looped_index():
    a = build_graph("gaussian", size=5, sigma=0.1)
    b = build_graph("gaussian", size=5, sigma=0.7)
    c = build_graph("complete", size=5)
    d = build_graph("gaussian", size=5, sigma=0.7, cutoff=0.0)  # keeps every pair: dense too
    assert a.edge_index is b.edge_index is c.edge_index is d.edge_index is complete_edge_index(25)
    assert not torch.equal(a.edge_weight, b.edge_weight)
    na, nb = normalize(a, "gcn"), normalize(b, "sum")
    assert na.edge_index is nb.edge_index is complete_edge_index(25, self_loops=True)
    assert normalize(a, "rw").edge_index is a.edge_index  # no loops added: the same index


def test_sparse_graphs_keep_their_own_index():
    sparse = build_graph("gaussian", size=5, sigma=0.3, cutoff=0.5)
    grid = build_graph("grid", size=5)
    assert sparse.edge_index is not complete_edge_index(25) and grid.edge_index is not complete_edge_index(25)
    looped = normalize(grid, "gcn")
    assert looped.num_self_loops == 25 and looped.num_edges == grid.num_edges + 25


def test_the_shared_index_lives_only_while_a_graph_holds_it():
    g = build_graph("gaussian", size=6, sigma=0.2)
    ptr = g.edge_index.data_ptr()
    assert build_graph("complete", size=6).edge_index.data_ptr() == ptr
    del g
    gc.collect()
    from core.graphs import grid as grid_module

    assert (36, False) not in grid_module._COMPLETE  # a weak cache: nothing keeps it once no graph does


def test_a_graph_with_its_own_loops_is_not_taken_for_a_dense_one():
    n = 4
    ei = torch.tensor([[0, 1, 2, 3, 0], [1, 0, 3, 2, 0]])  # one loop already
    g = Graph(edge_index=ei, edge_weight=torch.ones(5), num_nodes=n, pos=torch.zeros(n, 2))
    out = normalize(g, "gcn")
    assert out.num_self_loops == n and out.num_edges == 4 + n
