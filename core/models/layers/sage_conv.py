"""GraphSAGE (mean aggregation) on a shared graph."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from core.graphs.shape import GraphShape
from core.models.base import Footprint
from core.models.layers.propagate import propagate_linear
from core.models.layers.shared_graph import SharedGraph, product_footprint


class SAGEConv(nn.Module):
    r"""The GraphSAGE operator from `"Inductive Representation Learning on Large Graphs"
    <https://arxiv.org/abs/1706.02216>`_ with mean aggregation, batched over a shared graph.

    .. math::
        \mathbf{x}'_i = \mathbf{W}_l \cdot \mathrm{mean}_{j \in \mathcal{N}(i)} \mathbf{x}_j + \mathbf{b}
        + \mathbf{W}_r \mathbf{x}_i

    The mean is the random-walk normalised adjacency :math:`\mathbf{D}^{-1}\mathbf{A}` (norm ``"rw"``):
    a plain mean on unweighted graphs, a weighted mean on weighted ones (PyG ignores weights).
    Nodes without neighbours aggregate 0. With ``normalize`` the output is L2-normalised per node.
    Same parameters (``lin_l``, ``lin_r``) and output as ``torch_geometric.nn.SAGEConv(aggr="mean")``
    on unweighted graphs.

    Args:
        in_channels: C_in. out_channels: C_out. normalize: L2-normalise outputs.
        root_weight: add the node's own transformed features :math:`\mathbf{W}_r \mathbf{x}_i`.
        bias: learn an additive bias (on :math:`\mathbf{W}_l`, like PyG).

    Shapes:
        x (B, N, C_in), graph with N nodes -> (B, N, C_out)
    """

    norm = "rw"

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        normalize: bool = False,
        root_weight: bool = True,
        bias: bool = True,
        **kwargs,
    ):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.normalize = normalize
        self.root_weight = root_weight
        self.lin_l = nn.Linear(in_channels, out_channels, bias=bias)  # neighbours
        self.lin_r = nn.Linear(in_channels, out_channels, bias=False) if root_weight else None  # self
        self.reset_parameters()

    @staticmethod
    def footprint(in_channels: int, out_channels: int, shape: GraphShape, **kwargs) -> Footprint:
        """What one step costs on a graph of ``shape`` (``core.models.base.Footprint``): a neighbour mean and two
        linear maps."""
        n = shape.nodes
        return Footprint(
            2 * in_channels * out_channels + out_channels,
            activations=n * (2 * in_channels + 2 * out_channels),
            flops=4.0 * n * in_channels * out_channels,
        ) + product_footprint(shape, in_channels)

    def reset_parameters(self) -> None:
        self.lin_l.reset_parameters()
        if self.lin_r is not None:
            self.lin_r.reset_parameters()

    def forward(self, x: Tensor, graph: SharedGraph) -> Tensor:
        out = propagate_linear(graph.product(self.norm), x, self.lin_l.weight)  # (B, N, C_out)
        if self.lin_l.bias is not None:
            out = out + self.lin_l.bias
        if self.lin_r is not None:
            out = out + self.lin_r(x)
        if self.normalize:
            out = F.normalize(out, p=2.0, dim=-1)
        return out

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.in_channels}, {self.out_channels}, aggr=mean)"
