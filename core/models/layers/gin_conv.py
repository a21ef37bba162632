"""Graph isomorphism network layer on a shared graph."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from core.graphs.shape import GraphShape
from core.models.base import Footprint
from core.models.layers.inits import reset
from core.models.layers.propagate import propagate
from core.models.layers.shared_graph import SharedGraph, product_footprint


class GINConv(nn.Module):
    r"""The graph isomorphism operator from `"How Powerful are Graph Neural Networks?"
    <https://arxiv.org/abs/1810.00826>`_, batched over a shared graph.

    .. math::
        \mathbf{x}'_i = h_{\mathbf{\Theta}} \left( (1 + \epsilon) \mathbf{x}_i
        + \sum_{j \in \mathcal{N}(i)} A_{ij} \mathbf{x}_j \right)

    The sum uses the raw adjacency (norm ``"none"``): a plain sum on unweighted graphs, weighted on
    weighted ones (PyG ignores weights). :math:`h_{\mathbf{\Theta}}` is ``nn`` when given, else
    ``Linear(C_in, hidden) -> ReLU -> Linear(hidden, C_out)``. Same parameters (``nn.*``, ``eps``) and
    output as ``torch_geometric.nn.GINConv`` on unweighted graphs.

    Args:
        in_channels: C_in. out_channels: C_out.
        eps: initial :math:`\epsilon`. train_eps: learn :math:`\epsilon`.
        hidden_channels: width of the default MLP (default C_out).
        nn: a module mapping (..., C_in) -> (..., C_out) to use instead of the default MLP.
        bias: biases of the default MLP.

    Shapes:
        x (B, N, C_in), graph with N nodes -> (B, N, C_out)
    """

    norm = "none"

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        eps: float = 0.0,
        train_eps: bool = False,
        hidden_channels: int | None = None,
        nn: torch.nn.Module | None = None,
        bias: bool = True,
        **kwargs,
    ):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.initial_eps = eps
        self.train_eps = train_eps
        hidden = hidden_channels or out_channels
        self.nn = (
            nn
            if nn is not None
            else torch.nn.Sequential(
                torch.nn.Linear(in_channels, hidden, bias=bias),
                torch.nn.ReLU(),
                torch.nn.Linear(hidden, out_channels, bias=bias),
            )
        )
        if train_eps:
            self.eps = torch.nn.Parameter(torch.empty(1))
        else:
            self.register_buffer("eps", torch.empty(1))
        self.reset_parameters()

    @staticmethod
    def footprint(in_channels: int, out_channels: int, shape: GraphShape, **kwargs) -> Footprint:
        """What one step costs on a graph of ``shape`` (``core.models.base.Footprint``): a neighbour sum and the
        two-layer MLP."""
        n, c = shape.nodes, out_channels
        return Footprint(
            in_channels * c + c * c + 2 * c,
            activations=n * (in_channels + 4 * c),
            flops=2.0 * n * (in_channels * c + c * c),
        ) + product_footprint(shape, in_channels)

    def reset_parameters(self) -> None:
        reset(self.nn)
        self.eps.data.fill_(self.initial_eps)

    def forward(self, x: Tensor, graph: SharedGraph) -> Tensor:
        out = propagate(graph.product(self.norm), x) + (1 + self.eps) * x  # (B, N, C_in)
        return self.nn(out)  # (B, N, C_out)

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}({self.in_channels}, {self.out_channels}, "
            f"eps={self.initial_eps}, train_eps={self.train_eps})"
        )
