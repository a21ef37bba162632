"""Shared-graph propagation: one product of the (N, N) adjacency with features reshaped to (N, B*C).

Every image of a batch lives on the same graph, so ``A @ x[b]`` for all b is one matrix product with the
batch folded into the columns ("node-major" layout). That is one sparse (or dense) product instead of
PyG's B block-diagonal copies of the graph.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from core.models.layers.gathered import GatheredProduct


def to_node_major(x: torch.Tensor) -> torch.Tensor:
    """(B, N, C) -> (N, B*C), column ``b*C + c`` holds channel c of image b."""
    B, N, C = x.shape
    return x.transpose(0, 1).reshape(N, B * C)


def from_node_major(xt: torch.Tensor, batch_size: int) -> torch.Tensor:
    """(N, B*C) -> (B, N, C), the inverse of ``to_node_major`` (a view when xt is contiguous)."""
    N = xt.shape[0]
    return xt.reshape(N, batch_size, -1).transpose(0, 1)


class _CsrMM(torch.autograd.Function):
    """``A @ X`` for a constant CSR ``A`` whose transpose is known: the backward is ``A^T @ dY``.

    PyTorch's own backward transposes the CSR matrix on every call; reusing a cached A^T made
    forward + backward of one layer about 25% faster here (22 vs 30 ms for N=784, B*C=2048).
    """

    @staticmethod
    def forward(ctx, adj: torch.Tensor, adj_t: torch.Tensor, xt: torch.Tensor) -> torch.Tensor:
        ctx.adj_t = adj_t
        return adj @ xt

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return None, None, ctx.adj_t @ grad


def spmm(adj: torch.Tensor | GatheredProduct, xt: torch.Tensor) -> torch.Tensor:
    """(N, N) dense, sparse COO or sparse CSR adjacency (or its gathered form, for an export) times (N, F) -> (N, F)."""
    if isinstance(adj, GatheredProduct):
        return adj(xt)
    if adj.layout == torch.sparse_coo:
        return torch.sparse.mm(adj, xt)
    adj_t = getattr(adj, "graphconv_transpose", None)  # set by SharedGraph.adj for constant graphs
    if adj_t is not None and xt.requires_grad and not adj.requires_grad:
        return _CsrMM.apply(adj, adj_t, xt)
    return adj @ xt


def propagate(adj: torch.Tensor | GatheredProduct, x: torch.Tensor) -> torch.Tensor:
    """Return ``A @ x`` for every image of the batch at once.

    adj: (N, N) dense or sparse (CSR/COO), A[i, j] = weight of edge j -> i, or a GatheredProduct
    x:   (B, N, C)
    out: (B, N, C), out[b, i] = sum_j A[i, j] x[b, j]
    """
    return from_node_major(spmm(adj, to_node_major(x)), x.shape[0])


def propagate_linear(adj: torch.Tensor | GatheredProduct, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Return ``A X W^T`` per image, multiplying in the cheaper order.

    adj: (N, N); x: (B, N, C_in); weight: (C_out, C_in) (an ``nn.Linear`` weight); out: (B, N, C_out).
    The graph product costs nnz * B * C, so it runs on the narrower side of the linear map.
    """
    if weight.shape[0] < weight.shape[1]:
        return propagate(adj, F.linear(x, weight))  # (B, N, C_out) first, then A
    return F.linear(propagate(adj, x), weight)  # A on (B, N, C_in), then W
