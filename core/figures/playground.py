"""Plotly figures for the Playground (no streamlit here): each run's class probabilities, its answer against the
angle, and a layer's feature maps.

The figures carry no titles of their own: the page writes them above the chart, where a phone's narrow screen
wraps them, and the top margin (``TOOLBAR``) is left to Plotly's toolbar, which would otherwise cover the top of
the plot (and a title: on a 390-pixel screen the every-angle plot's title ran under it).

Numbers written on the charts sit on one row per run above the plot, in the run's colour (``LABEL_ROW`` apart): on a
390-pixel phone two runs' winning bars side by side had written "88%" over "94%", and three runs' classes written at
every one of 36 angles had piled up into "9999"."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

RUN_COLORS = ("#1f77b4", "#d62728", "#2ca02c")  # one per compared run (at most three)
TOOLBAR = 36  # pixels of top margin for Plotly's toolbar (its buttons are about 30 pixels high)


def digit_picture(image: np.ndarray, scale: int = 8) -> np.ndarray:
    """A 28 x 28 digit in [0, 1] as the models see it: an (28 scale, 28 scale) uint8 picture, dark ink on white
    as the app draws digits, upscaled with nearest neighbours (a picture redraws faster than a chart)."""
    img = np.clip(np.asarray(image, dtype=np.float64), 0.0, 1.0)
    return (255 * (1.0 - img)).round().astype(np.uint8).repeat(scale, axis=0).repeat(scale, axis=1)


LABEL_ROW = 0.15  # probability units between two runs' rows of labels above the plot (one row per run: never on top)
LABEL_FONT = 12  # the labels' font size, in pixels


def _label_rows(n: int) -> tuple[list[float], list[float]]:
    """(the y of each run's label row above 1.0, the y axis range that holds them)."""
    rows = [1.0 + LABEL_ROW * (i + 0.6) for i in range(n)]
    return rows, [0.0, 1.0 + LABEL_ROW * n + 0.04]


def bar_slot(i: int, n: int) -> tuple[float, float]:
    """(offset from the class, width) of run ``i``'s bar among ``n`` runs' bars of one class (80% of the slot)."""
    width = 0.8 / max(n, 1)
    return -0.4 + i * width, width


def probability_figure(runs: Sequence[tuple[str, np.ndarray]], height: int = 320) -> go.Figure:
    """Grouped bars: each run's (10,) class probabilities. Each run's winning probability is written above its bar,
    in that run's colour, on a row of its own above the plot (run 1 lowest): two runs that pick the same class, or
    neighbouring classes, never write on top of each other, however narrow the screen. A dotted line joins the
    label to its bar."""
    fig = go.Figure()
    n = len(runs)
    rows, y_range = _label_rows(n)
    for i, (label, probs) in enumerate(runs):
        probs = np.asarray(probs, dtype=float)
        color = RUN_COLORS[i % len(RUN_COLORS)]
        offset, width = bar_slot(i, n)
        fig.add_trace(
            go.Bar(
                x=list(range(10)),
                y=probs,
                name=label,
                marker_color=color,
                offset=offset,
                width=width,
                hovertemplate=f"{label}<br>class %{{x}}: %{{y:.1%}}<extra></extra>",
            )
        )
        k = int(probs.argmax())
        x = k + offset + width / 2
        fig.add_trace(
            go.Scatter(
                x=[x, x, None, x],
                y=[float(probs[k]) + 0.01, rows[i] - 0.06, None, rows[i]],
                mode="lines+text",
                text=["", "", "", f"{probs[k]:.0%}"],
                textposition="middle center",
                connectgaps=False,  # the dotted line stops under its label
                textfont=dict(color=color, size=LABEL_FONT),
                line=dict(color=color, width=1, dash="dot"),
                cliponaxis=False,
                showlegend=False,
                hoverinfo="skip",
            )
        )
    fig.update_layout(
        barmode="overlay",
        height=height,
        margin=dict(l=10, r=10, t=TOOLBAR, b=10),
        xaxis=dict(title="class", tickmode="linear", dtick=1),
        yaxis=dict(title="probability", range=y_range, tickvals=[0, 0.5, 1]),
        legend=dict(orientation="h", y=-0.25),
    )
    return fig


ANGLE_TITLE = (
    "The answer as the digit turns: each run's class (the digits above the plot) and its probability "
    "(the lines); ◆ exact (90° steps)"
)
MIN_SPAN = 2  # sweep angles a run must keep one answer for before that answer is written above the plot


def answer_spans(angles: Sequence[float], predicted: Sequence[int]) -> list[tuple[float, float, int, int]]:
    """The runs of one answer along the sweep: ``(first angle, last angle, class, angles in it)``, in order."""
    spans: list[list] = []
    for a, c in zip(angles, predicted, strict=True):
        if spans and spans[-1][2] == int(c):
            spans[-1][1] = float(a)
            spans[-1][3] += 1
        else:
            spans.append([float(a), float(a), int(c), 1])
    return [tuple(s) for s in spans]


def angle_figure(sweeps: Sequence[tuple[str, dict[str, Any]]], height: int = 380) -> go.Figure:
    """Each run's answer against the angle: the probability of its predicted class as a line (◆ at the multiples of
    90°, exact on the pixel grid), and the class itself written on that run's own row above the plot, once per
    stretch of angles it keeps (``answer_spans`` of ``MIN_SPAN`` angles or more, at its middle; shorter ones show on
    hover): with three runs the digits never pile up. Untitled: the page writes ``ANGLE_TITLE`` above it."""
    fig = go.Figure()
    for a in (0, 90, 180, 270):
        fig.add_vline(x=a, line=dict(color="#bbbbbb", dash="dot", width=1))
    rows, y_range = _label_rows(len(sweeps))
    for i, (label, sw) in enumerate(sweeps):
        color = RUN_COLORS[i % len(RUN_COLORS)]
        angles, pred, conf, exact = sw["angles"], sw["predicted"], sw["confidence"], sw["exact"]
        fig.add_trace(
            go.Scatter(
                x=angles,
                y=conf,
                mode="lines+markers",
                name=label,
                line=dict(color=color),
                marker=dict(
                    symbol=["diamond" if e else "circle" for e in exact],
                    size=[11 if e else 6 for e in exact],
                    color=color,
                ),
                customdata=np.stack([pred, exact], axis=1),
                hovertemplate=f"{label}<br>%{{x}}°: class %{{customdata[0]}} at %{{y:.1%}}<extra></extra>",
            )
        )
        spans = [s for s in answer_spans(angles, pred) if s[3] >= MIN_SPAN or len(angles) < MIN_SPAN]
        fig.add_trace(
            go.Scatter(
                x=[(s[0] + s[1]) / 2 for s in spans],
                y=[rows[i]] * len(spans),
                mode="text",
                text=[str(s[2]) for s in spans],
                textposition="middle center",
                textfont=dict(color=color, size=LABEL_FONT + 1),
                cliponaxis=False,
                showlegend=False,
                customdata=[[s[0], s[1]] for s in spans],
                hovertemplate=(
                    f"{label}<br>%{{text}} from %{{customdata[0]:.0f}}° to %{{customdata[1]:.0f}}°<extra></extra>"
                ),
            )
        )
    fig.update_layout(
        height=height,
        margin=dict(l=10, r=10, t=TOOLBAR, b=10),
        xaxis=dict(title="angle (degrees, counter-clockwise)", range=[-5, 365], dtick=45),
        yaxis=dict(title="probability of the answer", range=y_range, tickvals=[0, 0.25, 0.5, 0.75, 1]),
        legend=dict(orientation="h", y=-0.3),
    )
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
        out[r * (th + gap) : r * (th + gap) + th, k * (tw + gap) : k * (tw + gap) + tw] = tile
    return out
