r"""Filters that change with the digit: a GAT run's attention, and a superpixel run's per-image graph.

A fixed graph's filter (``core.analysis.filters``) is one row of one matrix :math:`\hat A`, the same for
every image. Two kinds of layers break that:

- **GAT runs** (model ``"gat"``, a :class:`~core.models.graph_net.GraphNet` on a pixel graph): node i
  mixes its neighbours with attention coefficients

  .. math::
      \alpha^h_{ij} = \mathrm{softmax}_{j \in \mathcal N(i) \cup \{i\}}\big(\mathrm{LeakyReLU}(
      \mathbf a^{h\top}_{src} \mathbf W^h \mathbf x_j + \mathbf a^{h\top}_{dst} \mathbf W^h \mathbf x_i)\big)

  computed from the features x of the digit itself, so the filter of a pixel is a different one for
  every input. ``load_gat_run`` rebuilds a stored run from its checkpoint (``weights_only=True``);
  ``gat_attention`` runs one digit through it and reads every layer's coefficients from PyG's
  ``torch_geometric.nn.GATConv`` called with ``return_attention_weights=True``, on the layer's own
  input features and edges and with the layer's own weights (the project's batched
  :class:`~core.models.layers.gat_conv.GATConv` has PyG's parameters and output, see ``pyg_gat``).
- **superpixel runs** (model ``"superpixel"``, in ``core.analysis.superpixel_filters``, which shares this
  module's attention helpers): every digit has its own SLIC graph. ``digit_graph``
  builds it exactly as the run's data pipeline does (``core.graphs.superpixel_dataset``: the
  ``superpixels`` builder with the run's graph parameters); ``superpixel_digit`` runs the digit through
  the run's :class:`~core.models.superpixel_net.SuperpixelNet` and, when its PyG layer is ``gat``,
  returns every layer's attention (a direct call of the layer with ``return_attention_weights=True``).
  Other layers have one fixed mixing matrix per graph; ``superpixel_filter`` gives the chosen node's
  row of it as the layer reads the graph (``SUPERPIXEL_MIXING``: exact for gcn, sage and gin, the
  first-order term for cheb, and only the graph's own :math:`\hat A` for layers that compute their
  weights from features: gatedgcn, monet, pna).

An :class:`Attention` holds one layer's coefficients as an edge list; its ``row(i, head)`` is node i's
filter (``head=None``: the mean over heads, still a softmax: it sums to 1). Bad input raises
``UserInputError`` (not a GAT or superpixel run, a layer, head or node out of range, an image that is
not 2-D), ``RunNotFoundError`` or ``CheckpointError``. No streamlit here.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from core.analysis.filters import FULL_SIDE, Frame, check_pixel
from core.errors import UserInputError
from core.graphs import Graph

_FORWARD_LOCK = threading.Lock()  # forward hooks on a model shared by the app's sessions: one digit at a time


# ----------------------------------------------------------------------------- attention


@dataclass(frozen=True)
class Attention:
    r"""One attention layer's coefficients for one input, as an edge list.

    ``alpha[e, h]`` is :math:`\alpha^h_{ij}` of edge e = (j -> i): per head, a softmax over the edges
    into each target i (the self-loop included when the layer adds one), so every node's row sums to 1.
    """

    edge_index: np.ndarray  # (2, E) int64: row 0 source j, row 1 target i
    alpha: np.ndarray  # (E, H) float32
    num_nodes: int

    @property
    def heads(self) -> int:
        return int(self.alpha.shape[1])

    def check_head(self, head: int | None) -> int | None:
        """``head`` (0-based) or None (the mean over heads); ``UserInputError`` when out of range."""
        if head is None:
            return None
        if isinstance(head, bool) or not isinstance(head, (int, np.integer)) or not 0 <= head < self.heads:
            raise UserInputError(
                "head", f"must be an integer in [0, {self.heads - 1}] or None (the mean over heads), got {head!r}"
            )
        return int(head)

    def weights(self, head: int | None = None) -> np.ndarray:
        """(E,) float64: the coefficients of one head, or their mean over heads (``head=None``)."""
        h = self.check_head(head)
        a = self.alpha.astype(np.float64)
        return a.mean(axis=1) if h is None else a[:, h]

    def row(self, node: int, head: int | None = None) -> np.ndarray:
        """(N,) float32: node ``node``'s attention over all nodes (entry j = alpha_ij; 0 off its neighbours)."""
        if isinstance(node, bool) or not isinstance(node, (int, np.integer)) or not 0 <= node < self.num_nodes:
            raise UserInputError("node", f"must be an integer in [0, {self.num_nodes - 1}], got {node!r}")
        into = self.edge_index[1] == int(node)  # (E,) edges that end at node
        out = np.zeros(self.num_nodes, dtype=np.float64)
        np.add.at(out, self.edge_index[0][into], self.weights(head)[into])
        return out.astype(np.float32)

    def dense(self, head: int | None = None) -> np.ndarray:
        """(N, N) float32: A[i, j] = alpha_ij (row i is node i's filter)."""
        out = np.zeros((self.num_nodes, self.num_nodes), dtype=np.float64)
        np.add.at(out, (self.edge_index[1], self.edge_index[0]), self.weights(head))
        return out.astype(np.float32)


def attention_of(edge_index: torch.Tensor, alpha: torch.Tensor, num_nodes: int) -> Attention:
    a = alpha.detach().cpu().float()
    a = a.unsqueeze(-1) if a.dim() == 1 else a  # (E, H)
    return Attention(edge_index.detach().cpu().long().numpy(), a.numpy(), int(num_nodes))


def layer_inputs(convs: Sequence[torch.nn.Module], forward) -> tuple[list[tuple], torch.Tensor]:
    """(the positional arguments every module of ``convs`` was called with, ``forward()``'s output), from one
    forward pass without gradients (forward pre-hooks: the model's own code decides what each layer sees)."""
    seen: list[tuple | None] = [None] * len(convs)

    def keep(i):
        return lambda module, args: seen.__setitem__(i, args)

    with _FORWARD_LOCK:
        hooks = [conv.register_forward_pre_hook(keep(i)) for i, conv in enumerate(convs)]
        try:
            with torch.no_grad():
                out = forward()
        finally:
            for h in hooks:
                h.remove()
    if any(s is None for s in seen):
        raise RuntimeError("a layer was not called during the forward pass")
    return seen, out  # type: ignore[return-value]


def check_image(image: Any, side: int = FULL_SIDE) -> np.ndarray:
    """(side, side) float32 digit in [0, 1]; ``UserInputError`` for anything else."""
    try:
        img = np.asarray(image, dtype=np.float32)
    except (TypeError, ValueError):
        raise UserInputError("image", "must be a numeric (28, 28) array") from None
    if img.shape != (side, side):
        raise UserInputError("image", f"must be a {side}×{side} grayscale digit, got shape {img.shape}")
    if not np.isfinite(img).all() or img.min() < 0 or img.max() > 1:
        raise UserInputError("image", "values must be finite and in [0, 1]")
    return img


def probabilities_of(logits: torch.Tensor) -> np.ndarray:
    return torch.softmax(logits.detach().float().cpu()[0], dim=0).numpy()  # (C,)


def check_layer(index: Any, count: int) -> int:
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < count:
        raise UserInputError("layer", f"must be an integer in [0, {count - 1}], got {index!r}")
    return int(index)


@dataclass(frozen=True)
class DigitAttention:
    """One digit through an attention network: every layer's coefficients and the run's answer."""

    layers: tuple[Attention, ...]
    probabilities: np.ndarray  # (C,) the run's softmax output for the digit

    @property
    def prediction(self) -> int:
        return int(np.argmax(self.probabilities))

    def layer(self, index: int) -> Attention:
        return self.layers[check_layer(index, len(self.layers))]


# ----------------------------------------------------------------------------- GAT runs (pixel graphs)


@dataclass(frozen=True)
class GATLayerInfo:
    """One GAT layer of a pixel-graph run: the grid it runs on and its heads."""

    index: int  # 0-based
    side: int  # the layer's graph is side x side pixels (28, or 14 / 7 after pooling)
    num_nodes: int
    heads: int
    channels: int  # C per head
    self_loops: bool  # every pixel attends to itself too


@dataclass
class GATRun:
    """A stored GAT run: the trained network, its PyG twins of the attention layers, its settings."""

    run_id: int
    cfg: Any  # core.training.runs.RunConfig
    model: Any  # GraphNet with the checkpoint's weights, eval mode, CPU
    graph: Graph  # the run's raw 28 x 28 pixel graph
    layers: tuple[GATLayerInfo, ...]
    pyg_layers: tuple[Any, ...]  # torch_geometric.nn.GATConv per layer, with that layer's weights

    def layer(self, index: int) -> GATLayerInfo:
        return self.layers[check_layer(index, len(self.layers))]


def pyg_gat(conv: torch.nn.Module) -> torch.nn.Module:
    """``torch_geometric.nn.GATConv`` with the settings and weights (``lin.weight``, ``att_src``, ``att_dst``,
    ``bias``) of the project's :class:`~core.models.layers.gat_conv.GATConv` ``conv``, in eval mode (its
    construction draws no numbers from the process-wide generator)."""
    from torch_geometric.nn import GATConv

    from core.rng import isolated_rng

    with isolated_rng():  # PyG initialises its parameters before they are overwritten: keep torch's stream
        twin = GATConv(
            conv.in_channels,
            conv.out_channels,
            heads=conv.heads,
            concat=conv.concat,
            negative_slope=conv.negative_slope,
            dropout=0.0,
            add_self_loops=conv.add_self_loops,
            bias=conv.bias is not None,
        )
    twin.load_state_dict(conv.state_dict(), strict=True)
    return twin.eval()


def load_gat_run(run_id: int, store=None) -> GATRun:
    """Rebuild stored run ``run_id`` (model "gat") with its checkpoint's weights, and a PyG ``GATConv`` per layer.

    Raises ``RunNotFoundError``, ``UserInputError`` (not a GAT run, or settings this version cannot read),
    ``CheckpointError`` (no checkpoint, a missing or corrupt file, weights that do not fit).
    """
    from core.analysis.results import load_weights, stored_run_of
    from core.graphs import build_graph
    from core.models import MODELS
    from core.rng import isolated_rng

    run, cfg, loaded = stored_run_of(run_id, "gat", "a GAT run", store)
    graph = build_graph(cfg.graph, size=FULL_SIDE, **cfg.graph_params)
    with isolated_rng(cfg.training.seed):  # weights are replaced by the checkpoint's; no other run's stream is touched
        model = MODELS.get("gat")(cfg.model_config(), graph)
    load_weights(model, run, "a GAT model", loaded)
    layers = tuple(
        GATLayerInfo(
            index=i,
            side=round(g.num_nodes**0.5),
            num_nodes=int(g.num_nodes),
            heads=int(conv.heads),
            channels=int(conv.out_channels),
            self_loops=bool(conv.add_self_loops),
        )
        for i, (conv, g) in enumerate(zip(model.convs, model.graphs, strict=True))
    )
    return GATRun(run.id, cfg, model, graph, layers, tuple(pyg_gat(conv) for conv in model.convs))


def gat_layer_inputs(run: GATRun, image: Any) -> tuple[list[torch.Tensor], torch.Tensor]:
    """(every layer's input features (N_l, C_in) for ``image``, the logits (1, C)): the digit through the run."""
    img = check_image(image)
    x = torch.from_numpy(img).reshape(1, 1, FULL_SIDE, FULL_SIDE)  # (1, 1, 28, 28)
    seen, logits = layer_inputs(list(run.model.convs), lambda: run.model(x))
    return [args[0][0] for args in seen], logits  # layers take (B, N, C_in) and the shared graph


def gat_attention(run: GATRun, image: Any) -> DigitAttention:
    """Every layer's attention coefficients for one digit (28, 28) in [0, 1], and the run's answer.

    Each layer's input features are recorded during the network's own forward pass; PyG's ``GATConv``
    with the layer's weights is then called on them and the layer's edges with
    ``return_attention_weights=True`` (self-loops added as the layer adds them).
    """
    inputs, logits = gat_layer_inputs(run, image)
    layers = []
    with torch.no_grad():
        for x, twin, g in zip(inputs, run.pyg_layers, run.model.graphs, strict=True):
            edge_index, _ = g.edges("none")  # (2, E) the layer's graph; PyG adds the self-loops
            _, (ei, alpha) = twin(x, edge_index, return_attention_weights=True)  # (2, E'), (E', H)
            layers.append(attention_of(ei, alpha, g.num_nodes))
    return DigitAttention(tuple(layers), probabilities_of(logits))


def attention_filter(attention: Attention, pixel: Sequence[int], head: int | None = None) -> np.ndarray:
    """(side, side) float32: the attention of ``pixel`` (row, col on the layer's own square grid) over its
    neighbours, for one head or the mean over heads."""
    side = round(attention.num_nodes**0.5)
    if side * side != attention.num_nodes:
        raise UserInputError(
            "attention", f"a filter as an image needs a square pixel graph, got {attention.num_nodes} nodes"
        )
    r, c = check_pixel(pixel, side)
    return attention.row(r * side + c, head).reshape(side, side)


def attention_frames(attention: Attention, pixels: Sequence[Sequence[int]], head: int | None = None) -> list[Frame]:
    """One frame per pixel (on the layer's grid) of the attention filters of one digit."""
    side = round(attention.num_nodes**0.5)
    checked = [check_pixel(p, side) for p in pixels]
    dense = attention.dense(head)  # (N, N)
    return [Frame(p, dense[p[0] * side + p[1]].reshape(side, side)) for p in checked]


# ----------------------------------------------------------------------------- links to runs


def run_problem(run_id: int | None, model: str, store=None) -> str | None:
    """Why stored run ``run_id`` cannot show ``model``'s filters (not found, another model, no or a missing
    checkpoint), in one line; None when it can (its checkpoint may still turn out corrupt)."""
    from core.analysis.results import checkpoint_file
    from core.training.store import CheckpointError, StoreError, open_store

    what = {"gat": "a GAT run", "superpixel": "a superpixel run", "learned": "a learned-edge run"}.get(model, model)
    if run_id is None:
        return "not a run id"
    try:
        run = open_store(store).run(int(run_id))
    except StoreError as err:
        return f"the run store cannot be read: {err}"
    if run is None:
        return f"there is no run {run_id}"
    kind = run.model
    if kind != model:
        return f"run {run_id} is a {kind!r} run, not {what}"
    try:
        checkpoint_file(run)
    except CheckpointError as err:
        return str(err)
    return None
