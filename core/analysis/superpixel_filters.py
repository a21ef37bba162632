"""Superpixel runs' filters: a digit's SLIC graph built as the run's data pipeline builds it, and a node's row of
the matrix its PyG layer applies (``SUPERPIXEL_MIXING``), or its attention for a GAT layer, painted on the regions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from core.analysis.digit_filters import (
    DigitAttention,
    attention_of,
    check_image,
    check_layer,
    layer_inputs,
    probabilities_of,
)
from core.analysis.filters import check_pixel
from core.errors import UserInputError
from core.graphs import Graph, adjacency_row, normalize

# superpixel PyG layer -> (normalisation, whether the layer reads the edge weights, exact: the layer's own mixing)
SUPERPIXEL_MIXING: dict[str, tuple[str, bool, bool]] = {
    "gcn": ("gcn", True, True),  # GCNConv: D~^-1/2 (A + I) D~^-1/2 on the Gaussian weights
    "cheb": ("cheb", True, True),  # ChebConv: L~ = -D^-1/2 A D^-1/2 (lambda_max = 2), the first-order term
    "sage": ("rw", False, True),  # SAGEConv: the mean over the neighbours (weights ignored), the node apart
    "gin": ("sum", False, True),  # GINConv: the sum over the neighbours plus (1 + eps) x the node itself
    "gatedgcn": ("gcn", True, False),  # gates from features: no fixed matrix
    "monet": ("gcn", True, False),  # Gaussian kernels of centroid offsets, learned: not the weights shown
    "pna": ("gcn", True, False),  # several aggregators and degree scalers
    "gat": ("gcn", True, False),  # attention (see superpixel_digit): the graph's A-hat only for comparison
}
MIXING_TEXT: dict[str, str] = {  # what ``superpixel_filter`` shows for each layer, in words
    "gcn": "exactly what GCNConv applies: the Gaussian edge weights, normalised symmetrically with a self-loop (gcn)",
    "cheb": "ChebConv's scaled Laplacian L̃ = −D^-½ A D^-½ (λmax = 2): the first-order term; the layer mixes "
    "Chebyshev polynomials of it up to order K − 1, so its reach is K − 1 hops",
    "sage": "SAGEConv's mean over the neighbours: it ignores the edge weights and handles the node itself with "
    "a separate weight matrix (own weight 0 here)",
    "gin": "GINConv's sum over the neighbours (edge weights ignored) plus (1 + ε) times the node itself, with this "
    "layer's trained ε",
    "gatedgcn": "not the layer's own mixing: ResGatedGraphConv gates every message by the two nodes' features. "
    "Shown: the graph's Gaussian weights, gcn-normalised",
    "monet": "not the layer's own mixing: GMMConv weighs a message by learned Gaussian kernels of the offset "
    "between the centroids. Shown: the graph's Gaussian weights, gcn-normalised",
    "pna": "not the layer's own mixing: PNAConv combines mean, min, max and std of the messages with degree "
    "scalers. Shown: the graph's Gaussian weights, gcn-normalised",
    "gat": "the graph's Gaussian weights, gcn-normalised (the GAT layer itself uses attention instead)",
}


@dataclass
class SuperpixelRun:
    """A stored superpixel run: the trained network and its settings."""

    run_id: int
    cfg: Any  # core.training.runs.RunConfig
    model: Any  # SuperpixelNet with the checkpoint's weights, eval mode, CPU

    @property
    def conv(self) -> str:
        """The run's PyG layer (gcn, gat, gin, sage, gatedgcn, monet, pna, cheb)."""
        return self.model.conv_name

    @property
    def num_layers(self) -> int:
        return len(self.model.convs)

    @property
    def heads(self) -> int:
        """Attention heads per layer (1 for layers without attention)."""
        return int(getattr(self.model.convs[0], "heads", 1)) if self.conv == "gat" else 1


@dataclass(frozen=True)
class SuperpixelDigit:
    """One digit as a superpixel run sees it: its SLIC graph, the run's answer, and (GAT) every layer's attention."""

    graph: Graph  # the digit's raw superpixel graph (segments (28, 28), pos (N, 2), x (N, 3))
    probabilities: np.ndarray  # (C,)
    attention: DigitAttention | None  # None unless the run's layer is gat

    @property
    def prediction(self) -> int:
        return int(np.argmax(self.probabilities))

    def node_at(self, pixel: Sequence[int]) -> int:
        """The superpixel node that covers ``pixel`` (row, col) of the digit."""
        segments = self.graph.segments
        assert segments is not None  # a superpixel graph always has its label map
        r, c = check_pixel(pixel, segments.shape[0])
        return int(segments[r, c])


def load_superpixel_run(run_id: int, store=None) -> SuperpixelRun:
    """Rebuild stored run ``run_id`` (model "superpixel") with its checkpoint's weights; no data is loaded
    (PNA's degree averages are buffers of the checkpoint).

    Raises ``RunNotFoundError``, ``UserInputError`` (not a superpixel run, unreadable settings),
    ``CheckpointError`` (no checkpoint, a missing or corrupt file, weights that do not fit).
    """
    from core.analysis.results import load_weights, stored_run_of
    from core.models import MODELS
    from core.rng import isolated_rng

    run, cfg, loaded = stored_run_of(run_id, "superpixel", "a superpixel run", store)
    with isolated_rng(cfg.training.seed):
        model = MODELS.get("superpixel")(cfg.model_config(), None)
    load_weights(model, run, f"a superpixel {cfg.value('conv')} model", loaded)
    return SuperpixelRun(run.id, cfg, model)


def digit_graph(graph_params: dict[str, Any], image: Any) -> Graph:
    """The SLIC superpixel graph of one digit (28, 28), built as the run's data pipeline builds it
    (``core.graphs.superpixel_dataset``: the ``superpixels`` builder with the run's graph parameters)."""
    from core.graphs import build_graph

    img = check_image(image)
    return build_graph("superpixels", size=img.shape[-1], image=img, **dict(graph_params or {}))


def graph_batch(graph: Graph):
    """A PyG ``Batch`` of one superpixel graph, with the fields the training batches carry."""
    from torch_geometric.data import Batch, Data

    if graph.x is None:
        raise UserInputError("graph", "a superpixel network needs node features (a superpixel graph)")
    return Batch.from_data_list(
        [Data(x=graph.x.float(), edge_index=graph.edge_index, edge_weight=graph.edge_weight.float())]
    )


def superpixel_digit(run: SuperpixelRun, image: Any) -> SuperpixelDigit:
    """One digit (28, 28) in [0, 1] through a superpixel run: its graph, the run's answer and, for a GAT layer,
    every layer's attention, from a direct call of the layer (PyG's ``GATConv``) on the input the network
    gave it, with ``return_attention_weights=True``."""
    graph = digit_graph(run.cfg.graph_params, image)
    batch = graph_batch(graph)
    seen, logits = layer_inputs(list(run.model.convs), lambda: run.model(batch))
    attention = None
    if run.conv == "gat":
        layers = []
        with torch.no_grad():
            for conv, args in zip(run.model.convs, seen, strict=True):
                h, edge_index = args[0], args[1]  # (N, W), (2, E)
                _, (ei, alpha) = conv(h, edge_index, return_attention_weights=True)  # (2, E + N), (E + N, H)
                layers.append(attention_of(ei, alpha, graph.num_nodes))
        attention = DigitAttention(tuple(layers), probabilities_of(logits))
    return SuperpixelDigit(graph, probabilities_of(logits), attention)


def superpixel_mixing(run: SuperpixelRun, graph: Graph, layer: int = 0) -> Graph:
    """The digit's graph as layer ``layer`` of the run mixes it (see ``SUPERPIXEL_MIXING``): normalised the
    layer's way, on unit weights when the layer ignores them; for gin the self-loop carries 1 + eps."""
    index = check_layer(layer, run.num_layers)
    norm, weighted, _ = SUPERPIXEL_MIXING[run.conv]
    g = graph if weighted else graph.with_(edge_weight=torch.ones_like(graph.edge_weight))
    mixed = normalize(g, norm)
    if run.conv == "gin":
        eps = float(run.model.convs[index].eps.detach())
        loops = mixed.edge_index[0] == mixed.edge_index[1]
        mixed = mixed.with_(
            edge_weight=torch.where(loops, torch.full_like(mixed.edge_weight, 1.0 + eps), mixed.edge_weight)
        )
    return mixed


def superpixel_filter(
    run: SuperpixelRun,
    digit: SuperpixelDigit,
    node: int,
    layer: int = 0,
    head: int | None = None,
    attention: bool = True,
) -> np.ndarray:
    """(N,) float32: superpixel ``node``'s filter on its digit's graph: for a GAT run (``attention=True``)
    its attention over its neighbours in layer ``layer`` (one head or the mean), else its row of the
    mixing matrix ``superpixel_mixing``. Paint it on the regions with
    ``core.figures.graphs.values_on_segments``."""
    if attention and digit.attention is not None:
        return digit.attention.layer(layer).row(node, head)
    return adjacency_row(superpixel_mixing(run, digit.graph, layer), node)
