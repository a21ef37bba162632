"""Chebyshev spectral graph convolution on a shared graph."""

from __future__ import annotations

from typing import cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from core.graphs.shape import GraphShape
from core.models.base import Footprint
from core.models.layers.inits import glorot, zeros
from core.models.layers.propagate import spmm
from core.models.layers.shared_graph import SharedGraph, product_footprint


class ChebConv(nn.Module):
    r"""The Chebyshev spectral graph convolution from `"Convolutional Neural Networks on Graphs with
    Fast Localized Spectral Filtering" <https://arxiv.org/abs/1606.09375>`_, batched over a shared graph.

    .. math::
        \mathbf{X}' = \sum_{k=0}^{K-1} \mathbf{T}_k \mathbf{W}_k + \mathbf{b},\quad
        \mathbf{T}_0 = \mathbf{X},\ \mathbf{T}_1 = \tilde{\mathbf{L}} \mathbf{X},\
        \mathbf{T}_k = 2 \tilde{\mathbf{L}} \mathbf{T}_{k-1} - \mathbf{T}_{k-2}

    on the scaled Laplacian :math:`\tilde{\mathbf{L}} = 2\mathbf{L}/\lambda_{max} - \mathbf{I}`,
    :math:`\mathbf{L} = \mathbf{I} - \mathbf{D}^{-1/2}\mathbf{A}\mathbf{D}^{-1/2}`, :math:`\lambda_{max} = 2`
    (norm ``"cheb"``). A filter of order K reaches the (K-1)-hop neighbourhood. Same parameters
    (``lins.k.weight``, ``bias``) and output as ``torch_geometric.nn.ChebConv(normalization="sym")``.
    The recursion runs in node-major layout (N, B*C_in): one graph product per order, no reshapes
    (``forward_node_major`` takes and returns that layout directly).

    Args:
        in_channels: C_in. out_channels: C_out. K: filter order (>= 1). bias: learn an additive bias.

    Shapes:
        x (B, N, C_in), graph with N nodes -> (B, N, C_out)
    """

    norm = "cheb"

    def __init__(self, in_channels: int, out_channels: int, K: int = 3, bias: bool = True, **kwargs):
        super().__init__()
        if K < 1:
            raise ValueError(f"ChebConv needs K >= 1, got {K}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.K = K
        self.lins = nn.ModuleList(nn.Linear(in_channels, out_channels, bias=False) for _ in range(K))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    @staticmethod
    def footprint(in_channels: int, out_channels: int, shape: GraphShape, K: int = 5, **kwargs) -> Footprint:
        """What one step costs on a graph of ``shape`` (``core.models.base.Footprint``): K - 1 products with L̃ on
        ``in_channels``, then one (N, K C_in) x (K C_in, C_out) product."""
        n = shape.nodes
        return Footprint(
            K * in_channels * out_channels + out_channels,
            activations=n * (2 * K * in_channels + 2 * out_channels),  # T_k X and their concatenation
            flops=2.0 * K * n * in_channels * out_channels,
        ) + product_footprint(shape, in_channels, K - 1)

    def reset_parameters(self) -> None:
        for lin in self.lins:
            glorot(lin.weight)
        zeros(self.bias)

    def forward(self, x: Tensor, graph: SharedGraph) -> Tensor:
        """x (B, N, C_in) -> (B, N, C_out) (a view of node-major memory)."""
        return self.forward_node_major(x.transpose(0, 1).contiguous(), graph).transpose(0, 1)

    def forward_node_major(self, xt: Tensor, graph: SharedGraph) -> Tensor:
        """The same layer on node-major features: xt (N, B, C_in) contiguous -> (N, B, C_out) contiguous.

        GraphNet keeps features in this layout between layers, so no transposes are copied.
        """
        N, B, C = xt.shape
        terms = [xt.reshape(N, B * C)]  # T_0 = X, each (N, B*C_in)
        if self.K > 1:
            lap = graph.product(self.norm)  # (N, N) scaled Laplacian
            terms.append(spmm(lap, terms[0]))  # T_1 = L~ X
            for _ in range(2, self.K):
                terms.append(2.0 * spmm(lap, terms[-1]) - terms[-2])  # T_k = 2 L~ T_{k-1} - T_{k-2}
        # one GEMM for all orders: [T_0 .. T_{K-1}] (N, B, K*C_in) x [W_0 .. W_{K-1}]^T (K*C_in, C_out)
        stacked = torch.cat([t.view(N, B, C) for t in terms], dim=-1)
        weight = torch.cat([cast(nn.Linear, lin).weight for lin in self.lins], dim=1)  # (C_out, K*C_in)
        return F.linear(stacked, weight, self.bias)  # (N, B, C_out)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.in_channels}, {self.out_channels}, K={self.K})"
