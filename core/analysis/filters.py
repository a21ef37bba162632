r"""Filters as images: what one graph convolution does at one pixel, for fixed and learned graphs.

One graph convolution computes output pixel i as :math:`\sum_j \hat A_{ij} x_j`, so row i of the
normalised adjacency, drawn on the pixel layout, is the filter pixel i applies. This module gives:

- **learned-edge runs** (model ``"learned"``): ``load_learned_run`` rebuilds a stored run's
  :class:`~core.models.graph_net.GraphNet` from its checkpoint (``weights_only=True``, no data
  loaded) and, with the run's seed, the same network as initialised before training;
  ``learned_filter`` is row i of layer l's learned :math:`\hat A` (``LearnedEdgeConv.dense_adjacency``)
  as a ``side`` x ``side`` image. Pooled layers run on coarser graphs (28 -> 14 -> 7), so every layer
  reports its own side (``LearnedRun.layers``); ``layer_pixel`` maps a pixel of the 28 x 28 input
  onto a layer's grid. A layer with several edge sets (one per output channel, or per channel pair)
  has one filter per set (``edge_set``); ``filter_drift`` measures, per layer and set, how far
  training moved the learned weights from their initial values.
- **the Gaussian counterpart**: ``gaussian_filter`` is the same row of the Gaussian-kernel adjacency
  :math:`A_{ij} = \exp(-\lVert p_i - p_j \rVert^2 / \sigma^2)` (coordinates scaled to [0, 1], self
  loop :math:`e^0 = 1`) on exactly the learned layer's edges, normalised the layer's way (``rw`` or
  ``sym``). Its sigma is the run graph's own (gaussian, or knn with a sigma), else
  ``DEFAULT_SIGMA``; on coarser layers it is rescaled as the model rescales its graphs, so the
  kernel spans the same number of grid steps.
- **animations**: ``pixel_path`` walks over the image, ``graph_frames`` / ``learned_frames`` give
  one :class:`Frame` (pixel, image) per step, ``filters_gif`` encodes them as an animated GIF.

Bad input raises one-line errors: ``UserInputError`` (a pixel or layer out of range, a run that is
not a learned-edge model, a non-pixel graph), ``RunNotFoundError`` and ``CheckpointError`` (no
checkpoint, a missing or corrupt file, weights that do not fit). No streamlit here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import torch

from core.errors import UserInputError
from core.graphs import GRAPH_PARAMS, Graph, adjacency_row, normalize

FULL_SIDE = 28  # every data set's images are 28 x 28
DEFAULT_SIGMA = float(GRAPH_PARAMS["gaussian"]["sigma"].default)  # 0.05 ≈ 1.35 pixels at 28 x 28
PATHS: dict[str, str] = {  # name -> what the animation walks over
    "raster": "every step-th pixel, row by row",
    "row": "along the chosen pixel's row",
    "column": "down the chosen pixel's column",
    "diagonal": "from the top-left to the bottom-right corner",
}
MARKER_RGB = (255, 40, 40)  # the current pixel's outline in GIF frames
MAX_GIF_FRAMES = 400


class Frame(NamedTuple):
    """One animation step: the pixel (row, col) on a side x side grid and its filter (side, side)."""

    pixel: tuple[int, int]
    image: np.ndarray


@dataclass(frozen=True)
class LayerInfo:
    """One learned layer: the grid it runs on and how it normalises its learned weights."""

    index: int  # 0-based
    side: int  # the layer's graph is side x side pixels
    num_nodes: int
    norm: str  # "rw" or "sym"
    inputs: str  # what the edge MLP sees: "diff", "abs", "both" or "offset"
    self_loops: bool
    sigma: float  # the Gaussian counterpart's sigma on this layer's [0, 1] coordinates
    activation: str = "softplus"  # softplus (positive weights), tanh or none (signed)
    edge_sets: str = "shared"  # shared, out (one set per output channel) or pair (per channel pair)
    num_sets: int = 1  # 1, C_out or C_out * C_in
    in_channels: int = 1  # C_in: pair sets are numbered output * C_in + input

    @property
    def signed(self) -> bool:
        """Whether weights can be negative (draw them on a scale centred at 0)."""
        return self.activation != "softplus"

    def set_name(self, edge_set: int) -> str:
        """'shared', 'output channel o' or 'output o ← input c' for set ``edge_set`` (0-based)."""
        if self.edge_sets == "shared":
            return "shared"
        if self.edge_sets == "out":
            return f"output channel {edge_set}"
        o, c = divmod(edge_set, self.in_channels)
        return f"output {o} ← input {c}"


@dataclass
class LearnedRun:
    """A stored learned-edge run: the trained network, the same network before training, its settings."""

    run_id: int
    cfg: Any  # core.training.runs.RunConfig
    model: Any  # GraphNet with the checkpoint's weights, eval mode, CPU
    untrained: Any  # GraphNet as initialised with the run's seed (before the first step)
    graph: Graph  # the run's raw 28 x 28 pixel graph
    layers: tuple[LayerInfo, ...]

    def layer(self, index: int) -> LayerInfo:
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < len(self.layers):
            raise UserInputError("layer", f"must be an integer in [0, {len(self.layers) - 1}], got {index!r}")
        return self.layers[int(index)]


# ----------------------------------------------------------------------------- pixels


def _check_side(side: Any) -> int:
    if isinstance(side, bool) or not isinstance(side, (int, np.integer)) or side < 1:
        raise UserInputError("side", f"must be a positive whole number, got {side!r}")
    return int(side)


def check_pixel(pixel: Sequence[int], side: int) -> tuple[int, int]:
    """``pixel`` as (row, col) ints, or ``UserInputError`` when it is not on the side x side grid."""
    side = _check_side(side)
    try:
        r, c = pixel
    except (TypeError, ValueError):
        raise UserInputError("pixel", f"must be (row, column), got {pixel!r}") from None
    for name, v in (("row", r), ("column", c)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not 0 <= v < side:
            raise UserInputError(
                "pixel", f"{name} must be an integer in [0, {side - 1}] on a {side}×{side} grid, got {v!r}"
            )
    return int(r), int(c)


def layer_pixel(row: int, col: int, side: int, full: int = FULL_SIDE) -> tuple[int, int]:
    """The pixel of a ``side`` x ``side`` layer that input pixel (row, col) of the ``full`` x ``full``
    image pools into (2 x 2 max pooling: 28 -> 14 -> 7)."""
    r, c = check_pixel((row, col), full)
    side = _check_side(side)
    return r * side // full, c * side // full


def pixel_path(
    side: int, path: str = "raster", step: int = 4, row: int | None = None, col: int | None = None
) -> list[tuple[int, int]]:
    """Distinct (row, col) pixels of a side x side grid in animation order (see ``PATHS``).

    ``step`` skips pixels (every step-th row and column for "raster"); "row" / "column" run through
    the chosen ``row`` / ``col`` (the middle one when not given).
    """
    side = _check_side(side)
    if path not in PATHS:
        raise UserInputError("path", f"unknown path {path!r} (choose from {', '.join(PATHS)})")
    if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or not 1 <= step <= side:
        raise UserInputError("step", f"must be a whole number in [1, {side}], got {step!r}")
    mid = side // 2
    r0, c0 = check_pixel((mid if row is None else row, mid if col is None else col), side)
    start = (side - 1) % step // 2  # centre the sampled pixels
    ticks = range(start, side, step)
    if path == "raster":
        return [(r, c) for r in ticks for c in ticks]
    if path == "row":
        return [(r0, c) for c in ticks]
    if path == "column":
        return [(r, c0) for r in ticks]
    return [(t, t) for t in ticks]


# ----------------------------------------------------------------------------- fixed graphs


def _graph_side(graph: Graph) -> int:
    side = round(graph.num_nodes**0.5)
    if graph.kind == "superpixels" or side * side != graph.num_nodes:
        raise UserInputError(
            "graph",
            f"filters as images need a square pixel graph (grid, knn or gaussian), got "
            f"{graph.kind or 'a graph'} with {graph.num_nodes} nodes",
        )
    return side


def graph_filter(graph: Graph, pixel: Sequence[int]) -> np.ndarray:
    """(side, side) float32: row ``pixel`` of ``graph``'s adjacency (pass a normalised graph)."""
    side = _graph_side(graph)
    r, c = check_pixel(pixel, side)
    return adjacency_row(graph, r * side + c).reshape(side, side)


def graph_frames(graph: Graph, pixels: Sequence[Sequence[int]]) -> list[Frame]:
    """One frame per pixel of a fixed pixel graph (pass the normalised graph)."""
    return [Frame(check_pixel(p, _graph_side(graph)), graph_filter(graph, p)) for p in pixels]


def pixel_grid_edges(side: int, neighbours: int = 8, self_loops: bool = True) -> torch.Tensor:
    """(2, E) edges of a side x side grid (4 or 8 neighbours, both directions), plus one loop per pixel."""
    side = _check_side(side)
    if neighbours not in (4, 8):
        raise UserInputError("neighbours", f"must be 4 or 8, got {neighbours!r}")
    offsets = [(-1, 0), (1, 0), (0, -1), (0, 1)] + ([(-1, -1), (-1, 1), (1, -1), (1, 1)] if neighbours == 8 else [])
    if self_loops:
        offsets.append((0, 0))
    rows, cols = np.divmod(np.arange(side * side), side)
    src, dst = [], []
    for dr, dc in offsets:
        ok = (rows + dr >= 0) & (rows + dr < side) & (cols + dc >= 0) & (cols + dc < side)
        dst.append(np.flatnonzero(ok))
        src.append((rows[ok] + dr) * side + cols[ok] + dc)
    return torch.from_numpy(np.stack([np.concatenate(src), np.concatenate(dst)])).long()


def gaussian_kernel_graph(side: int, sigma: float, edge_index: torch.Tensor | None = None) -> Graph:
    r"""The side x side pixel graph with Gaussian weights :math:`\exp(-\lVert p_i - p_j \rVert^2 / \sigma^2)`
    on ``edge_index`` (all pairs, loops included, when None), with :math:`p = (\text{col}, \text{row}) /
    (\text{side} - 1)` as in the gaussian builder. A loop gets weight :math:`e^0 = 1`."""
    side = _check_side(side)
    if isinstance(sigma, bool) or not isinstance(sigma, (int, float, np.number)) or not sigma > 0:
        raise UserInputError("sigma", f"must be a positive number, got {sigma!r}")
    n = side * side
    rows, cols = np.divmod(np.arange(n), side)
    pos = torch.from_numpy(np.stack([cols, rows], 1).astype(np.float32))  # (N, 2) pixels, (x=col, y=row)
    if edge_index is None:
        src, dst = np.meshgrid(np.arange(n), np.arange(n), indexing="xy")
        edge_index = torch.from_numpy(np.stack([src.ravel(), dst.ravel()])).long()
    ei = edge_index.long().cpu()
    scale = float(max(side - 1, 1))
    p = pos.double() / scale
    d2 = ((p[ei[0]] - p[ei[1]]) ** 2).sum(-1)  # (E,) squared distance on [0, 1] coordinates
    w = torch.exp(-d2 / float(sigma) ** 2).float()
    return Graph(ei, w, n, pos, kind="gaussian-kernel", params={"size": side, "sigma": float(sigma)})


# ----------------------------------------------------------------------------- learned-edge runs


def _layer_sigma(graph: Graph, side: int) -> float:
    """The run graph's sigma (else DEFAULT_SIGMA), rescaled to a side x side layer the way
    ``core.models.graph_net.coarse_graph`` rescales it: the same width in grid steps."""
    base = graph.params.get("sigma") if graph.kind in ("gaussian", "knn") else None
    sigma = float(base) if base is not None else DEFAULT_SIGMA
    full = round(graph.num_nodes**0.5)
    if side == full or side < 2:
        return sigma
    scaled = sigma * (full - 1) / (side - 1)
    return min(scaled, float(GRAPH_PARAMS["gaussian"]["sigma"].max)) if base is not None else scaled


def load_learned_run(run_id: int, store=None) -> LearnedRun:
    """Rebuild stored run ``run_id`` (model "learned"): trained weights from its checkpoint, and the
    network as initialised with the run's seed (as ``core.training.runs.build_everything`` seeds it).

    Raises ``RunNotFoundError`` (no such run), ``UserInputError`` (not a learned-edge run, or settings
    this version cannot read), ``CheckpointError`` (no checkpoint, missing/corrupt file, weights that
    do not fit).
    """
    from core.analysis.results import load_weights, stored_run_of
    from core.graphs import build_graph
    from core.models import MODELS
    from core.rng import isolated_rng

    run, cfg, loaded = stored_run_of(run_id, "learned", "a learned-edge model", store)
    graph = build_graph(cfg.graph, size=FULL_SIDE, **cfg.graph_params)
    with isolated_rng(
        cfg.training.seed
    ):  # the run's initial weights (as build_everything draws them); no run is disturbed
        untrained = MODELS.get("learned")(cfg.model_config(), graph)
        model = MODELS.get("learned")(cfg.model_config(), graph)
    load_weights(model, run, "a learned-edge model", loaded)
    layers = []
    for i, (conv, shared) in enumerate(zip(model.convs, model.graphs, strict=True)):
        side = round(shared.num_nodes**0.5)
        layers.append(
            LayerInfo(
                index=i,
                side=side,
                num_nodes=int(shared.num_nodes),
                norm=conv.norm,
                inputs=conv.inputs,
                self_loops=bool(conv.add_self_loops),
                sigma=_layer_sigma(graph, side),
                activation=conv.activation,
                edge_sets=conv.edge_sets,
                num_sets=int(conv.num_sets),
                in_channels=int(conv.in_channels),
            )
        )
    return LearnedRun(run.id, cfg, model, untrained.eval(), graph, tuple(layers))  # load_weights: eval


def _check_set(info: LayerInfo, edge_set: Any) -> int:
    if isinstance(edge_set, bool) or not isinstance(edge_set, (int, np.integer)) or not 0 <= edge_set < info.num_sets:
        raise UserInputError(
            "edge_set",
            f"must be an integer in [0, {info.num_sets - 1}] for layer {info.index + 1} "
            f"({info.edge_sets} edge sets), got {edge_set!r}",
        )
    return int(edge_set)


def learned_adjacency(run: LearnedRun, layer: int, trained: bool = True, edge_set: int = 0) -> np.ndarray:
    """(N, N) float32: layer ``layer``'s normalised learned adjacency of one edge set (row i = pixel i's filter)."""
    info = run.layer(layer)
    s = _check_set(info, edge_set)
    net = run.model if trained else run.untrained
    with torch.no_grad():
        adj = net.convs[info.index].dense_adjacency(net.graphs[info.index], s)
    return adj.detach().cpu().float().numpy()


def learned_filter(
    run: LearnedRun, layer: int, pixel: Sequence[int], trained: bool = True, edge_set: int = 0
) -> np.ndarray:
    """(side, side) float32: the learned filter of ``pixel`` (row, col on the layer's own grid)."""
    info = run.layer(layer)
    r, c = check_pixel(pixel, info.side)
    return learned_adjacency(run, layer, trained, edge_set)[r * info.side + c].reshape(info.side, info.side)


def learned_frames(
    run: LearnedRun, layer: int, pixels: Sequence[Sequence[int]], trained: bool = True, edge_set: int = 0
) -> list[Frame]:
    """One frame per pixel (on the layer's grid) of the layer's learned filters (one edge set)."""
    info = run.layer(layer)
    checked = [check_pixel(p, info.side) for p in pixels]
    adj = learned_adjacency(run, layer, trained, edge_set)
    return [Frame(p, adj[p[0] * info.side + p[1]].reshape(info.side, info.side)) for p in checked]


def filter_drift(run: LearnedRun) -> list[dict[str, Any]]:
    r"""How far training moved every layer's learned filters, per edge set: one row per (layer, set) with

    * ``max_change``: :math:`\max_e |w_e - w^0_e|` over the set's normalised edge weights,
    * ``relative_change``: :math:`\lVert w - w^0 \rVert_2 / \lVert w^0 \rVert_2` (0: unchanged, 1: as large as
      the initial filter itself),
    * ``sign_flips``: the share of edges whose weight changed sign (signed layers only; else 0),

    where :math:`w^0` are the same network's weights at initialisation (the run's seed).
    """
    rows = []
    for info in run.layers:
        trained, untrained = run.model, run.untrained
        with torch.no_grad():
            w = trained.convs[info.index].edge_weights(trained.graphs[info.index]).double()  # (E',) or (E', S)
            w0 = untrained.convs[info.index].edge_weights(untrained.graphs[info.index]).double()
        w, w0 = w.reshape(w.shape[0], -1), w0.reshape(w0.shape[0], -1)  # (E', S)
        diff = (w - w0).abs()
        rel = (w - w0).norm(dim=0) / w0.norm(dim=0).clamp_min(1e-12)
        flips = ((w * w0) < 0).double().mean(dim=0)
        for s in range(w.shape[1]):
            rows.append(
                {
                    "layer": info.index + 1,
                    "edge_set": s,
                    "set": info.set_name(s),
                    "max_change": float(diff[:, s].max()),
                    "relative_change": float(rel[s]),
                    "sign_flips": float(flips[s]),
                }
            )
    return rows


def drift_summary(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per layer: how many edge sets, and the median and largest relative change over them."""
    out = []
    for layer in sorted({r["layer"] for r in rows}):
        rel = np.array([r["relative_change"] for r in rows if r["layer"] == layer])
        biggest = max((r for r in rows if r["layer"] == layer), key=lambda r: r["relative_change"])
        out.append(
            {
                "layer": layer,
                "edge sets": len(rel),
                "median relative change": float(np.median(rel)),
                "largest relative change": float(rel.max()),
                "set that moved most": biggest["set"],
            }
        )
    return out


def gaussian_layer_graph(run: LearnedRun, layer: int, sigma: float | None = None) -> Graph:
    """The Gaussian counterpart of a learned layer: Gaussian weights on the layer's own edges (loops
    included when the layer has them), normalised as the layer normalises (``rw`` or ``sym``)."""
    info = run.layer(layer)
    conv, shared = run.model.convs[info.index], run.model.graphs[info.index]
    edges = conv.edge_index(shared).cpu()
    return normalize(gaussian_kernel_graph(info.side, info.sigma if sigma is None else sigma, edges), info.norm)


def gaussian_filter(run: LearnedRun, layer: int, pixel: Sequence[int], sigma: float | None = None) -> np.ndarray:
    """(side, side) float32: the Gaussian-kernel filter of ``pixel`` on the same edges and normalisation
    as the learned layer (see ``gaussian_layer_graph``)."""
    return graph_filter(gaussian_layer_graph(run, layer, sigma), pixel)


# ----------------------------------------------------------------------------- numbers about a filter


def filter_stats(image: np.ndarray, pixel: Sequence[int]) -> dict[str, float]:
    """Facts about one filter (side, side) of ``pixel``: the row sum, the number of non-zero weights,
    the pixel's own weight, the largest weight and the mean distance (in grid steps) of the weight
    from the pixel, weighted by |weight|."""
    img = np.asarray(image, dtype=np.float64)
    if img.ndim != 2 or img.shape[0] != img.shape[1]:
        raise UserInputError("image", f"must be a square 2-D filter, got shape {img.shape}")
    r, c = check_pixel(pixel, img.shape[0])
    rows, cols = np.indices(img.shape)
    dist = np.hypot(rows - r, cols - c)
    mass = np.abs(img)
    total = float(mass.sum())
    return {
        "sum": float(img.sum()),
        "support": int(np.count_nonzero(img)),
        "self": float(img[r, c]),
        "max": float(img.max()),
        "mean_distance": float((mass * dist).sum() / total) if total > 0 else 0.0,
    }
