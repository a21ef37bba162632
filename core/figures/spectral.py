"""Plotly figures for the spectral view (no streamlit here): eigenvectors as images, the spectrum,
a digit's graph Fourier coefficients and low-pass versions, and learned ChebNet frequency responses."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.figures.common import INK

DIVERGING = "RdBu"


def eigenvector_grid_figure(
    eigenvalues: np.ndarray, eigenvectors: np.ndarray, side: int = 28, cols: int = 4, title: str = ""
) -> go.Figure:
    """Eigenvector i drawn as a ``side`` x ``side`` image (nodes in row-major pixel order), one panel each.

    eigenvalues (k,), eigenvectors (N, k) with N = side². Blue/red for negative/positive, white at 0,
    each panel scaled to its own largest magnitude. Titles give i and the eigenvalue.
    """
    vals = np.asarray(eigenvalues, dtype=np.float64)
    vecs = np.asarray(eigenvectors, dtype=np.float64)
    k = len(vals)
    cols = max(1, min(cols, k))
    rows = max(1, math.ceil(k / cols))
    fig = make_subplots(
        rows=rows,
        cols=cols,
        subplot_titles=[f"u{i}  λ={v:.4f}" for i, v in enumerate(vals)],
        horizontal_spacing=0.02,
        vertical_spacing=0.25 / rows,
    )
    for i in range(k):
        img = vecs[:, i].reshape(side, side)
        vmax = float(np.abs(img).max()) or 1.0
        fig.add_trace(
            go.Heatmap(
                z=img,
                zmin=-vmax,
                zmax=vmax,
                zmid=0.0,
                colorscale=DIVERGING,
                reversescale=True,
                showscale=False,
                hovertemplate=f"u{i}" + "[row %{y}, col %{x}] = %{z:.4f}<extra></extra>",
            ),
            row=i // cols + 1,
            col=i % cols + 1,
        )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, autorange="reversed")
    for i in range(k):  # square pixels in every panel
        ax = "x" if i == 0 else f"x{i + 1}"
        fig.layout[f"yaxis{'' if i == 0 else i + 1}"].update(scaleanchor=ax)
    fig.update_annotations(font_size=11)
    fig.update_layout(
        title=title or None,
        height=max(220, 190 * rows + (40 if title else 10)),
        margin=dict(l=5, r=5, t=50 if title else 30, b=5),
    )
    return fig


def spectrum_figure(eigenvalues: np.ndarray, shown: int = 0, title: str = "Laplacian spectrum") -> go.Figure:
    """Eigenvalue against its index (ascending); the first ``shown`` are highlighted."""
    vals = np.asarray(eigenvalues, dtype=np.float64)
    idx = np.arange(len(vals))
    fig = go.Figure(
        go.Scatter(
            x=idx,
            y=vals,
            mode="lines+markers",
            name="eigenvalues",
            marker=dict(size=3, color="#4e79a7"),
            line=dict(width=1, color="#4e79a7"),
            hovertemplate="λ%{x} = %{y:.4f}<extra></extra>",
        )
    )
    if shown:
        fig.add_trace(
            go.Scatter(
                x=idx[:shown],
                y=vals[:shown],
                mode="markers",
                name=f"first {shown} (drawn)",
                marker=dict(size=7, color="#e15759"),
                hovertemplate="λ%{x} = %{y:.4f}<extra></extra>",
            )
        )
    fig.update_xaxes(title_text="index i")
    fig.update_yaxes(title_text="eigenvalue λᵢ (graph frequency)")
    fig.update_layout(title=title, height=340, margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=1.1))
    return fig


def fourier_figure(
    eigenvalues: np.ndarray, coefficients: np.ndarray, title: str = "Graph Fourier coefficients"
) -> go.Figure:
    """|x̂ᵢ| against the eigenvalue λᵢ (log scale): where the digit's energy sits on the graph spectrum."""
    vals = np.asarray(eigenvalues, dtype=np.float64)
    mag = np.abs(np.asarray(coefficients, dtype=np.float64))
    fig = go.Figure(
        go.Scatter(
            x=vals,
            y=np.maximum(mag, 1e-8),
            mode="markers",
            name="|x̂ᵢ|",
            marker=dict(size=4, color="#4e79a7"),
            customdata=np.arange(len(vals)),
            hovertemplate="i=%{customdata}, λ=%{x:.4f}: |x̂|=%{y:.4f}<extra></extra>",
        )
    )
    fig.update_xaxes(title_text="eigenvalue λᵢ")
    fig.update_yaxes(title_text="|coefficient|", type="log")
    fig.update_layout(title=title, height=340, margin=dict(l=10, r=10, t=40, b=10))
    return fig


def reconstruction_figure(
    images: Sequence[np.ndarray], titles: Sequence[str], title: str = "Low-pass versions of the digit"
) -> go.Figure:
    """Side-by-side grey images (the digit and its reconstructions from the lowest frequencies)."""
    n = max(1, len(images))
    fig = make_subplots(rows=1, cols=n, subplot_titles=list(titles), horizontal_spacing=0.02)
    for i, img in enumerate(images):
        img = np.asarray(img, dtype=np.float64)
        fig.add_trace(
            go.Heatmap(
                z=img, colorscale=INK, zmin=0.0, zmax=max(1.0, float(img.max())), showscale=False, hoverinfo="skip"
            ),
            row=1,
            col=i + 1,
        )
        fig.layout[f"yaxis{'' if i == 0 else i + 1}"].update(scaleanchor="x" if i == 0 else f"x{i + 1}")
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, autorange="reversed")
    fig.update_annotations(font_size=11)
    fig.update_layout(title=title, height=260, margin=dict(l=5, r=5, t=60, b=5))
    return fig


def frequency_response_figure(
    lambdas: np.ndarray,
    response: np.ndarray,
    eigenvalues: np.ndarray | None = None,
    input_channel: int = 0,
    title: str = "Learned filters g(λ)",
) -> go.Figure:
    """One line per output channel: the filter from ``input_channel`` as a function of λ.

    response (L, C_in, C_out) from ``core.analysis.spectral.cheb_frequency_response``; ``eigenvalues`` (of the
    layer's own graph) are marked along the bottom: the only frequencies the filter ever sees.
    """
    lam = np.asarray(lambdas, dtype=np.float64)
    resp = np.asarray(response, dtype=np.float64)[:, input_channel, :]  # (L, C_out)
    fig = go.Figure()
    for o in range(resp.shape[1]):
        fig.add_trace(
            go.Scatter(
                x=lam,
                y=resp[:, o],
                mode="lines",
                name=f"out {o}",
                line=dict(width=1.4),
                hovertemplate=f"out {o}" + ": g(%{x:.3f}) = %{y:.4f}<extra></extra>",
            )
        )
    if eigenvalues is not None and len(eigenvalues):
        ev = np.asarray(eigenvalues, dtype=np.float64)
        lo = float(resp.min()) if resp.size else 0.0
        span = (float(resp.max()) - lo) if resp.size else 1.0
        fig.add_trace(
            go.Scatter(
                x=ev,
                y=np.full(len(ev), lo - 0.06 * (span or 1.0)),
                mode="markers",
                name="eigenvalues of the layer's graph",
                marker=dict(symbol="line-ns-open", size=8, color="rgba(17,24,39,0.35)"),
                hovertemplate="λ = %{x:.4f}<extra></extra>",
            )
        )
    fig.add_hline(y=0.0, line=dict(width=1, color="rgba(17,24,39,0.3)"))
    fig.update_xaxes(title_text="λ (eigenvalue of L = I − D^-1/2 A D^-1/2)", range=[float(lam.min()), float(lam.max())])
    fig.update_yaxes(title_text="response g(λ)")
    fig.update_layout(title=title, height=460, margin=dict(l=10, r=10, t=50, b=10))
    return fig
