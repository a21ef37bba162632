"""Graph convolution whose edge weights are predicted from pixel coordinates."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from core.graphs.shape import GraphShape
from core.models.base import Footprint
from core.models.layers.gathered import EdgeLists, GatheredProduct
from core.models.layers.inits import glorot, zeros
from core.models.layers.propagate import propagate_linear
from core.models.layers.shared_graph import SharedGraph, build_adjacency, product_footprint, use_sparse

INPUTS = {"diff": 2, "abs": 4, "both": 6, "offset": 2}  # edge MLP input -> its width
NORMS = ("rw", "sym", "none")
ACTIVATIONS = ("softplus", "tanh", "none")  # positive weights (a learned blur), signed (the tutorial's), raw
EDGE_SETS = ("shared", "out", "pair")  # one set of edge weights, one per output channel, one per channel pair


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

    ``inputs="offset"`` gives the MLP the offset :math:`\mathbf{p}_j - \mathbf{p}_i` in pixels (neighbours
    differ by 1, not by 1/27), so it can tell them apart. ``activation="tanh"`` makes the weights signed, as
    in the graph-convolution tutorial's edge MLP, so a filter can detect an edge instead of only blurring;
    ``norm="none"`` leaves them as predicted (normalisation uses :math:`|a_{ij}|`, so signed weights stay
    signed). ``edge_sets`` chooses how many adjacencies the MLP predicts:

    * ``"shared"``: one, for every channel (the tutorial): :math:`\mathbf{X}' = \hat{\mathbf{A}}\mathbf{X}\mathbf{W}`;
    * ``"out"``: one per output channel: :math:`\mathbf{X}'_{:,o} = \hat{\mathbf{A}}_o (\mathbf{X}\mathbf{W})_{:,o}`;
    * ``"pair"``: one per (input, output) channel pair, and no ``W``:
      :math:`\mathbf{X}'_{:,o} = \sum_c \hat{\mathbf{A}}_{oc} \mathbf{X}_{:,c}`. With offsets on the 8-neighbour
      grid (and its self loops) this **is** a 3x3 convolution whose kernel the MLP predicts per offset.

    Args:
        in_channels: C_in. out_channels: C_out. hidden_channels: width of the edge MLP.
        inputs: "diff", "abs", "both" or "offset" (see above). norm: "rw", "sym" or "none".
        activation: "softplus", "tanh" or "none". edge_sets: "shared", "out" or "pair".
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
        activation: str = "softplus",
        edge_sets: str = "shared",
        add_self_loops: bool = True,
        bias: bool = True,
        **kwargs,
    ):
        super().__init__()
        if inputs not in INPUTS:
            raise ValueError(f"inputs must be one of {', '.join(INPUTS)}, got {inputs!r}")
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {', '.join(NORMS)}, got {norm!r}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}, got {activation!r}")
        if edge_sets not in EDGE_SETS:
            raise ValueError(f"edge_sets must be one of {', '.join(EDGE_SETS)}, got {edge_sets!r}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.hidden_channels = hidden_channels
        self.inputs = inputs
        self.norm = norm
        self.activation = activation
        self.edge_sets = edge_sets
        self.num_sets = {"shared": 1, "out": out_channels, "pair": in_channels * out_channels}[edge_sets]
        self.add_self_loops = add_self_loops
        self._offsets: dict = {}  # (graph, device, N) -> distinct offsets and the inverse index (not saved)
        self.edge_mlp = nn.Sequential(
            nn.Linear(INPUTS[inputs], hidden_channels), nn.Tanh(), nn.Linear(hidden_channels, self.num_sets)
        )
        self.lin = nn.Linear(in_channels, out_channels, bias=False) if edge_sets != "pair" else None
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.gathered: GatheredProduct | EdgeLists | None = None  # the edges as neighbour lists (gather())
        self.reset_parameters()

    @staticmethod
    def footprint(
        in_channels: int,
        out_channels: int,
        shape: GraphShape,
        hidden_channels: int = 16,
        inputs: str = "both",
        edge_sets: str = "shared",
        **kwargs,
    ) -> Footprint:
        """What one step costs on a graph of ``shape`` (``core.models.base.Footprint``): the edge MLP runs once a
        step on every edge (``fixed``); each image's features move along every edge once per edge set."""
        n, e = shape.nodes, shape.edges + shape.nodes
        sets = {"shared": 1, "out": out_channels, "pair": in_channels * out_channels}.get(edge_sets, 1)
        width = INPUTS.get(inputs, 6)
        params = width * hidden_channels + hidden_channels + (hidden_channels + 1) * sets + out_channels
        params += 0 if edge_sets == "pair" else in_channels * out_channels
        moved = out_channels if edge_sets == "shared" else out_channels * (in_channels if edge_sets == "pair" else 1)
        own = Footprint(
            params,
            activations=n * (in_channels + 2 * out_channels) + (0 if edge_sets == "shared" else e * moved),
            fixed=e * (2.0 * hidden_channels + 2 * sets),
            flops=2.0 * n * in_channels * out_channels,
        )
        if edge_sets == "shared":  # one adjacency, dense or sparse as the layer builds it
            return own + product_footprint(shape, out_channels)
        return own + Footprint(0, gathers=2.0 * e * moved)

    def reset_parameters(self) -> None:
        for layer in self.edge_mlp:
            if isinstance(layer, nn.Linear):
                layer.reset_parameters()
        if self.lin is not None:
            glorot(self.lin.weight)
        zeros(self.bias)

    def edge_index(self, graph: SharedGraph) -> Tensor:
        """(2, E') edges the weights live on: the graph's, with loops replaced by one per node."""
        return graph.edges("sum" if self.add_self_loops else "none")[0]

    def edge_features(self, graph: SharedGraph) -> Tensor:
        """(E', INPUTS[inputs]) what the edge MLP sees for each edge of ``edge_index(graph)``."""
        src, dst = self.edge_index(graph)
        if self.inputs == "offset":
            return graph.pos[src] - graph.pos[dst]  # (E', 2) in pixels: (d col, d row)
        lo, hi = graph.pos.min(dim=0).values, graph.pos.max(dim=0).values
        p = (graph.pos - lo) / (hi - lo).clamp_min(1e-12)  # (N, 2) in [0, 1]
        parts = {"diff": [p[src] - p[dst]], "abs": [p[dst], p[src]]}
        parts["both"] = parts["abs"] + parts["diff"]
        return torch.cat(parts[self.inputs], dim=-1)  # (E', INPUTS[inputs])

    def _distinct_offsets(self, graph: SharedGraph) -> tuple[Tensor, Tensor]:
        """(U, 2) the distinct offsets of the graph's edges and (E',) each edge's index into them, cached per
        graph and device (a 28 x 28 complete graph has 614,656 edges but 3,025 offsets; the grid 9)."""
        key = (id(graph), graph.pos.device, graph.pos.data_ptr(), graph.num_nodes, int(graph.edge_index.shape[1]))
        cached = self._offsets.get(key)
        if cached is None:
            cached = torch.unique(self.edge_features(graph), dim=0, return_inverse=True)
            self._offsets = {key: cached}  # one graph per layer: keep only the latest
        return cached

    def edge_weights(self, graph: SharedGraph, normalized: bool = True) -> Tensor:
        """Learned weights on ``edge_index(graph)``: (E',) for one shared set, else (E', S) with S sets
        (C_out, or C_in * C_out ordered as ``o * C_in + c``); normalised (``norm``) or raw."""
        src, dst = self.edge_index(graph)
        if self.inputs == "offset":  # the weight depends on the offset only: run the MLP once per distinct offset
            offsets, inverse = self._distinct_offsets(graph)  # (U, 2), (E',)
            w = self.edge_mlp(offsets)[inverse]  # (E', S)
        else:
            w = self.edge_mlp(self.edge_features(graph))  # (E', S)
        w = F.softplus(w) if self.activation == "softplus" else torch.tanh(w) if self.activation == "tanh" else w
        if normalized and self.norm != "none":
            deg = w.new_zeros(graph.num_nodes, w.shape[1]).index_add(0, dst, w.abs())  # (N, S) in-degree of |w|
            if self.norm == "rw":
                w = w / deg.clamp_min(1e-12)[dst]
            else:
                d = deg.clamp_min(1e-12).rsqrt()
                w = d[dst] * w * d[src]
        return w.squeeze(-1) if self.num_sets == 1 else w

    def dense_adjacency(self, graph: SharedGraph, edge_set: int = 0) -> Tensor:
        """(N, N) normalised learned adjacency of one edge set, A[i, j] = weight of edge j -> i (row i:
        node i's filter)."""
        w = self.edge_weights(graph)
        w = w if w.dim() == 1 else w[:, edge_set]
        return build_adjacency(self.edge_index(graph), w, graph.num_nodes, sparse=False)

    def gather(self, graph: SharedGraph) -> None:
        """Run on padded neighbour lists from now on, with gathers and no scatter, so that torch.onnx can export the
        layer. One shared set freezes its weights as lists (dense on a dense graph: ``GatheredProduct``); several
        sets (a weight per edge and output channel, or channel pair) keep each edge's MLP inputs instead
        (``EdgeLists``, a few numbers an edge) and ``forward`` computes the weights from them: onnxruntime does that
        once, when it loads the file. For inference only: the edges are ``graph``'s and the edge MLP stops learning."""
        edge_index = self.edge_index(graph)
        with torch.no_grad():
            if self.edge_sets == "shared":
                self.gathered = GatheredProduct(edge_index, self.edge_weights(graph), graph.num_nodes)
            else:
                self.gathered = EdgeLists(edge_index, self.edge_features(graph), graph.num_nodes)
        self.gathered.to(graph.pos.device)

    def _list_weights(self, lists: EdgeLists) -> Tensor:
        """``edge_weights`` on padded lists: (N, D, S), 0 on padding; degrees are sums over each node's list."""
        w = self.edge_mlp(lists.values)  # (N, D, S)
        w = F.softplus(w) if self.activation == "softplus" else torch.tanh(w) if self.activation == "tanh" else w
        w = w.masked_fill(~lists.valid.unsqueeze(-1), 0.0)
        if self.norm != "none":
            deg = w.abs().sum(dim=1).clamp_min(1e-12)  # (N, S) in-degree of |w|
            if self.norm == "rw":
                w = w / deg.unsqueeze(1)
            else:
                d = deg.rsqrt()  # (N, S)
                w = d.unsqueeze(1) * w * d[lists.index]  # d_i w_ij d_j
        return w

    def forward(self, x: Tensor, graph: SharedGraph) -> Tensor:
        if self.gathered is not None:
            return self._forward_gathered(x, self.gathered)
        if self.edge_sets != "shared":
            return self._forward_sets(x, graph)
        edge_index = self.edge_index(graph)
        sparse = use_sparse(edge_index.shape[1], graph.num_nodes, x.device, graph.sparse)
        adj = build_adjacency(edge_index, self.edge_weights(graph), graph.num_nodes, sparse)  # (N, N)
        assert self.lin is not None  # only the "pair" edge sets have none, and they go to _forward_sets
        out = propagate_linear(adj, x, self.lin.weight)  # (B, N, C_out)
        if self.bias is not None:
            out = out + self.bias
        return out

    def _forward_sets(self, x: Tensor, graph: SharedGraph) -> Tensor:
        """Several edge sets: messages per edge and channel, summed into each destination node."""
        src, dst = self.edge_index(graph)
        w = self.edge_weights(graph)  # (E', S)
        b, n = x.shape[0], graph.num_nodes
        if self.edge_sets == "out":
            assert self.lin is not None  # built for every edge set but "pair"
            h = x @ self.lin.weight.t()  # (B, N, C_out)
            msg = h[:, src] * w  # (B, E', C_out)
        else:
            wp = w.view(-1, self.out_channels, self.in_channels)  # (E', C_out, C_in)
            msg = torch.einsum("bec,eoc->beo", x[:, src], wp)  # (B, E', C_out)
        out = x.new_zeros(b, n, self.out_channels).index_add(1, dst, msg)  # (B, N, C_out)
        if self.bias is not None:
            out = out + self.bias
        return out

    def _forward_gathered(self, x: Tensor, lists: GatheredProduct | EdgeLists) -> Tensor:
        """``forward`` after ``gather``: x (B, N, C_in) -> (B, N, C_out)."""
        if isinstance(lists, GatheredProduct):  # one shared set, frozen
            assert self.lin is not None  # built for every edge set but "pair"
            out = propagate_linear(lists, x, self.lin.weight)  # (B, N, C_out)
        elif self.edge_sets == "pair":
            n, d = lists.index.shape
            wp = self._list_weights(lists).view(n, d, self.out_channels, self.in_channels)  # (N, D, C_out, C_in)
            out = torch.einsum("ndoc,bndc->bno", wp, x[:, lists.index])  # x[:, index]: (B, N, D, C_in)
        else:
            assert self.lin is not None
            h = x @ self.lin.weight.t()  # (B, N, C_out)
            w = self._list_weights(lists).reshape(*lists.index.shape, self.out_channels)  # (N, D, C_out)
            out = torch.einsum("ndo,bndo->bno", w, h[:, lists.index])  # h[:, index]: (B, N, D, C_out)
        if self.bias is not None:
            out = out + self.bias
        return out

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}({self.in_channels}, {self.out_channels}, inputs={self.inputs}, "
            f"norm={self.norm}, activation={self.activation}, edge_sets={self.edge_sets}, "
            f"hidden={self.hidden_channels})"
        )
