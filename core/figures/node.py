"""Plotly figures for the One node page (no streamlit here): a layer's map as clickable grid cells with one node
and its neighbours marked (their edge weights on light badges, readable on any cell), the node's row of Â, the
term each Chebyshev order adds, and a steerable field's channels before and after a quarter turn. Nodes are named
by their place on the map, (row, column), never by a node number."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.figures.filters import MARK, SIGNED_COLORSCALE

MAP_COLORSCALE = "Greys"  # feature maps: white 0, dark high (as the digits' ink)
NEIGHBOUR = "#e15759"  # neighbours' outlines and the edge-weight badges' borders
BADGE = dict(bgcolor="rgba(255, 255, 255, 0.92)", bordercolor=NEIGHBOUR, borderwidth=1, borderpad=2)
BADGE_TEXT = "#111111"  # dark text on the light badge: readable on black, grey and white cells alike
CELL_PX = 560  # the map's height in pixels; a cell is CELL_PX / side


def node_map_figure(
    values: np.ndarray,
    node: int,
    neighbours: Sequence[int] = (),
    weights: Sequence[float] = (),
    title: str = "",
    height: int = CELL_PX,
    label_weights: bool = True,
    window: int | None = None,
    clickable: bool = True,
) -> go.Figure:
    """A (side, side) map with ``node`` outlined in red and ``neighbours`` in the neighbour colour, their edge
    weights printed on them (when the view is at most 15 cells wide) as dark text on a light, red-bordered badge
    (layout annotations), so a weight reads the same on a black, a grey or a white cell. Trace 1 carries the
    neighbours' hover (row, column, edge weight) and the labels' text.

    ``clickable``: the cells are one square marker each in trace 0, its ``customdata`` the node id, x the column and
    y the row (what st.plotly_chart's point selection returns); else a heatmap. ``window``: show only that many
    cells either side of the node (the whole grid when None)."""
    values = np.asarray(values, dtype=np.float64)
    side = values.shape[0]
    shown = side if not window or 2 * window + 1 >= side else 2 * window + 1
    hover = "row %{y}, column %{x}<br>value %{z:.4g}<extra></extra>"
    if clickable:
        rows, cols = np.divmod(np.arange(side * side), side)
        fig = go.Figure(
            go.Scatter(
                x=cols,
                y=rows,
                mode="markers",
                customdata=np.arange(side * side),
                marker=dict(
                    symbol="square",
                    size=max(4.0, 0.82 * (height - 60) / shown),
                    color=values.reshape(-1),
                    colorscale=MAP_COLORSCALE,
                    showscale=True,
                    colorbar=dict(thickness=12),
                    line=dict(width=0),
                ),
                hovertemplate=hover.replace("%{z", "%{marker.color"),
                name="nodes",
                showlegend=False,
            )
        )
    else:  # the colour bar above the map: the width it frees makes each labelled cell wider (a phone's 390 px)
        bar = dict(thickness=10, orientation="h", x=0.5, xanchor="center", y=1.0, yanchor="bottom", len=0.9)
        fig = go.Figure(
            go.Heatmap(
                z=values,
                colorscale=MAP_COLORSCALE,
                colorbar=bar,
                customdata=np.arange(side * side).reshape(side, side),
                hovertemplate=hover,
            )
        )
    nbrs = np.asarray(neighbours, dtype=np.int64)
    if len(nbrs):
        w = np.asarray(weights, dtype=np.float64).reshape(-1) if len(weights) else np.full(len(nbrs), np.nan)
        for j in nbrs:
            r, c = divmod(int(j), side)
            fig.add_shape(
                type="rect",
                x0=c - 0.45,
                x1=c + 0.45,
                y0=r - 0.45,
                y1=r + 0.45,
                line=dict(color=NEIGHBOUR, width=1.5),
                layer="above",
            )
        label = label_weights and shown <= 15
        text = [weight_label(v) for v in w] if label else None
        fig.add_trace(
            go.Scatter(
                x=nbrs % side,
                y=nbrs // side,
                mode="markers",
                text=text,
                marker=dict(size=1, opacity=0),
                customdata=w,
                hovertemplate="neighbour at row %{y}, column %{x}<br>edge weight %{customdata:.4g}<extra></extra>",
                name="neighbours",
                showlegend=False,
            )
        )
        for j, t in zip(
            nbrs, text or (), strict=False
        ):  # along the cell's lower edge: the cell's own shade shows above it
            fig.add_annotation(
                x=int(j) % side,
                y=int(j) // side + 0.46,
                yanchor="bottom",
                text=t,
                showarrow=False,
                font=dict(color=BADGE_TEXT, size=12 if shown <= 9 else 10),
                **BADGE,
            )
    r, c = divmod(int(node), side)
    fig.add_shape(type="rect", x0=c - 0.5, x1=c + 0.5, y0=r - 0.5, y1=r + 0.5, line=MARK, layer="above")
    r0, c0 = (min(max(v - (shown - 1) // 2, 0), side - shown) for v in (r, c))
    fig.update_xaxes(
        range=[c0 - 0.5, c0 + shown - 0.5], showgrid=False, zeroline=False, constrain="domain", title="column"
    )
    fig.update_yaxes(
        range=[r0 + shown - 0.5, r0 - 0.5],
        showgrid=False,
        zeroline=False,
        scaleanchor="x",
        constrain="domain",
        title="row",
    )
    top = (50 if title else 10) + (0 if clickable else 40)  # room for the colour bar above a heatmap
    fig.update_layout(
        title=title or None,
        height=height,
        margin=dict(l=10, r=10, t=top, b=10),
        plot_bgcolor="white",
        **(dict(clickmode="event+select", dragmode=False) if clickable else {}),
    )
    return fig


def weight_label(v: float) -> str:
    """An edge weight as its badge shows it: three significant digits ("-0.125", "0.0625" -> "0.0625")."""
    return f"{v:.3g}"


def adjacency_row_figure(
    row: np.ndarray, node: int, side: int, title: str = "", height: int = 260, name: str = "Â"
) -> go.Figure:
    """The node's row of Â: one bar per non-zero entry, each named by its neighbour's place on the map,
    "(row, column)", in the order of the rows (side by side however far apart), the node's own entry (its self-loop)
    in red."""
    row = np.asarray(row, dtype=np.float64)
    nz = np.flatnonzero(row)
    colors = [MARK["color"] if j == node else NEIGHBOUR for j in nz]
    fig = go.Figure(
        go.Bar(
            x=[f"({j // side}, {j % side})" for j in nz],
            y=row[nz],
            marker_color=colors,
            hovertemplate="neighbour (row, column) %{x}<br>" + name + " entry %{y:.4g}<extra></extra>",
        )
    )
    fig.add_hline(y=0, line=dict(color="#888", width=1))
    fig.update_xaxes(type="category", title="neighbour (row, column)")
    fig.update_yaxes(title=f"{name} entry")
    fig.update_layout(
        title=title or None, height=height, margin=dict(l=10, r=10, t=40 if title else 10, b=10), showlegend=False
    )
    return fig


def cheb_terms_figure(parts: np.ndarray, bias: float, title: str = "", height: int = 300) -> go.Figure:
    """A waterfall: the term Θ_k (T_k X)_i each Chebyshev order adds to one output channel, then the bias, summing
    to the pre-activation."""
    parts = np.asarray(parts, dtype=np.float64)
    names = [f"k={k}" for k in range(len(parts))] + ["bias", "pre-activation"]
    values = [*parts, float(bias)]
    fig = go.Figure(
        go.Waterfall(
            x=names,
            y=[*values, 0.0],
            measure=["relative"] * len(values) + ["total"],
            text=[f"{v:.3g}" for v in [*values, sum(values)]],
            texttemplate="%{text}",
            textposition="outside",
            increasing=dict(marker=dict(color="#59a14f")),
            decreasing=dict(marker=dict(color=NEIGHBOUR)),
            totals=dict(marker=dict(color="#4e79a7")),
        )
    )
    fig.update_layout(
        title=title or None, height=height, margin=dict(l=10, r=10, t=40 if title else 10, b=10), showlegend=False
    )
    return fig


def field_turn_figure(
    channels: np.ndarray,
    turned: np.ndarray,
    permutation: Sequence[int] | None = None,
    title: str = "",
    height: int = 320,
) -> go.Figure:
    """One field's channels at the pixel (bars, left) and at the turned pixel for the turned digit (right); with a
    permutation, each bar is labelled with the channel it moves to / came from."""
    channels, turned = np.asarray(channels, dtype=np.float64), np.asarray(turned, dtype=np.float64)
    n = len(channels)
    fig = make_subplots(
        rows=1,
        cols=2,
        shared_yaxes=True,
        horizontal_spacing=0.06,
        subplot_titles=["digit: channels at the pixel", "digit turned 90°: at the turned pixel"],
    )
    moves = [f"→ {permutation[c]}" for c in range(n)] if permutation is not None else None
    came = None
    if permutation is not None:
        inverse = {int(p): c for c, p in enumerate(permutation)}
        came = [f"from {inverse[c]}" for c in range(n)]
    fig.add_trace(
        go.Bar(
            x=list(range(n)),
            y=channels,
            text=moves,
            marker_color="#4e79a7",
            hovertemplate="channel %{x}: %{y:.4g}<extra></extra>",
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Bar(
            x=list(range(n)),
            y=turned,
            text=came,
            marker_color="#f28e2b",
            hovertemplate="channel %{x}: %{y:.4g}<extra></extra>",
        ),
        row=1,
        col=2,
    )
    fig.update_xaxes(title="group channel", dtick=1)
    fig.update_layout(
        title=title or None, height=height, showlegend=False, margin=dict(l=10, r=10, t=70 if title else 40, b=10)
    )
    return fig


def field_maps_figure(maps: np.ndarray, pixel: tuple[int, int], title: str = "", height: int = 260) -> go.Figure:
    """A field's |G| channels over the grid, side by side on one signed scale, the pixel outlined in each."""
    maps = np.asarray(maps, dtype=np.float64)
    n = len(maps)
    m = max(float(np.abs(maps).max()), 1e-12)
    fig = make_subplots(rows=1, cols=n, subplot_titles=[f"ch {c}" for c in range(n)], horizontal_spacing=0.01)
    r, c = pixel
    for i, img in enumerate(maps):
        fig.add_trace(
            go.Heatmap(
                z=img,
                zmin=-m,
                zmax=m,
                colorscale=SIGNED_COLORSCALE,
                showscale=i == n - 1,
                colorbar=dict(thickness=10),
                hovertemplate=f"channel {i}<br>" + "row %{y}, column %{x}: %{z:.4g}<extra></extra>",
            ),
            row=1,
            col=i + 1,
        )
        xa, ya = ("x", "y") if i == 0 else (f"x{i + 1}", f"y{i + 1}")
        fig.add_shape(type="rect", x0=c - 0.5, x1=c + 0.5, y0=r - 0.5, y1=r + 0.5, xref=xa, yref=ya, line=MARK)
        fig.layout["xaxis" + xa[1:]].update(showticklabels=False, showgrid=False, zeroline=False, constrain="domain")
        fig.layout["yaxis" + ya[1:]].update(
            showticklabels=False,
            showgrid=False,
            zeroline=False,
            scaleanchor=xa,
            autorange="reversed",
            constrain="domain",
        )
    fig.update_annotations(font_size=11)
    fig.update_layout(title=title or None, height=height, margin=dict(l=5, r=5, t=60 if title else 30, b=5))
    return fig
