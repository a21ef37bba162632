"""Graph attention layer on a shared graph."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from core.graphs.shape import GraphShape
from core.models.base import Footprint
from core.models.layers.gathered import GatheredProduct
from core.models.layers.inits import glorot, segment_softmax, zeros
from core.models.layers.shared_graph import SharedGraph


class GATConv(nn.Module):
    r"""The graph attention operator from `"Graph Attention Networks"
    <https://arxiv.org/abs/1710.10903>`_, batched over a shared graph.

    .. math::
        \mathbf{x}'_i = \big\Vert_{h=1}^{H} \sum_{j \in \mathcal{N}(i) \cup \{i\}}
        \alpha^h_{ij} \mathbf{W}^h \mathbf{x}_j + \mathbf{b},\qquad
        \alpha^h_{ij} = \mathrm{softmax}_j\big(\mathrm{LeakyReLU}(
        \mathbf{a}^{h\top}_{src} \mathbf{W}^h \mathbf{x}_j + \mathbf{a}^{h\top}_{dst} \mathbf{W}^h \mathbf{x}_i)\big)

    (heads averaged instead of concatenated when ``concat=False``). Attention depends on the image, so
    it is computed per edge for the whole batch: an (E, B, H) score tensor over the shared edge list,
    softmax over the incoming edges of each node, then a scatter-add of the weighted messages. Edge
    weights are ignored (only the graph's structure is used). With ``add_self_loops`` existing loops are
    replaced by one loop per node (the edges of norm ``"sum"``). Same parameters (``lin.weight``,
    ``att_src``, ``att_dst``, ``bias``) and output as ``torch_geometric.nn.GATConv``.

    Args:
        in_channels: C_in. out_channels: C per head. heads: H.
        concat: concatenate heads (C_out = H*C) or average them (C_out = C).
        negative_slope: LeakyReLU slope. dropout: dropout on the attention coefficients (training only).
        add_self_loops: let every node attend to itself. bias: learn an additive bias.

    Shapes:
        x (B, N, C_in), graph with N nodes -> (B, N, H*C) if concat else (B, N, C)
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        heads: int = 1,
        concat: bool = True,
        negative_slope: float = 0.2,
        dropout: float = 0.0,
        add_self_loops: bool = True,
        bias: bool = True,
        **kwargs,
    ):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.heads = heads
        self.concat = concat
        self.negative_slope = negative_slope
        self.dropout = dropout
        self.add_self_loops = add_self_loops
        self.lin = nn.Linear(in_channels, heads * out_channels, bias=False)
        self.att_src = nn.Parameter(torch.empty(1, heads, out_channels))
        self.att_dst = nn.Parameter(torch.empty(1, heads, out_channels))
        total_out = heads * out_channels if concat else out_channels
        self.bias = nn.Parameter(torch.empty(total_out)) if bias else None
        self.reset_parameters()

    @property
    def norm(self) -> str:  # whose edge list the attention runs on
        return "sum" if self.add_self_loops else "none"

    @staticmethod
    def footprint(in_channels: int, out_channels: int, shape: GraphShape, heads: int = 1, **kwargs) -> Footprint:
        """What one step costs on a graph of ``shape`` (``core.models.base.Footprint``): ``out_channels`` per head;
        every edge keeps its gathered source features and attention values per head for the backward pass (a
        measured worker grew ~4d + 16 floats per edge and head, ``core.training.cost.AUTOGRAD`` included)."""
        n, e, width = shape.nodes, shape.edges + shape.nodes, heads * out_channels
        per_edge = e * heads * (2.2 * out_channels + 9)
        return Footprint(
            in_channels * width + 3 * width,
            activations=n * (in_channels + 3 * width) + per_edge,
            flops=2.0 * n * in_channels * width,
            gathers=5.0 * per_edge,
        )  # segment softmax, scatters

    def reset_parameters(self) -> None:
        glorot(self.lin.weight)
        glorot(self.att_src)
        glorot(self.att_dst)
        zeros(self.bias)

    def gather(self, graph: SharedGraph) -> None:
        """Attend over padded neighbour lists from now on (``SharedGraph.gather``): the same numbers with gathers
        and a softmax over each node's list, no scatter, so that torch.onnx can export the layer."""
        graph.gather(self.norm, dense=False)

    def forward(self, x: Tensor, graph: SharedGraph) -> Tensor:
        B, N, _ = x.shape
        H, C = self.heads, self.out_channels
        if self.norm in graph.gathered:
            return self._forward_gathered(x, graph.gather(self.norm))
        edge_index, _ = graph.edges(self.norm)
        src, dst = edge_index  # (E,), (E,)
        # node-major (N, B, H, C): gathers, softmax and scatter all run over dim 0 (fastest on CPU)
        h = self.lin(x).transpose(0, 1).reshape(N, B, H, C)  # (N, B, H, C)
        alpha_src = (h * self.att_src).sum(dim=-1)  # (N, B, H)
        alpha_dst = (h * self.att_dst).sum(dim=-1)  # (N, B, H)
        alpha = alpha_src[src] + alpha_dst[dst]  # (E, B, H)
        alpha = F.leaky_relu(alpha, self.negative_slope)
        alpha = segment_softmax(alpha, dst, num_nodes=N)  # over the incoming edges of each target
        alpha = F.dropout(alpha, p=self.dropout, training=self.training)
        msg = alpha.unsqueeze(-1) * h[src]  # (E, B, H, C)
        out = h.new_zeros(N, B, H, C).index_add_(0, dst, msg).transpose(0, 1)  # (B, N, H, C)
        out = out.reshape(B, N, H * C) if self.concat else out.mean(dim=2)
        if self.bias is not None:
            out = out + self.bias
        return out

    def _forward_gathered(self, x: Tensor, lists: GatheredProduct) -> Tensor:
        """``forward`` on each node's padded list of D incoming edges (``lists.index`` (N, D), ``lists.valid``)."""
        B, N, _ = x.shape
        H, C = self.heads, self.out_channels
        h = self.lin(x).transpose(0, 1).reshape(N, B, H, C)  # (N, B, H, C)
        alpha_src = (h * self.att_src).sum(dim=-1)  # (N, B, H)
        alpha_dst = (h * self.att_dst).sum(dim=-1)  # (N, B, H)
        alpha = F.leaky_relu(alpha_src[lists.index] + alpha_dst.unsqueeze(1), self.negative_slope)  # (N, D, B, H)
        padding = ~lists.valid.view(N, -1, 1, 1)  # (N, D, 1, 1)
        alpha = torch.softmax(alpha.masked_fill(padding, float("-inf")), dim=1).masked_fill(padding, 0.0)
        alpha = F.dropout(alpha, p=self.dropout, training=self.training)
        out = torch.einsum("ndbh,ndbhc->bnhc", alpha, h[lists.index])  # (B, N, H, C)
        out = out.reshape(B, N, H * C) if self.concat else out.mean(dim=2)
        if self.bias is not None:
            out = out + self.bias
        return out

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}({self.in_channels}, {self.out_channels}, heads={self.heads}, "
            f"concat={self.concat})"
        )
