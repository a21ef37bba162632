"""Fixed-graph networks: every image shares one pixel graph; pooling happens on the pixel layout.

Architecture (readout "pool", the ChebNet GC32-P4-GC64-P4-FC512 of Defferrard et al. 2016 at the defaults):

    x (B, 1, 28, 28) -> nodes (B, 784, 1)
    for each layer l:  X <- ReLU(GraphConv_l(X, G_s))          # (B, s*s, C_l) on the graph of level s
                       X <- 2x2 max pool on the pixel layout    # (B, (s/2)^2, C_l), only while s >= 14
    flatten (B, s*s*C) -> FC(512) -> ReLU -> dropout -> Linear(num_classes)

The coarser graphs G_14, G_7 are built by the same builder with the same parameters (a Gaussian
kernel's width is rescaled so it spans the same number of grid steps), so "pooling" is graph
coarsening on the regular layout. Global mean pooling (readout "global") throws away where strokes
are and is offered only to show that it fails on pixel graphs.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from core.errors import UserInputError
from core.graphs import GRAPH_PARAMS, Graph, build_graph
from core.graphs.shape import GraphSpec
from core.models.base import Footprint, ImageModel, linear_footprint
from core.models.layers.learned_conv import ACTIVATIONS, EDGE_SETS, NORMS
from core.models.layers.registry import LAYERS
from core.models.layers.shared_graph import SharedGraph
from core.models.registry import MODELS
from core.models.spec import PIXEL_GRAPH_KINDS, ModelSpec, SizeConfig, setting

FIXED_GRAPH_LAYERS = ("gcn", "cheb", "sage", "gin", "gat", "learned")


@dataclass
class GraphNetConfig(SizeConfig):
    """What every fixed-graph net reads: its size and its readout."""

    readout: str = setting(
        "pool",
        "Readout",
        options=("pool", "global"),
        help="pool: 2×2 pooling on the pixel layout + FC (keeps where strokes are). global: mean "
        "over nodes (throws it away; shown to fail).",
    )


@dataclass
class ChebConfig(GraphNetConfig):
    # 1-30: the Train page's slider went to 25 and validation to 30; 30 keeps every stored run continuable
    K: int = setting(
        5,
        "Chebyshev order K",
        lo=1,
        hi=30,
        help="Each layer mixes K hops: a polynomial of degree K-1 in the graph Laplacian.",
        title="Chebyshev order",
        sweep="1, 2, 3, 5, 10",
    )


@dataclass
class GATConfig(GraphNetConfig):
    # 1-16: the slider went to 8 and validation to 16; 16 keeps every stored run continuable
    heads: int = setting(4, "Attention heads", lo=1, hi=16)


@dataclass
class LearnedConfig(GraphNetConfig):
    """The learned-edge layer's settings (``core.models.layers.learned_conv``)."""

    edge_inputs: str = setting(
        "both",
        "Edge MLP input",
        "selectbox",
        options=("both", "diff", "abs", "offset"),
        help="offset: the pixel offset j - i in pixels, so neighbours differ by 1; the others "
        "use coordinates scaled to [0, 1].",
        title="Learned edges: inputs",
    )
    edge_activation: str = setting(
        "softplus",
        "Edge weights",
        options=ACTIVATIONS,
        help="softplus: positive (a learned blur); tanh: signed, so a filter can detect an edge.",
        title="Learned edges: activation",
    )
    edge_norm: str = setting("rw", "Edge normalisation", options=NORMS, title="Learned edges: normalisation")
    edge_sets: str = setting(
        "shared",
        "Edge sets",
        options=EDGE_SETS,
        help="shared: one adjacency for every channel; out: one per output channel; pair: one per "
        "channel pair (with offsets on the 8-neighbour grid, a learned 3x3 convolution).",
        title="Learned edges: sets",
    )
    edge_frozen: bool = setting(
        False,
        "Freeze the edges at their initial weights",
        help="A control run: only the layer weights and the head learn. If the edges learn "
        "something, the unfrozen run beats this one.",
        title="Learned edges: frozen",
    )


def coarse_graph(graph: Graph, size: int) -> Graph:
    """The graph of the same kind on a ``size`` x ``size`` pixel layout."""
    full = round(graph.num_nodes**0.5)
    if size == full:
        return graph
    params = {k: v for k, v in graph.params.items() if k not in ("norm", "size")}
    spec = GRAPH_PARAMS[graph.kind]
    if params.get("sigma") is not None:  # keep the kernel's width in grid steps: sigma scales with the spacing
        params["sigma"] = min(params["sigma"] * (full - 1) / (size - 1), spec["sigma"].max)
    for name in ("k", "topk"):  # neighbour counts must stay below the coarser graph's node count
        if params.get(name) is not None:
            params[name] = min(params[name], size * size - 1)
    return build_graph(graph.kind, size=size, **params)


def pool_node_major(h: torch.Tensor, size: int) -> torch.Tensor:
    """The same 2x2 max pooling on node-major features: (s*s, B, C) contiguous -> (s*s/4, B, C) contiguous.

    Viewed as one image with B*C channels, node-major memory *is* PyTorch's channels-last layout
    (1, B*C, s, s), which max_pool2d handles natively: no copy in or out.
    """
    N, B, C = h.shape
    img = h.view(1, size, size, B * C).permute(0, 3, 1, 2)  # (1, B*C, s, s), channels-last strides
    out = F.max_pool2d(img, 2)  # (1, B*C, s/2, s/2), channels-last
    return out[0].permute(1, 2, 0).reshape(N // 4, B, C)  # a view when the output kept channels-last


def conv_node_major(conv: nn.Module, h: torch.Tensor, graph: SharedGraph) -> torch.Tensor:
    """Apply a shared-graph layer to node-major features h (N, B, C_in) -> (N, B, C_out) contiguous.

    Layers with ``forward_node_major`` take the layout directly; the others take the (B, N, C) view
    (their ``to_node_major`` is then free) and return a view of node-major memory.
    """
    node_major = getattr(conv, "forward_node_major", None)  # a layer's own node-major path (GCN, Cheb)
    if node_major is not None:
        return node_major(h, graph)
    return conv(h.transpose(0, 1), graph).transpose(0, 1).contiguous()


def _layer_kwargs(name: str, cfg: GraphNetConfig, c_in: int, c_out: int) -> tuple[int, dict]:
    """(channels per head or total, constructor kwargs) for layer ``name``; ``cfg`` is that layer's own config
    (``MODELS.config(name)``: a ChebConfig for "cheb", ...)."""
    if isinstance(cfg, ChebConfig):
        return c_out, {"K": cfg.K}
    if isinstance(cfg, GATConfig):
        heads = max(1, cfg.heads)
        return max(1, c_out // heads), {"heads": heads, "concat": True}
    if isinstance(cfg, LearnedConfig):
        return c_out, {
            "inputs": cfg.edge_inputs,
            "activation": cfg.edge_activation,
            "norm": cfg.edge_norm,
            "edge_sets": cfg.edge_sets,
        }
    return c_out, {}


class GraphNet(ImageModel):
    """A stack of shared-graph convolutions with pixel-layout pooling and an FC head (see module doc)."""

    def __init__(self, graph: Graph, layer: str = "cheb", cfg: GraphNetConfig | None = None, fc: int = 512):
        super().__init__()
        cfg = cfg or MODELS.config(layer)
        if layer not in FIXED_GRAPH_LAYERS:
            raise UserInputError("model", f"{layer!r} is not a fixed-graph layer ({', '.join(FIXED_GRAPH_LAYERS)})")
        side = round(graph.num_nodes**0.5)
        if side * side != graph.num_nodes:
            raise UserInputError("graph", f"fixed-graph models need a square pixel graph, got {graph.num_nodes} nodes")
        self.layer, self.readout, self.side = layer, cfg.readout, side
        self.graphs = nn.ModuleList()
        self.convs = nn.ModuleList()
        self.pool_after: list[bool] = []
        c_in, size = 1, side
        for _ in range(max(1, cfg.layers)):
            c_out = cfg.hidden * 2 ** sum(self.pool_after)
            per_head, kw = _layer_kwargs(layer, cfg, c_in, c_out)
            self.graphs.append(SharedGraph(coarse_graph(graph, size)))
            conv = LAYERS.get(layer)(c_in, per_head, **kw)
            if isinstance(cfg, LearnedConfig) and cfg.edge_frozen:  # the edges stay as initialised
                conv.edge_mlp.requires_grad_(False)  # only W and the head train
            self.convs.append(conv)
            c_in = per_head * kw.get("heads", 1)
            pool = cfg.readout == "pool" and size >= 14 and size % 2 == 0
            self.pool_after.append(pool)
            size = size // 2 if pool else size
        self.out_size, self.out_channels = size, c_in
        flat = c_in * size * size if cfg.readout == "pool" else c_in
        self.fc = nn.Sequential(nn.Linear(flat, fc), nn.ReLU())
        self.classifier = nn.Sequential(nn.Dropout(cfg.dropout), nn.Linear(fc, cfg.num_classes))

    def node_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The node features after every layer, each (B, N_l, C_l) (before pooling; views of node-major memory)."""
        return self._layers(x)[0]

    def _layers(self, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """(``node_features(x)``, the last layer's pooled features (B, N_out, C)).

        Inside, features stay node-major (N, B, C) from layer to layer: graph products, ReLU and
        pooling all run on contiguous memory (transposed copies cost as much as the layers here).
        """
        B = x.shape[0]
        h = x.reshape(B, -1).t().unsqueeze(-1).contiguous()  # (N, B, 1) row-major pixels = node order
        out = []
        size = self.side
        for conv, g, pool in zip(self.convs, self.graphs, self.pool_after, strict=True):
            h = F.relu(conv_node_major(conv, h, cast(SharedGraph, g)))  # (N_l, B, C_l)
            out.append(h.transpose(0, 1))  # (B, N_l, C_l)
            if pool:
                h = pool_node_major(h, size)  # (N_l / 4, B, C_l)
                size //= 2
        return out, h.transpose(0, 1)

    def _head(self, last: torch.Tensor) -> torch.Tensor:
        """The readout of the last features (B, N_out, C) through the FC layer: (B, fc)."""
        return self.fc(last.flatten(1) if self.readout == "pool" else last.mean(dim=1))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self._head(self._layers(x)[1])  # (B, fc)

    def maps(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Logits and each layer's node features drawn on the pixel layout, (B, C_l, s_l, s_l) for N_l = s_l^2."""
        nodes, last = self._layers(x)
        drawn = []
        for h in nodes:  # (B, N_l, C_l)
            side = round(h.shape[1] ** 0.5)
            drawn.append(h.transpose(1, 2).reshape(h.shape[0], h.shape[2], side, side))
        return self.classifier(self._head(last)), drawn

    def prepare_export(self) -> None:
        for conv, g in zip(self.convs, self.graphs, strict=True):
            own = getattr(conv, "gather", None)  # a layer with its own gathered form (GAT, learned edges)
            if own is not None:
                own(g)
            else:  # the others multiply by one adjacency (SharedGraph.product)
                cast(SharedGraph, g).gather(str(conv.norm))

    def extra_repr(self) -> str:
        return f"layer={self.layer}, readout={self.readout}, levels={[g.num_nodes for g in self.graphs]}"


def footprint(layer: str, cfg: GraphNetConfig, graph: GraphSpec, image_size: int = 28, fc: int = 512) -> Footprint:
    """What one step of ``GraphNet(graph, layer, cfg)`` costs, without building it: its layers (each layer class
    says its own cost on the level's graph), the pooling, the FC head (``core.models.base.Footprint``)."""
    total, c_in, size, pooled = Footprint(0), 1, image_size, 0
    for _ in range(max(1, cfg.layers)):
        c_out = cfg.hidden * 2**pooled
        per_head, kw = _layer_kwargs(layer, cfg, c_in, c_out)
        total = total + LAYERS.get(layer).footprint(c_in, per_head, graph.shape(size, image_size), **kw)
        c_in = per_head * kw.get("heads", 1)
        if cfg.readout == "pool" and size >= 14 and size % 2 == 0:
            total = total + Footprint(0, activations=size * size * c_in)  # the pooled copy
            size, pooled = size // 2, pooled + 1
    flat = c_in * size * size if cfg.readout == "pool" else c_in
    return total + linear_footprint(flat, fc) + linear_footprint(fc, cfg.num_classes)


def _make_factory(layer: str):
    def factory(cfg: GraphNetConfig, graph: Graph | None = None, image_size: int = 28) -> GraphNet:
        if graph is None:
            raise UserInputError("graph", f"model {layer!r} needs a pixel graph (grid, knn or gaussian)")
        if graph.kind == "superpixels":
            raise UserInputError(
                "graph", f"model {layer!r} runs on a fixed pixel graph; for superpixels choose the 'superpixel' model"
            )
        return GraphNet(graph, layer, cfg)

    factory.__name__ = f"build_{layer}"
    factory.__doc__ = f"Fixed-graph network with {layer} layers (see GraphNet)."
    return factory


def _dense(cfg) -> str:
    """'the complete graph' or 'the dense Gaussian graph' when a run's graph has every pixel pair (613,872 edges),
    else ''."""
    params = cfg.graph_params or {}
    if cfg.graph == "complete":
        return "the complete graph"
    if cfg.graph == "gaussian" and not (params.get("cutoff") or params.get("topk")):
        return "the dense Gaussian graph"
    return ""


def _check_gat(cfg) -> None:
    if _dense(cfg):  # one attention message per edge, image and head: ~5 GB a batch
        raise UserInputError(
            "graph",
            f"GAT on {_dense(cfg)} (613,872 edges) needs several GB per batch: "
            "use a sparse graph (grid, knn, or gaussian with cutoff or topk)",
        )


def _check_learned(cfg) -> None:
    own: LearnedConfig = cfg.settings
    if own.edge_sets != "shared" and _dense(cfg):  # a message per edge, image and channel
        raise UserInputError(
            "edge_sets",
            f"edge sets per channel on {_dense(cfg)} (613,872 edges) need tens of GB "
            "per batch: use edge_sets 'shared' there, or a sparse graph",
        )


_SAID = {"edge_inputs": "inputs", "edge_activation": "weights", "edge_norm": "normalisation", "edge_sets": "edge sets"}


def _describe_learned(cfg: LearnedConfig) -> str:
    """ " (inputs offset, weights tanh), edges frozen": the edge settings that differ from their defaults."""
    edges = [
        f"{said} {getattr(cfg, n)}"
        for n, said in _SAID.items()
        if getattr(cfg, n) != LearnedConfig.__dataclass_fields__[n].default
    ]
    return (f" ({', '.join(edges)})" if edges else "") + (", edges frozen" if cfg.edge_frozen else "")


_SHOWN_ON = frozenset({"playground", "equivariance"})  # every fixed-graph net: its maps and its turned digits


def _graph_net(name: str, title: str, about: str, config: type, **extra) -> ModelSpec:
    """The spec of the fixed-graph net with ``name`` layers (what they all share)."""
    return ModelSpec(
        name,
        title,
        about,
        config,
        _make_factory(name),
        footprint=partial(footprint, name),
        graphs=PIXEL_GRAPH_KINDS,
        fixed_graph=True,
        family="graph",
        **{"pages": _SHOWN_ON, **extra},
    )


MODELS.add(
    _graph_net(
        "gcn",
        "GCN (Kipf & Welling 2017)",
        "Â X W with symmetric normalisation and self-loops",
        GraphNetConfig,
        pages=_SHOWN_ON | {"node"},
        node_arithmetic=True,
    )
)
MODELS.add(
    _graph_net(
        "cheb",
        "ChebNet (Defferrard et al. 2016)",
        "K Chebyshev polynomials of the graph Laplacian per layer",
        ChebConfig,
        pages=_SHOWN_ON | {"spectral", "node"},
        node_arithmetic=True,
        describe=lambda c: f" K={c.K}",
    )
)
MODELS.add(
    _graph_net(
        "sage",
        "GraphSAGE (Hamilton et al. 2017)",
        "mean of the neighbours, concatenated with the node itself",
        GraphNetConfig,
    )
)
MODELS.add(_graph_net("gin", "GIN (Xu et al. 2019)", "sum of the neighbours through a small MLP", GraphNetConfig))
MODELS.add(
    _graph_net(
        "gat",
        "GAT (Veličković et al. 2018)",
        "graph attention: learned weights per edge, per digit",
        GATConfig,
        filters=("gat", "f_grun"),
        describe=lambda c: f", {c.heads} heads",
        check=_check_gat,
    )
)
MODELS.add(
    _graph_net(
        "learned",
        "Learned-edge GNN",
        "edge weights predicted from pixel coordinates by an MLP",
        LearnedConfig,
        filters=("learned", "f_run"),
        pages=_SHOWN_ON | {"node"},
        node_arithmetic=True,
        describe=_describe_learned,
        check=_check_learned,
    )
)
