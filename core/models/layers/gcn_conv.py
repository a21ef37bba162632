"""Graph convolution of Kipf & Welling on a shared graph."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from core.graphs.shape import GraphShape
from core.models.base import Footprint
from core.models.layers.inits import glorot, zeros
from core.models.layers.propagate import propagate_linear
from core.models.layers.shared_graph import SharedGraph, product_footprint


class GCNConv(nn.Module):
    r"""The graph convolutional operator from `"Semi-supervised Classification with Graph
    Convolutional Networks" <https://arxiv.org/abs/1609.02907>`_, batched over a shared graph.

    .. math::
        \mathbf{X}' = \hat{\mathbf{D}}^{-1/2} \hat{\mathbf{A}} \hat{\mathbf{D}}^{-1/2} \mathbf{X}
        \mathbf{W} + \mathbf{b}

    with :math:`\hat{\mathbf{A}} = \mathbf{A} + \mathbf{I}` and :math:`\hat{D}_{ii} = \sum_j \hat{A}_{ij}`
    (edge weights included): norm ``"gcn"``. Same parameters (``lin.weight``, ``bias``) and output as
    ``torch_geometric.nn.GCNConv`` applied to each image. :math:`\mathbf{W}` is applied before the
    propagation when that is cheaper (``out_channels < in_channels``).

    Args:
        in_channels: C_in. out_channels: C_out. bias: learn an additive bias.

    Shapes:
        x (B, N, C_in), graph with N nodes -> (B, N, C_out)
    """

    norm = "gcn"

    def __init__(self, in_channels: int, out_channels: int, bias: bool = True, **kwargs):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.lin = nn.Linear(in_channels, out_channels, bias=False)  # weight (C_out, C_in)
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    @staticmethod
    def footprint(in_channels: int, out_channels: int, shape: GraphShape, **kwargs) -> Footprint:
        """What one step costs on a graph of ``shape`` (``core.models.base.Footprint``): X W, then Â (X W)."""
        n = shape.nodes
        return Footprint(
            in_channels * out_channels + out_channels,
            activations=n * (in_channels + 2 * out_channels),
            flops=2.0 * n * in_channels * out_channels,
        ) + product_footprint(shape, out_channels)

    def reset_parameters(self) -> None:
        glorot(self.lin.weight)
        zeros(self.bias)

    def forward(self, x: Tensor, graph: SharedGraph) -> Tensor:
        out = propagate_linear(graph.product(self.norm), x, self.lin.weight)  # (B, N, C_out)
        if self.bias is not None:
            out = out + self.bias
        return out

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.in_channels}, {self.out_channels})"
