"""Shared-graph propagation: one product of the (N, N) adjacency with features reshaped to (N, B*C)."""

from __future__ import annotations

import torch


def propagate(adj: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Return ``A @ x`` for every image of the batch at once.

    adj: (N, N) dense or sparse (CSR/COO), A[i, j] = weight of edge j -> i
    x:   (B, N, C)
    out: (B, N, C), out[b, i] = sum_j A[i, j] x[b, j]
    """
    B, N, C = x.shape
    xt = x.permute(1, 0, 2).reshape(N, B * C)  # (N, B*C)
    if adj.is_sparse or adj.layout == torch.sparse_csr:
        out = torch.sparse.mm(adj, xt) if adj.layout != torch.sparse_csr else adj @ xt
    else:
        out = adj @ xt  # (N, B*C)
    return out.reshape(N, B, C).permute(1, 0, 2)  # (B, N, C)
