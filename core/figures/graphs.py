"""Graphs over digits: edges drawn on the image (shaded by weight), a Gaussian kernel's profile, superpixel
boundaries, a node's filter, degrees."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from core.figures.common import INK
from core.graphs.base import Graph

# Edges are drawn in weight classes, heavier ones thicker and darker: (lowest weight of the class, line width,
# opacity) for the sample of the whole graph, then width and opacity for the chosen node's own edges (drawn over it).
# Edges lighter than DRAWN_FROM are not drawn: they would be a haze over the digit.
EDGE_CLASSES = (
    (0.75, 1.5, 0.6, 2.4, 0.95),
    (0.5, 1.1, 0.45, 1.7, 0.8),
    (0.25, 0.8, 0.32, 1.2, 0.6),
    (0.05, 0.5, 0.2, 0.8, 0.4),
)
DRAWN_FROM = EDGE_CLASSES[-1][0]
EDGE_COLOR = "rgb(79,70,229)"  # indigo: a sample of the whole graph's edges
NODE_EDGE_COLOR = "rgb(22,163,74)"  # green, as the chosen node's cross: that node's own edges
NODE_COLOR = "#dc2626"
MARKERS_UP_TO = 200  # graphs with more nodes draw them as one path, not one marker each (784 markers: ~0.1 s a redraw)
MAX_EDGES = 3000  # edges of the whole graph drawn at most (plus all of the chosen node's): every edge of a grid


def _image_heatmap(image: np.ndarray, opacity: float = 1.0) -> go.Heatmap:
    return go.Heatmap(z=image, colorscale=INK, showscale=False, opacity=opacity, hoverinfo="skip")


@dataclass(frozen=True)
class DrawnEdges:
    """Which edges a graph figure draws; ``sample`` and ``node`` index the graph's edge list.

    One segment per undirected edge when ``symmetric``. ``total``: the edges there are (undirected when symmetric);
    ``heavy``: how many of them weigh at least ``DRAWN_FROM`` (all of them when every weight is the same);
    ``sample``: at most ``max_edges`` of those, picked at random (seeded: the same graph draws the same edges whatever
    the digit or the chosen node); ``node``: every heavy edge of the chosen node. Weights are divided by ``scale``
    before they are classed (1 unless some weight exceeds 1); ``uniform``: every weight is the same."""

    sample: np.ndarray
    node: np.ndarray
    total: int
    heavy: int
    scale: float
    uniform: bool
    symmetric: bool


def drawn_edges(
    graph: Graph, max_edges: int = MAX_EDGES, symmetric: bool | None = None, highlight: int | None = None
) -> DrawnEdges:
    """The edges ``graph_figure`` draws (see ``DrawnEdges``); ``highlight`` is the chosen node or None."""
    ei = graph.edge_index.numpy()
    w = np.abs(graph.edge_weight.detach().numpy())
    if symmetric is None:
        symmetric = graph.is_symmetric()
    idx = np.flatnonzero(ei[0] < ei[1] if symmetric else ei[0] != ei[1])  # one segment per undirected edge
    kept_w = w[idx]
    uniform = len(idx) == 0 or bool(kept_w.min() == kept_w.max())
    scale = max(1.0, float(kept_w.max())) if len(idx) else 1.0
    heavy = idx if uniform else idx[kept_w / scale >= DRAWN_FROM]
    rest = heavy
    if len(rest) > max_edges:  # a uniform sample spreads over the whole image, short and long edges alike; it does
        rest = np.sort(np.random.default_rng(0).choice(rest, max_edges, replace=False))  # not depend on the node
    node = heavy[:0]
    if highlight is not None:
        node = heavy[(ei[0, heavy] == highlight) | (ei[1, heavy] == highlight)]
        rest = rest[(ei[0, rest] != highlight) & (ei[1, rest] != highlight)]  # drawn once, in the node's colour
    return DrawnEdges(
        sample=rest,
        node=node,
        total=len(idx),
        heavy=len(heavy),
        scale=scale,
        uniform=uniform,
        symmetric=bool(symmetric),
    )


def _path(pos: np.ndarray, ei: np.ndarray, ids: np.ndarray) -> str:
    """An SVG path with one straight segment per edge ("M x y L x y ..."): Plotly draws it as one element, many
    times faster than a scatter trace of the same segments, and it is a third of the bytes."""
    a, b = np.round(pos[ei[0, ids]], 2).tolist(), np.round(pos[ei[1, ids]], 2).tolist()
    return "".join(f"M{x0:g} {y0:g}L{x1:g} {y1:g}" for (x0, y0), (x1, y1) in zip(a, b, strict=True))


def edge_shapes(graph: Graph, drawn: DrawnEdges, highlight: int | None = None) -> tuple[list[dict], list[go.Scatter]]:
    """The drawn edges as layout shapes (SVG paths), one per weight class and colour (the sample in indigo, the
    chosen node's edges in green over it), heavier classes thicker and darker; and the legend's entries for them
    (empty line traces: a shape's own legend symbol is not a line)."""
    ei = graph.edge_index.numpy()
    pos = graph.pos.numpy()
    w = np.abs(graph.edge_weight.detach().numpy()) / drawn.scale
    shapes: list[dict] = []
    legend: list[go.Scatter] = []

    def add(ids, color: str, width: float, opacity: float, name: str | None, rank: int) -> None:
        if not len(ids):
            return
        shapes.append(
            dict(
                type="path",
                path=_path(pos, ei, ids),
                line=dict(color=color, width=width),
                opacity=opacity,
                layer="above",
                xref="x",
                yref="y",
            )
        )
        if name is not None:
            legend.append(
                go.Scatter(
                    x=[None],
                    y=[None],
                    mode="lines",
                    name=name,
                    opacity=max(opacity, 0.35),
                    line=dict(color=color, width=max(width, 1.2)),
                    legendrank=rank,
                    hoverinfo="skip",
                )
            )

    mine = f"node {highlight}'s edges"
    if drawn.uniform:
        value = float(w[drawn.sample[0] if len(drawn.sample) else drawn.node[0]] * drawn.scale) if drawn.heavy else 1.0
        add(drawn.sample, EDGE_COLOR, 0.8, 0.5, f"edges (every weight {value:g})", 10)
        add(drawn.node, NODE_EDGE_COLOR, 1.6, 0.9, mine, 20)
        return shapes, legend
    node_shapes = []
    for c, (lo, width, opacity, node_width, node_opacity) in enumerate(EDGE_CLASSES):
        hi = EDGE_CLASSES[c - 1][0] if c else None
        label = (
            f"weight ≥ {lo * drawn.scale:.2g}"
            if hi is None
            else f"weight {lo * drawn.scale:.2g}–{hi * drawn.scale:.2g}"
        )
        in_class = [
            ids[(w[ids] >= lo) & (w[ids] < hi)] if hi is not None else ids[w[ids] >= lo]
            for ids in (drawn.sample, drawn.node)
        ]
        add(in_class[0], EDGE_COLOR, width, opacity, label, 10 + c)
        node_shapes.append((in_class[1], node_width, node_opacity))
    first = True
    for ids, width, opacity in node_shapes:  # over the sample, one legend entry for all of them
        add(ids, NODE_EDGE_COLOR, width, opacity, mine if first and len(ids) else None, 20)
        first = first and not len(ids)
    return shapes, legend


def graph_figure(
    image: np.ndarray,
    graph: Graph,
    max_edges: int = MAX_EDGES,
    boundaries: np.ndarray | None = None,
    highlight: int | None = None,
    title: str = "",
    symmetric: bool | None = None,
    drawn: DrawnEdges | None = None,
) -> go.Figure:
    """The graph drawn over its image: edges as lines shaded by weight (see ``drawn_edges``), nodes as dots.

    ``symmetric`` (computed when not given) draws one segment per undirected edge; ``drawn`` (``drawn_edges``'s
    answer, computed when not given) says which edges.

    image (H, W); graph.pos (N, 2) in pixel coordinates (x=col, y=row); boundaries (s*H, s*W) bool, an
    ``s``-times upsampled boundary mask (see ``superpixel_boundaries``).
    """
    if drawn is None:
        drawn = drawn_edges(graph, max_edges, symmetric, highlight)
    fig = go.Figure(_image_heatmap(image, opacity=0.55))
    if boundaries is not None:  # (s*H, s*W) mask, drawn at sub-pixel resolution so lines stay thin
        s = boundaries.shape[0] // image.shape[0]
        sub = (np.arange(boundaries.shape[1]) + 0.5) / s - 0.5
        fig.add_trace(
            go.Heatmap(
                z=boundaries.astype(float),
                x=sub,
                y=(np.arange(boundaries.shape[0]) + 0.5) / s - 0.5,
                showscale=False,
                hoverinfo="skip",
                colorscale=[[0, "rgba(0,0,0,0)"], [1, "rgba(234,88,12,0.55)"]],
                name="superpixel boundaries",
            )
        )
    pos = graph.pos.numpy()
    n = graph.num_nodes
    shapes, legend = edge_shapes(graph, drawn, highlight)
    if n > MARKERS_UP_TO:  # many nodes: dots as short thick dashes of one path (one SVG element, not one each)
        dots = "".join(f"M{x - 0.09:g} {y:g}H{x + 0.09:g}" for x, y in np.round(pos, 2).tolist())
        shapes.insert(
            0, dict(type="path", path=dots, line=dict(color=NODE_COLOR, width=3), layer="above", xref="x", yref="y")
        )
        fig.add_trace(
            go.Scatter(
                x=[None],
                y=[None],
                mode="markers",
                name=f"{n:,} nodes",
                legendrank=1,
                marker=dict(size=4, color=NODE_COLOR, symbol="square"),
                hoverinfo="skip",
            )
        )
        if graph.segments is None and image.size == n:  # a pixel graph: hovering the image names the node there
            fig.data[0].update(
                hoverinfo=None,
                customdata=np.arange(n, dtype=np.int32).reshape(image.shape),
                hovertemplate="row %{y}, column %{x}: node %{customdata}<extra></extra>",
            )
    else:
        fig.add_trace(
            go.Scatter(
                x=pos[:, 0],
                y=pos[:, 1],
                mode="markers",
                name=f"{n:,} nodes",
                marker=dict(size=8, color=NODE_COLOR),
                hovertemplate="node %{customdata}<extra></extra>",
                customdata=np.arange(n),
                legendrank=1,
            )
        )
    if highlight is not None:
        fig.add_trace(
            go.Scatter(
                x=[pos[highlight, 0]],
                y=[pos[highlight, 1]],
                mode="markers",
                name="chosen node",
                marker=dict(size=14, color="#16a34a", symbol="x"),
                legendrank=2,
            )
        )
    fig.add_traces(legend)
    fig.update_layout(shapes=shapes)
    h, w_ = image.shape
    fig.update_yaxes(autorange="reversed", scaleanchor="x", range=[h - 0.5, -0.5], showgrid=False)
    fig.update_xaxes(range=[-0.5, w_ - 0.5], showgrid=False)
    fig.update_layout(
        title=title,
        height=560,
        margin=dict(l=10, r=10, t=40, b=50),  # the legend sits below the
        legend=dict(orientation="h", yanchor="top", y=-0.07, x=0),
    )  # tick labels, not on them
    return fig


def edges_caption(drawn: DrawnEdges, highlight: int | None = None) -> str:
    """What the graph figure draws, in a sentence: how many edges of how many, and how they were picked."""
    edges = "edges" if drawn.symmetric else "directed edges"
    shown = len(drawn.sample) + len(drawn.node)
    mine = (
        f" (green: all {len(drawn.node):,} of node {highlight}'s)" if highlight is not None and len(drawn.node) else ""
    )
    if drawn.uniform:
        if shown == drawn.total:
            return f"All {drawn.total:,} {edges} drawn{mine}."
        return f"{shown:,} of the {drawn.total:,} {edges} drawn, picked at random{mine}."
    light = drawn.total - drawn.heavy
    lighter = f"; the {light:,} lighter than {DRAWN_FROM * drawn.scale:g} are not drawn" if light else ""
    if shown == drawn.heavy:
        return (
            f"All {drawn.heavy:,} {edges} of weight ≥ {DRAWN_FROM * drawn.scale:g} drawn{mine}{lighter}. "
            "The heavier an edge, the thicker and darker its line."
        )
    return (
        f"{shown:,} of the {drawn.heavy:,} {edges} of weight ≥ {DRAWN_FROM * drawn.scale:g} drawn, picked at "
        f"random{mine}{lighter}. The heavier an edge, the thicker and darker its line."
    )


def kernel_weight(distance_px: float, sigma: float, size: int = 28) -> float:
    """exp(-d²/σ²) for two pixels ``distance_px`` apart on [0, 1] coordinates (1 pixel = 1 / (size - 1))."""
    return math.exp(-((distance_px / (size - 1)) ** 2) / sigma**2)


def sigma_sentence(sigma: float, size: int = 28) -> str:
    """What sigma does, in one sentence, with this sigma's weights at a few distances."""
    at = ", ".join(f"{kernel_weight(d, sigma, size):.2f} at {d} pixel{'s' if d > 1 else ''}" for d in (1, 3, 10))
    return (
        f"σ sets how far a pixel reaches: two pixels d apart are joined with weight exp(−d²/σ²), so at "
        f"σ = {sigma:g} ({sigma * (size - 1):.1f} pixels) a neighbour gets {at}."
    )


def kernel_figure(
    sigma: float,
    size: int = 28,
    cutoff: float | None = None,
    kth: float | None = None,
    kth_label: str = "",
    title: str = "",
) -> go.Figure:
    """The Gaussian kernel's profile: weight exp(-d²/σ²) against the distance d between two pixels.

    The x-axis is in pixels (log scale, 1 pixel to the image's diagonal; d on [0, 1] coordinates is pixels /
    (size - 1)). Marked: σ, one pixel, the weight below which the graph figure draws no line, ``cutoff`` (edges lighter
    are dropped) and ``kth`` (a distance in pixels, e.g. the k-th nearest neighbour's, labelled ``kth_label``)."""
    unit = size - 1  # pixels per unit of [0, 1] coordinates
    far = math.hypot(unit, unit)
    d = np.geomspace(0.5, far, 240)  # pixels
    fig = go.Figure(
        go.Scatter(
            x=d,
            y=np.exp(-((d / unit) ** 2) / sigma**2),
            mode="lines",
            name="exp(−d²/σ²)",
            line=dict(color="#4F46E5", width=2.5),
            hoverinfo="skip",
        )
    )
    shapes, notes = [], []  # plain dicts: add_vline / add_hline validate the whole figure on every call

    def vline(x: float, color: str, text: str, top: bool = True, right: bool = True, width=1.0, dash="dot") -> None:
        shapes.append(
            dict(
                type="line",
                xref="x",
                yref="paper",
                x0=math.log10(x),
                x1=math.log10(x),
                y0=0,
                y1=1,
                line=dict(color=color, width=width, dash=dash),
            )
        )  # a log axis is placed by log10(x)
        notes.append(
            dict(
                text=text,
                showarrow=False,
                font=dict(color=color, size=11),
                xref="x",
                yref="paper",
                x=math.log10(x),
                y=1 if top else 0,
                xanchor="left" if right else "right",
                yanchor="top" if top else "bottom",
            )
        )

    def hline(y: float, color: str, text: str, right: bool = True, width=1.0, dash="dot", size=11) -> None:
        shapes.append(
            dict(
                type="line",
                xref="paper",
                yref="y",
                x0=0,
                x1=1,
                y0=y,
                y1=y,
                line=dict(color=color, width=width, dash=dash),
            )
        )
        notes.append(
            dict(
                text=text,
                showarrow=False,
                font=dict(color=color, size=size),
                xref="paper",
                yref="y",
                x=1 if right else 0,
                y=y,
                xanchor="right" if right else "left",
                yanchor="bottom",
            )
        )

    vline(sigma * unit, "#dc2626", f" σ = {sigma:g}", width=2, dash="solid")
    vline(1, "#6b7280", f"1 pixel = 1/{unit} ", top=False, right=False)
    hline(DRAWN_FROM, "#9ca3af", f"no line drawn below {DRAWN_FROM:g}", size=10)
    if cutoff is not None:
        hline(cutoff, "#ea580c", f"cutoff {cutoff:g}: lighter edges dropped", right=False, width=2, dash="dash")
    if kth is not None:
        vline(kth, "#ea580c", f" {kth_label}", top=False, width=2, dash="dash")
    ticks = [t for t in (1, 2, 3, 5, 10, 20, 38) if t <= far + 1]
    fig.update_layout(
        title=title,
        height=300,
        margin=dict(l=10, r=10, t=40, b=10),
        showlegend=False,
        shapes=shapes,
        annotations=notes,
        xaxis=dict(
            type="log",
            range=[math.log10(0.5), math.log10(far * 1.05)],
            tickvals=ticks,
            title="distance between two pixels (pixels)",
        ),
        yaxis=dict(range=[0, 1.05], title="edge weight"),
    )
    return fig


def superpixel_boundaries(segments: np.ndarray, scale: int = 4) -> np.ndarray:
    """(scale*H, scale*W) bool mask of thin lines between superpixels of a (H, W) label map."""
    from skimage.segmentation import find_boundaries

    return find_boundaries(np.kron(segments, np.ones((scale, scale), dtype=segments.dtype)), mode="inner")


def filter_figure(row: np.ndarray, size: int, node: int | None = None, title: str = "") -> go.Figure:
    """Row ``node`` of the normalised adjacency as a size x size image (the node's "filter")."""
    z = row.reshape(size, size)
    fig = go.Figure(
        go.Heatmap(
            z=z,
            colorscale="Viridis",
            colorbar=dict(thickness=12),
            hovertemplate="row %{y}, col %{x}: %{z:.4g}<extra></extra>",
        )
    )
    if node is not None:
        r, c = divmod(node, size)
        fig.add_trace(
            go.Scatter(
                x=[c],
                y=[r],
                mode="markers",
                marker=dict(symbol="x", size=10, color="red"),
                showlegend=False,
                hoverinfo="skip",
            )
        )
    fig.update_yaxes(autorange="reversed", scaleanchor="x", showgrid=False)
    fig.update_layout(title=title, height=360, margin=dict(l=10, r=10, t=40, b=10))
    return fig


def values_on_segments(values: np.ndarray, segments: np.ndarray) -> np.ndarray:
    """Paint one value per superpixel onto its region: (N,) + (H, W) labels -> (H, W)."""
    out = np.zeros(segments.shape, dtype=np.float32)
    valid = segments >= 0
    out[valid] = values[segments[valid]]
    return out


def degree_figure(degrees: np.ndarray, title: str = "Degree distribution") -> go.Figure:
    fig = go.Figure(go.Histogram(x=degrees, nbinsx=min(50, max(5, len(np.unique(degrees)))), marker_color="#4F46E5"))
    fig.update_layout(
        title=title,
        xaxis_title="weighted degree (row sum of A)",
        yaxis_title="nodes",
        height=300,
        margin=dict(l=10, r=10, t=40, b=10),
        bargap=0.05,
    )
    return fig
