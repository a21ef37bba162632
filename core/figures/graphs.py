"""Graphs over digits: edges drawn on the image, superpixel boundaries, a node's filter, degrees."""

from __future__ import annotations

from typing import Optional

import numpy as np
import plotly.graph_objects as go

from core.figures.common import INK
from core.graphs.base import Graph


def _image_heatmap(image: np.ndarray, opacity: float = 1.0) -> go.Heatmap:
    return go.Heatmap(z=image, colorscale=INK, showscale=False, opacity=opacity, hoverinfo="skip")


def graph_figure(image: np.ndarray, graph: Graph, max_edges: int = 4000, boundaries: Optional[np.ndarray] = None,
                 highlight: Optional[int] = None, title: str = "", symmetric: Optional[bool] = None) -> go.Figure:
    """The graph drawn over its image: edges as segments (the ``max_edges`` strongest), nodes as dots.

    ``symmetric`` (computed when not given) draws one segment per undirected edge.

    image (H, W); graph.pos (N, 2) in pixel coordinates (x=col, y=row); boundaries (s*H, s*W) bool, an
    ``s``-times upsampled boundary mask (see ``superpixel_boundaries``).
    """
    fig = go.Figure(_image_heatmap(image, opacity=0.55))
    if boundaries is not None:  # (s*H, s*W) mask, drawn at sub-pixel resolution so lines stay thin
        s = boundaries.shape[0] // image.shape[0]
        sub = (np.arange(boundaries.shape[1]) + 0.5) / s - 0.5
        fig.add_trace(go.Heatmap(z=boundaries.astype(float), x=sub, y=(np.arange(boundaries.shape[0]) + 0.5) / s - 0.5,
                                 showscale=False, hoverinfo="skip",
                                 colorscale=[[0, "rgba(0,0,0,0)"], [1, "rgba(234,88,12,0.55)"]],
                                 name="superpixel boundaries"))
    ei = graph.edge_index.numpy()
    w = graph.edge_weight.detach().numpy()
    if symmetric is None:
        symmetric = graph.is_symmetric()
    keep = ei[0] < ei[1] if symmetric else ei[0] != ei[1]  # one segment per undirected edge
    idx = np.nonzero(keep)[0]
    if len(idx) > max_edges:  # the strongest edges; ties in a seeded random order so they spread over the image
        idx = np.random.default_rng(0).permutation(idx)
        idx = idx[np.argsort(-np.abs(w[idx]), kind="stable")[:max_edges]]
    pos = graph.pos.numpy()
    seg_x = np.stack([pos[ei[0, idx], 0], pos[ei[1, idx], 0], np.full(len(idx), np.nan)], 1).ravel()
    seg_y = np.stack([pos[ei[0, idx], 1], pos[ei[1, idx], 1], np.full(len(idx), np.nan)], 1).ravel()
    shown = f"{len(idx):,} of {int(keep.sum()):,} edges" if len(idx) < keep.sum() else f"{len(idx):,} edges"
    fig.add_trace(go.Scatter(x=seg_x, y=seg_y, mode="lines", line=dict(width=0.6, color="rgba(79,70,229,0.45)"),
                               name=shown, hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=pos[:, 0], y=pos[:, 1], mode="markers", name=f"{graph.num_nodes:,} nodes",
                               marker=dict(size=4 if graph.num_nodes > 200 else 8, color="#dc2626"),
                               text=[f"node {i}" for i in range(graph.num_nodes)], hoverinfo="text"))
    if highlight is not None:
        fig.add_trace(go.Scatter(x=[pos[highlight, 0]], y=[pos[highlight, 1]], mode="markers", name="chosen node",
                                 marker=dict(size=14, color="#16a34a", symbol="x")))
    h, w_ = image.shape
    fig.update_yaxes(autorange="reversed", scaleanchor="x", range=[h - 0.5, -0.5], showgrid=False)
    fig.update_xaxes(range=[-0.5, w_ - 0.5], showgrid=False)
    fig.update_layout(title=title, height=540, margin=dict(l=10, r=10, t=40, b=50),  # the legend sits below the
                      legend=dict(orientation="h", yanchor="top", y=-0.07, x=0))  # tick labels, not on them
    return fig


def superpixel_boundaries(segments: np.ndarray, scale: int = 4) -> np.ndarray:
    """(scale*H, scale*W) bool mask of thin lines between superpixels of a (H, W) label map."""
    from skimage.segmentation import find_boundaries

    return find_boundaries(np.kron(segments, np.ones((scale, scale), dtype=segments.dtype)), mode="inner")


def filter_figure(row: np.ndarray, size: int, node: Optional[int] = None, title: str = "") -> go.Figure:
    """Row ``node`` of the normalised adjacency as a size x size image (the node's "filter")."""
    z = row.reshape(size, size)
    fig = go.Figure(go.Heatmap(z=z, colorscale="Viridis", colorbar=dict(thickness=12),
                               hovertemplate="row %{y}, col %{x}: %{z:.4g}<extra></extra>"))
    if node is not None:
        r, c = divmod(node, size)
        fig.add_trace(go.Scatter(x=[c], y=[r], mode="markers", marker=dict(symbol="x", size=10, color="red"),
                                 showlegend=False, hoverinfo="skip"))
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
    fig = go.Figure(go.Histogram(x=degrees, nbinsx=min(50, max(5, len(np.unique(degrees)))),
                                 marker_color="#4F46E5"))
    fig.update_layout(title=title, xaxis_title="weighted degree (row sum of A)", yaxis_title="nodes",
                      height=300, margin=dict(l=10, r=10, t=40, b=10), bargap=0.05)
    return fig
