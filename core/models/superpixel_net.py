"""Superpixel graph networks on the Benchmarking-GNNs recipe (Dwivedi et al.), with PyG's layers.

Each image has its own SLIC graph (nodes = superpixels with features [mean intensity, x, y], edges =
k nearest by a Gaussian affinity with that affinity as weight), so batching is PyG's block-diagonal
``Batch``. Architecture, the same for every layer type:

    x = [x, sin(pi k pos), cos(pi k pos)], k = 1..F   # (N_total, 3 + 4F) positions="fourier" (default)
    h = Linear(x)                                     # (N_total, W)      embed the node features
    for each of L layers:
        h = h + dropout(ReLU(BN(conv_l(h, edges))))   # (N_total, W)      residual + batch norm
    g = [mean || max] over each graph's nodes         # (B, 2W)           readout
    g = MLP(2W -> W/2 -> W/4)                         # (B, W/4)          features
    logits = Linear(W/4 -> classes)                   # (B, classes)

``hidden = 0`` (the default) picks the width W that brings the network closest to ``PARAM_BUDGET``
(100k parameters, the leaderboard's budget) for the chosen layer and depth. What each layer reads of
the edges: GCN, ChebNet and PNA the Gaussian weight, GatedGCN (``ResGatedGraphConv``) the weight as
an edge feature in its gates, MoNet (``GMMConv``) the offset between centroids as pseudo-coordinates;
GAT, GIN and GraphSAGE only which edges exist.

Two changes from the recipe, both measured. Positions enter as Fourier features (Tancik et al. 2020): an
isotropic layer (GCN, GIN, SAGE, GAT) learns where a node is only from its features, and a linear embedding of
raw (x, y) made that slow. On mnist-5k (GraphSAGE, batch 32, seed 0) test accuracy after 2 epochs went from 33%
(raw) to 68% with them; at 30 epochs GAT (seed 0) went from 83.5% to 91.0% (README, "Superpixels"). And the
readout: the leaderboard reads out the mean alone, but on mnist-5k's 4,000 training graphs (most superpixels
are background, which dilutes a mean) GCN reached 13-16% test accuracy in 3 epochs with it and 37-52% with
mean || max (GraphSAGE: 18-32% and 24-59%).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import nn

from core.errors import UserInputError
from core.graphs.shape import GraphSpec
from core.models.base import Footprint, linear_footprint
from core.models.registry import MODELS
from core.models.spec import SUPERPIXEL_INPUTS, ModelSpec, SizeConfig, setting

SUPERPIXEL_CONVS = ("gcn", "gat", "gin", "sage", "gatedgcn", "monet", "pna", "cheb")
SUPERPIXEL_TITLES = {
    "gcn": "GCN (GCNConv)",
    "gat": "GAT (GATConv, 4 heads)",
    "gin": "GIN (GINConv)",
    "sage": "GraphSAGE (SAGEConv)",
    "gatedgcn": "GatedGCN (ResGatedGraphConv)",
    "monet": "MoNet (GMMConv)",
    "pna": "PNA (PNAConv)",
    "cheb": "ChebNet (ChebConv)",
}
PARAM_BUDGET = 100_000  # parameters per model on the Benchmarking-GNNs leaderboard
PNA_AGGREGATORS = ["mean", "min", "max", "std"]
PNA_SCALERS = ["identity", "amplification", "attenuation"]
MONET_KERNELS = 3  # Gaussian kernels per GMMConv layer (Benchmarking GNNs: 3)
POSITIONS = ("fourier", "raw")  # how node positions enter: with Fourier features, or as (x, y) alone (the recipe)
FOURIER_FREQUENCIES = 8  # positions="fourier": sin and cos of pi*k*x and pi*k*y for k = 1..8


# Its batch-norm statistics are recomputed on this many training batches before each test pass
# (core.training.trainer.recalibrate_batchnorm): their running averages lagged far behind the weights.
PRECISE_BN_BATCHES = 30


@dataclass
class SuperpixelConfig(SizeConfig):
    """Benchmarking GNNs' MNIST superpixel recipe: 4 residual layers sized to ~100k parameters (hidden 0: the width
    is chosen per layer type), Adam 1e-3, halved on a plateau, no dropout."""

    layers: int = setting(4, "Layers", lo=1, hi=6, help="Residual graph layers.")
    hidden: int = setting(
        0,
        "Width (channels)",
        lo=0,
        hi=512,
        help="0: the width that gives about 100k parameters (the leaderboard's budget).",
    )
    dropout: float = setting(0.0, "Dropout", lo=0.0, hi=0.95, help="Dropout after each layer.")
    conv: str = setting(
        "gcn",
        "PyG layer",
        "selectbox",
        options=SUPERPIXEL_CONVS,
        sidebar=True,
        format=lambda c: SUPERPIXEL_TITLES.get(c, c),
        help="gatedgcn: ResGatedGraphConv; monet: GMMConv on centroid offsets; pna: PNAConv (mean, min, max, std).",
        title="Superpixel convolution",
        sweep="gcn, gat, gin, sage",
    )
    K: int = setting(
        5,
        "Chebyshev order K",
        lo=1,
        hi=30,
        when=lambda cfg: cfg.get("conv") == "cheb",
        help="Each layer mixes K hops: a polynomial of degree K-1 in the graph Laplacian.",
    )
    heads: int = setting(4, "Attention heads", "", lo=1, hi=16, when=lambda cfg: cfg.get("conv") == "gat")
    positions: str = setting(
        "fourier",
        "Node positions",
        options=POSITIONS,
        help="fourier: (x, y) plus their sines and cosines at 8 frequencies (GAT 91.1% against "
        "83.5% raw on mnist-5k, 30 epochs). raw: (x, y) alone, as in Benchmarking GNNs.",
        title="Superpixel positions",
        sweep="fourier, raw",
    )


def fourier_features(x: torch.Tensor, frequencies: int = FOURIER_FREQUENCIES) -> torch.Tensor:
    """(N, 3) node features [intensity, x, y] (positions on [0, 1]) -> (N, 3 + 4F): the same, then sin(pi k x),
    sin(pi k y), cos(pi k x), cos(pi k y) for k = 1..F (grouped by function, then coordinate, then k)."""
    k = torch.arange(1, frequencies + 1, dtype=x.dtype, device=x.device) * torch.pi  # (F,)
    angles = x[:, 1:3, None] * k  # (N, 2, F)
    return torch.cat([x, torch.sin(angles).flatten(1), torch.cos(angles).flatten(1)], dim=1)


def check_conv(name: str) -> None:
    """``UserInputError("conv")`` unless ``name`` is one of ``SUPERPIXEL_CONVS``."""
    if name not in SUPERPIXEL_CONVS:
        raise UserInputError("conv", f"unknown superpixel layer {name!r} (choose from {', '.join(SUPERPIXEL_CONVS)})")


def check_positions(name: str) -> None:
    """``UserInputError("positions")`` unless ``name`` is one of ``POSITIONS``."""
    if name not in POSITIONS:
        raise UserInputError("positions", f"unknown position encoding {name!r} (choose from {', '.join(POSITIONS)})")


def default_degree_histogram(k: int = 8) -> torch.Tensor:
    """A stand-in for PNA's degree histogram (every node of degree ``k``): PNA keeps the averages it takes
    from the histogram as buffers, so a model rebuilt for a checkpoint gets the trained ones on loading."""
    hist = torch.zeros(k + 1, dtype=torch.long, device="cpu")
    hist[k] = 1
    return hist


def make_pyg_conv(
    name: str, width: int, cfg: SuperpixelConfig, degree_histogram: torch.Tensor | None = None
) -> nn.Module:
    """One PyG layer by name, ``width`` -> ``width`` channels."""
    from torch_geometric import nn as gnn

    check_conv(name)
    if name == "gcn":
        return gnn.GCNConv(width, width)
    if name == "gat":
        heads = max(1, cfg.heads)
        return gnn.GATConv(width, width // heads, heads=heads)  # width is a multiple of heads
    if name == "gin":
        return gnn.GINConv(
            nn.Sequential(nn.Linear(width, width), nn.BatchNorm1d(width), nn.ReLU(), nn.Linear(width, width)),
            train_eps=True,
        )
    if name == "sage":
        return gnn.SAGEConv(width, width)
    if name == "gatedgcn":
        return gnn.ResGatedGraphConv(width, width, edge_dim=1)
    if name == "monet":
        return gnn.GMMConv(width, width, dim=2, kernel_size=MONET_KERNELS)
    if name == "pna":
        deg = degree_histogram if degree_histogram is not None else default_degree_histogram()
        return gnn.PNAConv(width, width, PNA_AGGREGATORS, PNA_SCALERS, deg, edge_dim=1)
    return gnn.ChebConv(width, width, K=cfg.K)


class SuperpixelNet(nn.Module):
    """batch (PyG Batch: x (N_total, 3), edge_index (2, E), edge_weight (E,), batch (N_total,)) -> logits (B, classes).

    See the module docstring for the architecture.
    """

    def __init__(self, cfg: SuperpixelConfig, in_channels: int = 3, degree_histogram: torch.Tensor | None = None):
        super().__init__()
        check_conv(cfg.conv)
        check_positions(cfg.positions)
        width = cfg.hidden or budget_width(
            cfg.conv, max(1, cfg.layers), cfg.heads, cfg.K, in_channels, cfg.num_classes, positions=cfg.positions
        )
        if cfg.conv == "gat":
            width = max(cfg.heads, width // cfg.heads * cfg.heads)  # GAT concatenates heads * (width / heads)
        self.conv_name, self.width, self.dropout, self.positions = cfg.conv, width, cfg.dropout, cfg.positions
        self.embed = nn.Linear(in_channels + (4 * FOURIER_FREQUENCIES if cfg.positions == "fourier" else 0), width)
        self.convs = nn.ModuleList(
            make_pyg_conv(cfg.conv, width, cfg, degree_histogram) for _ in range(max(1, cfg.layers))
        )
        self.norms = nn.ModuleList(nn.BatchNorm1d(width) for _ in self.convs)
        self.mlp = nn.Sequential(
            nn.Linear(2 * width, width // 2), nn.ReLU(), nn.Linear(width // 2, width // 4), nn.ReLU()
        )
        self.classifier = nn.Linear(width // 4, cfg.num_classes)

    def _conv(self, conv: nn.Module, h: torch.Tensor, batch) -> torch.Tensor:
        ei = batch.edge_index
        w = getattr(batch, "edge_weight", None)
        if w is None:
            w = h.new_ones(ei.shape[1])
        if self.conv_name in ("gcn", "cheb"):
            return conv(h, ei, w)
        if self.conv_name in ("gatedgcn", "pna"):
            return conv(h, ei, w.view(-1, 1))
        if self.conv_name == "monet":
            pos = batch.x[:, 1:3]  # (N_total, 2) centroid on [0, 1]
            return conv(h, ei, pos[ei[0]] - pos[ei[1]])  # pseudo-coordinates: offset source - target
        return conv(h, ei)

    def node_features(self, batch) -> torch.Tensor:
        x = fourier_features(batch.x) if self.positions == "fourier" else batch.x  # (N_total, 3 + 4F) or (N_total, 3)
        h = self.embed(x)  # (N_total, W)
        for conv, norm in zip(self.convs, self.norms, strict=True):
            h = h + F.dropout(F.relu(norm(self._conv(conv, h, batch))), self.dropout, self.training)
        return h

    def features(self, batch) -> torch.Tensor:
        from torch_geometric.nn import global_max_pool, global_mean_pool

        h = self.node_features(batch)  # (N_total, W)
        pooled = torch.cat([global_mean_pool(h, batch.batch), global_max_pool(h, batch.batch)], dim=1)  # (B, 2W)
        return self.mlp(pooled)  # (B, W/4)

    def forward(self, batch) -> torch.Tensor:
        return self.classifier(self.features(batch))

    def extra_repr(self) -> str:
        return f"conv={self.conv_name}, width={self.width}, layers={len(self.convs)}, positions={self.positions}"


@lru_cache(maxsize=64)
def budget_width(
    conv: str,
    layers: int,
    heads: int = 4,
    K: int = 5,
    in_channels: int = 3,
    num_classes: int = 10,
    budget: int = PARAM_BUDGET,
    positions: str = "fourier",
) -> int:
    """The width W (a multiple of ``heads`` for GAT) whose network has the parameter count closest to ``budget``.

    Models are sized on PyTorch's "meta" device under a forked random state: no memory, no random draws, so
    sizing never changes a run's initial weights.
    """
    step = max(1, heads) if conv == "gat" else 1

    def count(width: int) -> int:
        cfg = SuperpixelConfig(
            conv=conv, layers=layers, hidden=width, heads=heads, K=K, num_classes=num_classes, positions=positions
        )
        with torch.random.fork_rng(devices=[]), torch.device("meta"):
            model = SuperpixelNet(cfg, in_channels)
        return sum(p.numel() for p in model.parameters())

    lo, hi = 1, 512 // step  # in units of step; parameter counts grow with the width
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if count(mid * step) <= budget:
            lo = mid
        else:
            hi = mid - 1
    below, above = lo * step, (lo + 1) * step
    return below if budget - count(below) <= count(above) - budget else above


# parameters of one layer / width^2, and values each edge carries per channel (messages, attention, aggregators)
CONV_COST = {
    "gcn": (1, 2),
    "gat": (1, 6),
    "gin": (2, 2),
    "sage": (2, 2),
    "gatedgcn": (5, 6),
    "monet": (4, 8),
    "pna": (14, 16),
    "cheb": (5, 2),
}


def footprint(cfg: SuperpixelConfig, graph: GraphSpec | None = None, image_size: int = 28) -> Footprint:
    """What one step costs (``core.models.base.Footprint``), without importing PyG: ``hidden = 0`` means the
    leaderboard's ~100k parameters; the width is then about what ``budget_width`` would choose."""
    shape = (graph or GraphSpec("superpixels")).shape()
    layers, (per_width2, per_edge) = max(1, cfg.layers), CONV_COST.get(cfg.conv, (5, 8))
    if cfg.conv == "cheb":
        per_width2 = cfg.K
    width = cfg.hidden or max(4, int((PARAM_BUDGET / (layers * per_width2 + 1)) ** 0.5))
    params = PARAM_BUDGET if not cfg.hidden else layers * (per_width2 * width * width + 3 * width) + width * width
    n, e = shape.nodes, shape.edges + shape.nodes
    inputs = 3 + (4 * FOURIER_FREQUENCIES if cfg.positions == "fourier" else 0)
    return Footprint(
        params,
        activations=layers * (4.0 * n * width + 0.7 * per_edge * e * width),
        flops=2.0 * n * params,
        gathers=2.0 * layers * e * width * per_edge / 2,
    ) + linear_footprint(inputs, width, n)


def build_superpixel(
    cfg: SuperpixelConfig, graph=None, image_size: int = 28, degree_histogram: torch.Tensor | None = None
) -> SuperpixelNet:
    """Superpixel network (see module doc); ``degree_histogram`` (counts of node degrees in the training
    graphs) is read by PNA only."""
    check_conv(cfg.conv)
    return SuperpixelNet(cfg, degree_histogram=degree_histogram)


def _extras(cfg, train) -> dict:
    """PNA's degree histogram, from the training graphs."""
    own: SuperpixelConfig = cfg.settings
    if own.conv != "pna":
        return {}
    from core.graphs.superpixel_dataset import degree_histogram

    return {"degree_histogram": degree_histogram(train.inputs)}


def _describe(cfg: SuperpixelConfig) -> str:
    return f", {SUPERPIXEL_TITLES.get(cfg.conv, cfg.conv).split(' (')[0]} layers" + (
        ", raw positions" if cfg.positions == "raw" else ""
    )


MODELS.add(
    ModelSpec(
        "superpixel",
        "Superpixel GNN (Benchmarking GNNs)",
        "PyG layers on per-image SLIC superpixel graphs (~100k parameters)",
        SuperpixelConfig,
        build_superpixel,
        footprint=footprint,
        graphs=("superpixels",),
        inputs=SUPERPIXEL_INPUTS,
        filters=("superpixel", "f_sprun"),
        family="superpixel",
        training={"lr": 1e-3, "schedule": "plateau"},
        precise_bn=PRECISE_BN_BATCHES,
        stored={"positions": "raw"},  # stored before the Fourier encoding existed: weights expect (x, y)
        describe=_describe,
        extras=_extras,
    )
)
