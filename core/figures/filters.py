"""Plotly figures for the Filters page (no streamlit here): filters side by side on one colour scale,
an animation of the filter as it moves across the pixels, a digit beside one of its attention filters,
and filters painted on a digit's superpixels."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.analysis.filters import Frame
from core.figures.common import INK, epoch_animation_controls

COLORSCALE = "Viridis"  # as core.figures.graphs.filter_figure and the GIF's default colormap
SIGNED_COLORSCALE = "RdBu_r"  # signed filters: red positive, blue negative, white 0
MARK = dict(color="#ff2828", width=2.5)  # the outline of the chosen pixel (red, as in the GIF)


def pixel_box(pixel: tuple[int, int], xref: str = "x", yref: str = "y") -> dict:
    """A red square around pixel (row, col): its own weight stays visible inside."""
    r, c = pixel
    return dict(
        type="rect", x0=c - 0.5, x1=c + 0.5, y0=r - 0.5, y1=r + 0.5, xref=xref, yref=yref, line=MARK, layer="above"
    )


def _window(pixel: tuple[int, int], side: int, window: int | None) -> tuple[list, list] | None:
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


def comparison_figure(
    panels: Sequence[tuple[str, np.ndarray]],
    pixel: tuple[int, int],
    title: str = "",
    window: int | None = None,
    height: int = 380,
    signed: bool = False,
) -> go.Figure:
    """Filters (side, side) of one pixel side by side, titled, on one shared colour scale.

    ``pixel`` (row, col) is outlined in red in every panel; ``window`` zooms every panel to that many
    pixels around it (the whole grid when None). ``signed`` draws on a diverging scale centred at 0, so an
    edge detector's negative lobe shows blue beside its positive red one.
    """
    images = [np.asarray(img, dtype=np.float64) for _, img in panels]
    n = max(1, len(images))
    zmin, zmax, colorscale = color_range(images, signed)
    fig = make_subplots(rows=1, cols=n, subplot_titles=[t for t, _ in panels], horizontal_spacing=0.05)
    for i, ((name, _), img) in enumerate(zip(panels, images, strict=True)):
        fig.add_trace(
            go.Heatmap(
                z=img,
                zmin=zmin,
                zmax=zmax,
                colorscale=colorscale,
                showscale=i == n - 1,
                colorbar=dict(thickness=12, title=dict(text="Âᵢⱼ", side="right")),
                hovertemplate=f"{name}<br>" + "row %{y}, col %{x}: %{z:.4g}<extra></extra>",
            ),
            row=1,
            col=i + 1,
        )
        side = img.shape[0]
        ranges = _window(pixel, side, window)
        xa, ya = ("x", "y") if i == 0 else (f"x{i + 1}", f"y{i + 1}")
        fig.add_shape(pixel_box(pixel, xa, ya))
        fig.layout["xaxis" + xa[1:]].update(
            showgrid=False, zeroline=False, constrain="domain", range=ranges[0] if ranges else [-0.5, side - 0.5]
        )
        fig.layout["yaxis" + ya[1:]].update(
            showgrid=False,
            zeroline=False,
            scaleanchor=xa,
            constrain="domain",
            range=ranges[1] if ranges else [side - 0.5, -0.5],
        )
    fig.update_annotations(font_size=13)
    fig.update_layout(title=title or None, height=height, margin=dict(l=10, r=10, t=70 if title else 40, b=10))
    return fig


def filter_animation_figure(
    frames: Sequence[Frame], title: str = "", frame_ms: int = 150, height: int = 520, signed: bool = False
) -> go.Figure:
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
        return go.Heatmap(
            z=img,
            zmin=zmin,
            zmax=zmax,
            colorscale=colorscale,
            colorbar=dict(thickness=12),
            hovertemplate="row %{y}, col %{x}: %{z:.4g}<extra></extra>",
        )

    fig = go.Figure(heatmap(stack[0]))
    fig.add_shape(pixel_box(frames[0].pixel))
    fig.frames = [
        go.Frame(data=[heatmap(img)], name=name, traces=[0], layout=dict(shapes=[pixel_box(f.pixel)]))
        for img, f, name in zip(stack, frames, names, strict=True)
    ]
    fig.update_xaxes(range=[-0.5, side - 0.5], showgrid=False, zeroline=False, constrain="domain")
    fig.update_yaxes(range=[side - 0.5, -0.5], showgrid=False, zeroline=False, scaleanchor="x", constrain="domain")
    # buttons under the plot, the slider under the buttons: fits a narrow column too
    fig.update_layout(
        title=title or None,
        height=height,
        margin=dict(l=10, r=10, t=50 if title else 20, b=120),
        **epoch_animation_controls(names, frame_ms=frame_ms, y=-0.06, prefix="pixel (row, col) ", active=0),
    )
    return fig


def digit_filter_figure(
    image: np.ndarray,
    filt: np.ndarray,
    pixel: tuple[int, int],
    title: str = "",
    filter_title: str = "",
    window: int | None = None,
    height: int = 460,
) -> go.Figure:
    """A digit (H, W) beside a filter (side, side) computed from it (an attention layer's): the chosen
    ``pixel`` (row, col on the filter's grid) outlined in both, as the block of input pixels it covers
    on the digit (a 14 x 14 layer's pixel is 2 x 2 input pixels). ``window`` zooms the filter only."""
    img = np.asarray(image, dtype=np.float64)
    z = np.asarray(filt, dtype=np.float64)
    side = z.shape[0]
    f = img.shape[0] / side  # input pixels per filter pixel along a side
    r, c = pixel
    fig = make_subplots(
        rows=1, cols=2, subplot_titles=["the digit", filter_title or "the filter"], horizontal_spacing=0.06
    )
    fig.add_trace(
        go.Heatmap(
            z=img, colorscale=INK, showscale=False, hovertemplate="row %{y}, col %{x}: %{z:.2f}<extra>digit</extra>"
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Heatmap(
            z=z,
            colorscale=COLORSCALE,
            zmin=float(z.min()),
            zmax=float(z.max()),
            colorbar=dict(thickness=12, title=dict(text="αᵢⱼ", side="right")),
            hovertemplate="row %{y}, col %{x}: %{z:.4g}<extra></extra>",
        ),
        row=1,
        col=2,
    )
    fig.add_shape(
        dict(
            type="rect",
            x0=c * f - 0.5,
            x1=(c + 1) * f - 0.5,
            y0=r * f - 0.5,
            y1=(r + 1) * f - 0.5,
            xref="x",
            yref="y",
            line=MARK,
            layer="above",
        )
    )
    fig.add_shape(pixel_box(pixel, "x2", "y2"))
    ranges = _window(pixel, side, window)
    fig.update_layout(
        xaxis=dict(range=[-0.5, img.shape[1] - 0.5], showgrid=False, zeroline=False, constrain="domain"),
        yaxis=dict(
            range=[img.shape[0] - 0.5, -0.5], showgrid=False, zeroline=False, scaleanchor="x", constrain="domain"
        ),
        xaxis2=dict(
            range=ranges[0] if ranges else [-0.5, side - 0.5], showgrid=False, zeroline=False, constrain="domain"
        ),
        yaxis2=dict(
            range=ranges[1] if ranges else [side - 0.5, -0.5],
            showgrid=False,
            zeroline=False,
            scaleanchor="x2",
            constrain="domain",
        ),
    )
    fig.update_annotations(font_size=13)
    fig.update_layout(title=title or None, height=height, margin=dict(l=10, r=10, t=70 if title else 40, b=10))
    return fig


def superpixel_filter_figure(
    panels: Sequence[tuple[str, np.ndarray]],
    segments: np.ndarray,
    node: int,
    pos: np.ndarray,
    boundaries: np.ndarray | None = None,
    title: str = "",
    height: int = 460,
) -> go.Figure:
    """Filters of one superpixel node, each (N,) painted on its regions (``segments`` (H, W) labels 0..N-1),
    side by side on one colour scale; superpixel boundaries (``boundaries``: an ``s``-times upsampled mask
    from ``core.figures.graphs.superpixel_boundaries``) drawn thin, the node's centroid ``pos[node]``
    ((x=col, y=row) in pixels) marked with a red x."""
    seg = np.asarray(segments)
    painted = [np.asarray(v, dtype=np.float64)[seg] for _, v in panels]  # each (H, W)
    n = max(1, len(painted))
    zmin, zmax, colorscale = color_range(painted, signed=False)
    h, w = seg.shape
    fig = make_subplots(rows=1, cols=n, subplot_titles=[t for t, _ in panels], horizontal_spacing=0.05)
    x, y = float(pos[node][0]), float(pos[node][1])
    for i, ((name, _), img) in enumerate(zip(panels, painted, strict=True)):
        fig.add_trace(
            go.Heatmap(
                z=img,
                zmin=zmin,
                zmax=zmax,
                colorscale=colorscale,
                showscale=i == n - 1,
                colorbar=dict(thickness=12),
                customdata=seg,
                hovertemplate=f"{name}<br>" + "superpixel %{customdata}: %{z:.4g}<extra></extra>",
            ),
            row=1,
            col=i + 1,
        )
        if boundaries is not None:
            s = boundaries.shape[0] // h
            sub_y = (np.arange(boundaries.shape[0]) + 0.5) / s - 0.5
            sub_x = (np.arange(boundaries.shape[1]) + 0.5) / s - 0.5
            fig.add_trace(
                go.Heatmap(
                    z=boundaries.astype(float),
                    x=sub_x,
                    y=sub_y,
                    showscale=False,
                    hoverinfo="skip",
                    colorscale=[[0, "rgba(0,0,0,0)"], [1, "rgba(255,255,255,0.45)"]],
                ),
                row=1,
                col=i + 1,
            )
        fig.add_trace(
            go.Scatter(
                x=[x],
                y=[y],
                mode="markers",
                showlegend=False,
                hoverinfo="skip",
                marker=dict(symbol="x", size=12, color=MARK["color"]),
            ),
            row=1,
            col=i + 1,
        )
        suffix = "" if i == 0 else str(i + 1)
        fig.layout["xaxis" + suffix].update(range=[-0.5, w - 0.5], showgrid=False, zeroline=False, constrain="domain")
        fig.layout["yaxis" + suffix].update(
            range=[h - 0.5, -0.5], showgrid=False, zeroline=False, scaleanchor="x" + suffix, constrain="domain"
        )
    fig.update_annotations(font_size=13)
    fig.update_layout(title=title or None, height=height, margin=dict(l=10, r=10, t=70 if title else 40, b=10))
    return fig
