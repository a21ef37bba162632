"""Graph convolution whose edge weights are predicted from pixel coordinates."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from core.models.layers.inits import glorot, zeros
from core.models.layers.propagate import propagate_linear
from core.models.layers.shared_graph import SharedGraph, build_adjacency, use_sparse

INPUTS = {"diff": 2, "abs": 4, "both": 6}  # edge MLP input -> its width
NORMS = ("rw", "sym")


class LearnedEdgeConv(nn.Module):
    r"""A graph convolution on learned edge weights: :math:`\mathbf{X}' = \hat{\mathbf{A}} \mathbf{X}
    \mathbf{W} + \mathbf{b}`.

    The weight of every edge j -> i of the given graph (plus one loop per node with ``add_self_loops``)
    is predicted by a small MLP from the endpoints' coordinates, scaled to [0, 1]:

    .. math::
        a_{ij} = \mathrm{softplus}\big(\mathrm{MLP}(\mathbf{p}_i, \mathbf{p}_j, \mathbf{p}_j - \mathbf{p}_i)\big)

    then normalised: ``norm="rw"`` gives :math:`\hat{\mathbf{A}} = \mathbf{D}^{-1}\mathbf{A}` (a learned
    weighted mean), ``"sym"`` gives :math:`\mathbf{D}^{-1/2}\mathbf{A}\mathbf{D}^{-1/2}`. With
    ``inputs="diff"`` the MLP sees only the offset, so the filter is the same at every pixel (like a CNN
    kernel); ``"abs"``/``"both"`` let it vary over the image. The graph only fixes which edges exist
    (pass a kNN or full graph for a dense "learned" graph); its weights are ignored. The adjacency is
    rebuilt every forward with gradients flowing into the edge MLP.

    Args:
        in_channels: C_in. out_channels: C_out. hidden_channels: width of the edge MLP.
        inputs: "diff", "abs" or "both" (see above). norm: "rw" or "sym".
        add_self_loops: learn a weight for each node's own features too. bias: learn an additive bias.

    Shapes:
        x (B, N, C_in), graph with N nodes and positions (N, 2) -> (B, N, C_out)
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        hidden_channels: int = 16,
        inputs: str = "both",
        norm: str = "rw",
        add_self_loops: bool = True,
        bias: bool = True,
        **kwargs,
    ):
        super().__init__()
        if inputs not in INPUTS:
            raise ValueError(f"inputs must be one of {', '.join(INPUTS)}, got {inputs!r}")
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {', '.join(NORMS)}, got {norm!r}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.hidden_channels = hidden_channels
        self.inputs = inputs
        self.norm = norm
        self.add_self_loops = add_self_loops
        self.edge_mlp = nn.Sequential(
            nn.Linear(INPUTS[inputs], hidden_channels), nn.Tanh(), nn.Linear(hidden_channels, 1)
        )
        self.lin = nn.Linear(in_channels, out_channels, bias=False)
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for layer in self.edge_mlp:
            if isinstance(layer, nn.Linear):
                layer.reset_parameters()
        glorot(self.lin.weight)
        zeros(self.bias)

    def edge_index(self, graph: SharedGraph) -> Tensor:
        """(2, E') edges the weights live on: the graph's, with loops replaced by one per node."""
        return graph.edges("sum" if self.add_self_loops else "none")[0]

    def edge_weights(self, graph: SharedGraph, normalized: bool = True) -> Tensor:
        """(E',) learned weights on ``edge_index(graph)``, normalised (``norm``) or raw (> 0)."""
        src, dst = self.edge_index(graph)
        lo, hi = graph.pos.min(dim=0).values, graph.pos.max(dim=0).values
        p = (graph.pos - lo) / (hi - lo).clamp_min(1e-12)  # (N, 2) in [0, 1]
        parts = {"diff": [p[src] - p[dst]], "abs": [p[dst], p[src]]}
        parts["both"] = parts["abs"] + parts["diff"]
        feats = torch.cat(parts[self.inputs], dim=-1)  # (E', INPUTS[inputs])
        w = F.softplus(self.edge_mlp(feats)).squeeze(-1)  # (E',)
        if not normalized:
            return w
        deg = w.new_zeros(graph.num_nodes).index_add(0, dst, w)  # (N,) weighted in-degree
        if self.norm == "rw":
            return w / deg.clamp_min(1e-12)[dst]
        d = deg.clamp_min(1e-12).rsqrt()
        return d[dst] * w * d[src]

    def dense_adjacency(self, graph: SharedGraph) -> Tensor:
        """(N, N) normalised learned adjacency, A[i, j] = weight of edge j -> i (row i: node i's filter)."""
        return build_adjacency(self.edge_index(graph), self.edge_weights(graph), graph.num_nodes, sparse=False)

    def forward(self, x: Tensor, graph: SharedGraph) -> Tensor:
        edge_index = self.edge_index(graph)
        sparse = use_sparse(edge_index.shape[1], graph.num_nodes, x.device, graph.sparse)
        adj = build_adjacency(edge_index, self.edge_weights(graph), graph.num_nodes, sparse)  # (N, N)
        out = propagate_linear(adj, x, self.lin.weight)  # (B, N, C_out)
        if self.bias is not None:
            out = out + self.bias
        return out

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}({self.in_channels}, {self.out_channels}, inputs={self.inputs}, "
            f"norm={self.norm}, hidden={self.hidden_channels})"
        )
