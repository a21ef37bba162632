"""Plotly figures for the Filters page (no streamlit here): filters side by side on one colour scale,
and an animation of the filter as it moves across the pixels."""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.analysis.filters import Frame
from core.figures.common import epoch_animation_controls

COLORSCALE = "Viridis"  # as core.figures.graphs.filter_figure and the GIF's default colormap
SIGNED_COLORSCALE = "RdBu_r"  # signed filters: red positive, blue negative, white 0
MARK = dict(color="#ff2828", width=2.5)  # the outline of the chosen pixel (red, as in the GIF)


def pixel_box(pixel: tuple[int, int], xref: str = "x", yref: str = "y") -> dict:
    """A red square around pixel (row, col): its own weight stays visible inside."""
    r, c = pixel
    return dict(type="rect", x0=c - 0.5, x1=c + 0.5, y0=r - 0.5, y1=r + 0.5, xref=xref, yref=yref, line=MARK,
                layer="above")


def _window(pixel: tuple[int, int], side: int, window: Optional[int]) -> Optional[tuple[list, list]]:
    """Axis ranges (x, y) showing ``window`` pixels either side of ``pixel``, or None for the whole grid."""
    if not window or 2 * window + 1 >= side:
        return None
    r, c = pixel
    r0 = min(max(r - window, 0), side - 2 * window - 1)
    c0 = min(max(c - window, 0), side - 2 * window - 1)
    return [c0 - 0.5, c0 + 2 * window + 0.5], [r0 + 2 * window + 0.5, r0 - 0.5]


def color_range(images: Sequence[np.ndarray], signed: bool) -> tuple[float, float, str]:
    """(zmin, zmax, colorscale) shared by ``images``: symmetric about 0 on a diverging scale when ``signed``."""
    lo = min((float(np.min(img)) for img in images), default=0.0)
    hi = max((float(np.max(img)) for img in images), default=1.0)
    if signed:
        m = max(abs(lo), abs(hi), 1e-12)
        return -m, m, SIGNED_COLORSCALE
    return lo, hi, COLORSCALE


def comparison_figure(panels: Sequence[tuple[str, np.ndarray]], pixel: tuple[int, int], title: str = "",
                      window: Optional[int] = None, height: int = 380, signed: bool = False) -> go.Figure:
    """Filters (side, side) of one pixel side by side, titled, on one shared colour scale.

    ``pixel`` (row, col) is outlined in red in every panel; ``window`` zooms every panel to that many
    pixels around it (the whole grid when None). ``signed`` draws on a diverging scale centred at 0, so an
    edge detector's negative lobe shows blue beside its positive red one.
    """
    images = [np.asarray(img, dtype=np.float64) for _, img in panels]
    n = max(1, len(images))
    zmin, zmax, colorscale = color_range(images, signed)
    fig = make_subplots(rows=1, cols=n, subplot_titles=[t for t, _ in panels], horizontal_spacing=0.05)
    for i, ((name, _), img) in enumerate(zip(panels, images)):
        fig.add_trace(go.Heatmap(z=img, zmin=zmin, zmax=zmax, colorscale=colorscale, showscale=i == n - 1,
                                 colorbar=dict(thickness=12, title=dict(text="Âᵢⱼ", side="right")),
                                 hovertemplate=f"{name}<br>" + "row %{y}, col %{x}: %{z:.4g}<extra></extra>"),
                      row=1, col=i + 1)
        side = img.shape[0]
        ranges = _window(pixel, side, window)
        xa, ya = ("x", "y") if i == 0 else (f"x{i + 1}", f"y{i + 1}")
        fig.add_shape(pixel_box(pixel, xa, ya))
        fig.layout["xaxis" + xa[1:]].update(showgrid=False, zeroline=False, constrain="domain",
                                            range=ranges[0] if ranges else [-0.5, side - 0.5])
        fig.layout["yaxis" + ya[1:]].update(showgrid=False, zeroline=False, scaleanchor=xa, constrain="domain",
                                            range=ranges[1] if ranges else [side - 0.5, -0.5])
    fig.update_annotations(font_size=13)
    fig.update_layout(title=title or None, height=height, margin=dict(l=10, r=10, t=70 if title else 40, b=10))
    return fig


def filter_animation_figure(frames: Sequence[Frame], title: str = "", frame_ms: int = 150,
                            height: int = 520, signed: bool = False) -> go.Figure:
    """The filter moving across the pixels: one plotly frame per ``Frame``, Play / Pause and a slider
    named by pixel (row, col), all frames on one colour scale."""
    frames = list(frames)
    if not frames:
        return go.Figure().update_layout(title=title or "no pixels to animate", height=height)
    stack = np.stack([np.asarray(f.image, dtype=np.float64) for f in frames])
    zmin, zmax, colorscale = color_range([stack], signed)
    side = stack.shape[1]
    names = [f"({r}, {c})" for r, c in (f.pixel for f in frames)]

    def heatmap(img: np.ndarray) -> go.Heatmap:
        return go.Heatmap(z=img, zmin=zmin, zmax=zmax, colorscale=colorscale, colorbar=dict(thickness=12),
                          hovertemplate="row %{y}, col %{x}: %{z:.4g}<extra></extra>")

    fig = go.Figure(heatmap(stack[0]))
    fig.add_shape(pixel_box(frames[0].pixel))
    fig.frames = [go.Frame(data=[heatmap(img)], name=name, traces=[0], layout=dict(shapes=[pixel_box(f.pixel)]))
                  for img, f, name in zip(stack, frames, names)]
    fig.update_xaxes(range=[-0.5, side - 0.5], showgrid=False, zeroline=False, constrain="domain")
    fig.update_yaxes(range=[side - 0.5, -0.5], showgrid=False, zeroline=False, scaleanchor="x", constrain="domain")
    # buttons under the plot, the slider under the buttons: fits a narrow column too
    fig.update_layout(title=title or None, height=height, margin=dict(l=10, r=10, t=50 if title else 20, b=120),
                      **epoch_animation_controls(names, frame_ms=frame_ms, y=-0.06, prefix="pixel (row, col) ",
                                                 active=0))
    return fig
