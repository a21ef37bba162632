"""Plotly figures for the Playground (no streamlit here): each run's class probabilities, its answer against the
angle, and a layer's feature maps.

The figures carry no titles of their own: the page writes them above the chart, where a phone's narrow screen
wraps them, and the top margin (``TOOLBAR``) is left to Plotly's toolbar, which would otherwise cover the top of
the plot (and a title: on a 390-pixel screen the every-angle plot's title ran under it)."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import plotly.graph_objects as go


RUN_COLORS = ("#1f77b4", "#d62728", "#2ca02c")  # one per compared run (at most three)
TOOLBAR = 36  # pixels of top margin for Plotly's toolbar (its buttons are about 30 pixels high)
LABEL_SIZE = 13  # font size of the numbers written on a chart (Plotly shrinks bar labels to fit unless told not to)


def digit_picture(image: np.ndarray, scale: int = 8) -> np.ndarray:
    """A 28 x 28 digit in [0, 1] as the models see it: an (28 scale, 28 scale) uint8 picture, dark ink on white
    as the app draws digits, upscaled with nearest neighbours (a picture redraws faster than a chart)."""
    img = np.clip(np.asarray(image, dtype=np.float64), 0.0, 1.0)
    return (255 * (1.0 - img)).round().astype(np.uint8).repeat(scale, axis=0).repeat(scale, axis=1)


def probability_figure(runs: Sequence[tuple[str, np.ndarray]], height: int = 300) -> go.Figure:
    """Grouped bars: each run's (10,) class probabilities; the winning class of each run is labelled."""
    fig = go.Figure()
    for i, (label, probs) in enumerate(runs):
        probs = np.asarray(probs, dtype=float)
        text = [f"{p:.0%}" if k == int(probs.argmax()) else "" for k, p in enumerate(probs)]
        fig.add_trace(go.Bar(x=list(range(10)), y=probs, name=label, marker_color=RUN_COLORS[i % len(RUN_COLORS)],
                             text=text, textposition="outside", textfont=dict(size=LABEL_SIZE),
                             constraintext="none", cliponaxis=False,  # full size, even above a narrow bar
                             hovertemplate=f"{label}<br>class %{{x}}: %{{y:.1%}}<extra></extra>"))
    fig.update_layout(barmode="group", height=height, margin=dict(l=10, r=10, t=TOOLBAR, b=10),
                      xaxis=dict(title="class", tickmode="linear", dtick=1), yaxis=dict(title="probability",
                                                                                        range=[0, 1.12]),
                      legend=dict(orientation="h", y=-0.25))
    return fig


ANGLE_TITLE = "Predicted class (labels) and its probability as the digit turns; ◆ exact (90° steps)"


def angle_figure(sweeps: Sequence[tuple[str, dict[str, Any]]], height: int = 360) -> go.Figure:
    """Each run's answer against the angle: the probability of its predicted class as a line, the class as
    the marker's label; the multiples of 90 degrees (exact on the pixel grid) are marked. Untitled: the page
    writes ``ANGLE_TITLE`` above it."""
    fig = go.Figure()
    for a in (0, 90, 180, 270):
        fig.add_vline(x=a, line=dict(color="#bbbbbb", dash="dot", width=1))
    for i, (label, sw) in enumerate(sweeps):
        color = RUN_COLORS[i % len(RUN_COLORS)]
        angles, pred, conf, exact = sw["angles"], sw["predicted"], sw["confidence"], sw["exact"]
        fig.add_trace(go.Scatter(
            x=angles, y=conf, mode="lines+markers+text", name=label, line=dict(color=color),
            text=[str(int(p)) for p in pred], textposition="top center", textfont=dict(color=color, size=11),
            marker=dict(symbol=["diamond" if e else "circle" for e in exact], size=[11 if e else 6 for e in exact],
                        color=color),
            customdata=np.stack([pred, exact], axis=1),
            hovertemplate=f"{label}<br>%{{x}}°: class %{{customdata[0]}} at %{{y:.1%}}<extra></extra>"))
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=TOOLBAR, b=10),
                      xaxis=dict(title="angle (degrees, counter-clockwise)", range=[-5, 365], dtick=45),
                      yaxis=dict(title="probability of the predicted class", range=[0, 1.12]),
                      legend=dict(orientation="h", y=-0.3))
    return fig


def maps_tiles(maps: np.ndarray, columns: int = 8, scale: int = 4, gap: int = 2) -> np.ndarray:
    """(C, h, w) feature maps as one RGB image (rows of ``columns`` tiles, each map on its own viridis scale,
    upscaled ``scale`` times, ``gap`` white pixels apart): a picture, not a chart, so a page redraws it in
    milliseconds (16 plotly heatmaps took about 400 ms to build)."""
    import matplotlib

    maps = np.asarray(maps, dtype=np.float64)
    n, h, w = maps.shape
    cols = max(1, min(columns, n))
    rows = (n + cols - 1) // cols
    lo = maps.reshape(n, -1).min(1)[:, None, None]
    hi = maps.reshape(n, -1).max(1)[:, None, None]
    norm = (maps - lo) / np.where(hi > lo, hi - lo, 1.0)  # (C, h, w) in [0, 1]
    rgb = (matplotlib.colormaps["viridis"](norm)[..., :3] * 255).astype(np.uint8)  # (C, h, w, 3)
    th, tw = h * scale, w * scale
    out = np.full((rows * (th + gap) - gap, cols * (tw + gap) - gap, 3), 255, np.uint8)
    for c in range(n):
        r, k = divmod(c, cols)
        tile = rgb[c].repeat(scale, axis=0).repeat(scale, axis=1)
        out[r * (th + gap):r * (th + gap) + th, k * (tw + gap):k * (tw + gap) + tw] = tile
    return out
