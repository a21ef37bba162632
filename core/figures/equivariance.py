"""Plotly figures for the Equivariance and Groups pages (no streamlit here).

Equivariance: accuracy against rotation angle for several runs, per-layer equivariance error as a
heatmap (layers x group elements), one digit's feature maps side by side (``L(g x)``, ``g . L(x)`` and
their difference), and the logit-invariance rows for a table.
Groups: matrices (irreps, the regular representation) as annotated heatmaps, the permutation an element
performs drawn as arrows between the group's elements, digits and regular feature fields before / after.

The Equivariance page's figures leave their top ``TOOLBAR`` pixels to Plotly's toolbar, so that it covers no title,
tick label or subplot title (on a phone's narrow screen a title runs under it); the page writes their titles above
them (``title=""``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.analysis.equivariance import exact_on_grid, parse_element
from core.figures.common import INK

DIVERGING = "RdBu_r"  # negative blue, zero white, positive red
RUN_COLORS = ("#4e79a7", "#e15759", "#59a14f", "#f28e2b", "#b07aa1", "#76b7b2")
ERROR_FLOOR = 1e-8  # errors below this are coloured as this (float round-off)
TOOLBAR = 36  # pixels of top margin for Plotly's toolbar (its buttons are about 30 pixels high)
LAYER_ERROR_TITLE = "Per-layer equivariance error  ‖L(g x) − g·L(x)‖ / ‖g·L(x)‖"


def _angle_key(a: str | float) -> float:
    return float(a)


def _fmt_err(e: float) -> str:
    if e is None or not np.isfinite(e):
        return "n/a"
    if e == 0:
        return "0"
    return f"{e:.1e}" if e < 1e-2 else f"{e:.3f}"


# ----------------------------------------------------------------------------------------------
# equivariance page


def _title(text: str) -> dict | None:
    """A figure title below the toolbar's strip, from the left edge (None for no title)."""
    return (
        dict(text=text, x=0, xanchor="left", xref="paper", y=1, yanchor="bottom", yref="paper", pad=dict(b=8))
        if text
        else None
    )


def accuracy_by_angle_figure(
    curves: Mapping[str, Mapping[str | float, float]], title: str = "Test accuracy of rotated digits"
) -> go.Figure:
    """One line per run: ``{label: {angle: accuracy}}`` (angle keys may be strings, as in the CLI's JSON).

    Multiples of 90 degrees (exact on the pixel grid) get large diamond markers and a dotted guide line;
    other angles need interpolation.
    """
    fig = go.Figure()
    for a in (0, 90, 180, 270):
        fig.add_vline(x=a, line_dash="dot", line_color="#9ca3af", line_width=1)
    for i, (name, acc) in enumerate(curves.items()):
        pts = sorted((_angle_key(a), float(v)) for a, v in acc.items() if v is not None)
        if not pts:
            continue
        xs, ys = zip(*pts, strict=True)
        exact = [exact_on_grid(x) for x in xs]
        color = RUN_COLORS[i % len(RUN_COLORS)]
        fig.add_trace(
            go.Scatter(
                x=list(xs),
                y=list(ys),
                mode="lines+markers",
                name=name,
                line=dict(color=color, width=2),
                marker=dict(
                    size=[12 if e else 6 for e in exact],
                    symbol=["diamond" if e else "circle" for e in exact],
                    color=color,
                    line=dict(width=1, color="#ffffff"),
                ),
                customdata=[["exact (grid permutation)" if e else "interpolated"] for e in exact],
                hovertemplate="%{x:g}°: %{y:.1%} · %{customdata[0]}<extra>%{fullData.name}</extra>",
            )
        )
    fig.update_xaxes(
        title_text="rotation angle (degrees, counter-clockwise)", range=[-8, 353], dtick=45, ticksuffix="°"
    )
    fig.update_yaxes(title_text="test accuracy", range=[0, 1.03], tickformat=".0%")
    fig.update_layout(
        title=_title(title),
        height=430,
        margin=dict(l=10, r=10, t=TOOLBAR + (34 if title else 0), b=10),
        legend=dict(orientation="h", y=-0.22),
        hovermode="closest",
    )
    return fig


def invariance_table(results: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> list[dict[str, Any]]:
    """Rows for a table from ``{run label: logit_invariance_error(...)}``: one row per group element with
    ``element``, ``grid`` ("exact" / "interpolated") and each run's relative logit error (None if absent)."""
    names: list[str] = []
    flags: dict[str, bool] = {}
    for res in results.values():
        for el, r in res.items():
            if el not in flags:
                names.append(el)
                flags[el] = bool(r.get("exact", parse_element(el).exact))
    rows = []
    for el in names:
        row: dict[str, Any] = {"element": el, "grid": "exact" if flags[el] else "interpolated"}
        for label, res in results.items():
            row[label] = (res.get(el) or {}).get("error")
        rows.append(row)
    return rows


def layer_error_figure(errors: Mapping[str, Mapping[str, float]], title: str = LAYER_ERROR_TITLE) -> go.Figure:
    """Heatmap of ``{layer: {element: error}}`` (rows: layers in forward order; columns: elements).

    Colour is log10 of the error (floored at 1e-8); NaN (an element outside the model's group) is blank.
    Column labels say whether the element is exact on the grid.
    """
    layers = list(errors)
    elements: list[str] = []
    for row in errors.values():
        elements += [e for e in row if e not in elements]
    z = np.full((len(layers), len(elements)), np.nan)
    raw = np.full_like(z, np.nan)
    for i, layer in enumerate(layers):
        for j, el in enumerate(elements):
            v = errors[layer].get(el)
            if v is not None and np.isfinite(v):
                raw[i, j] = v
                z[i, j] = math.log10(max(float(v), ERROR_FLOOR))
    text = [
        [_fmt_err(raw[i, j]) if np.isfinite(raw[i, j]) else "" for j in range(len(elements))]
        for i in range(len(layers))
    ]
    ticks = [f"{el}<br>{'exact' if parse_element(el).exact else 'interp.'}" for el in elements]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=list(range(len(elements))),
            y=list(range(len(layers))),
            text=text,
            texttemplate="%{text}",
            textfont=dict(size=10),
            colorscale="Viridis",
            zmin=math.log10(ERROR_FLOOR),
            zmax=0.5,
            customdata=[[[layers[i], elements[j]] for j in range(len(elements))] for i in range(len(layers))],
            hovertemplate="%{customdata[0]}<br>%{customdata[1]}: %{text}<extra></extra>",
            colorbar=dict(title="error", tickvals=[-8, -6, -4, -2, 0], ticktext=["1e-8", "1e-6", "1e-4", "0.01", "1"]),
        )
    )
    fig.update_xaxes(tickvals=list(range(len(elements))), ticktext=ticks, side="top", showgrid=False)
    fig.update_yaxes(tickvals=list(range(len(layers))), ticktext=layers, autorange="reversed", showgrid=False)
    fig.update_xaxes(title=dict(text=title, standoff=6) if title else None)  # above the elements, below the toolbar
    fig.update_layout(
        height=max(260, 90 + 34 * len(layers) + (24 if title else 0)),
        margin=dict(l=10, r=10, t=TOOLBAR + 40 + (24 if title else 0), b=10),
    )
    return fig


def _heat(z: np.ndarray, colorscale, zmin: float, zmax: float) -> go.Heatmap:
    return go.Heatmap(
        z=np.asarray(z, dtype=np.float64),
        colorscale=colorscale,
        zmin=zmin,
        zmax=zmax,
        showscale=False,
        hovertemplate="row %{y}, col %{x}: %{z:.3g}<extra></extra>",
    )


def _square_tiles(fig: go.Figure, n_axes: int) -> None:
    fig.update_xaxes(visible=False, constrain="domain")
    fig.update_yaxes(visible=False, autorange="reversed", constrain="domain")
    for k in range(n_axes):
        fig.layout[f"yaxis{k + 1 if k else ''}"].scaleanchor = f"x{k + 1 if k else ''}"


def equivariance_panels_figure(
    rotated_image: np.ndarray,
    of_rotated: np.ndarray,
    transformed: np.ndarray,
    channels: Sequence[int] | None = None,
    element: str = "g",
    tile_px: int = 150,
) -> go.Figure:
    """One row per channel: the transformed digit ``g x`` (first row), the layer's map of it ``L(g x)``, the
    transformed map of the original ``g . L(x)``, and their difference (same colour scale as the maps, so a
    small difference looks faint). Maps ``(C, h, w)``; ``channels`` picks rows (default: the first 4)."""
    of_rotated, transformed = np.asarray(of_rotated), np.asarray(transformed)
    channels = list(channels) if channels is not None else list(range(min(4, of_rotated.shape[0])))
    rows = max(1, len(channels))
    titles = []
    for r, c in enumerate(channels):
        titles += [
            f"digit {element}·x" if r == 0 else "",
            f"L({element}·x), ch {c}",
            f"{element}·L(x), ch {c}",
            f"difference, ch {c}",
        ]
    fig = make_subplots(
        rows=rows,
        cols=4,
        subplot_titles=titles or None,
        horizontal_spacing=0.02,
        vertical_spacing=min(0.06, 0.4 / rows),
    )
    fig.add_trace(
        go.Heatmap(z=np.asarray(rotated_image), colorscale=INK, zmin=0, zmax=1, showscale=False, hoverinfo="skip"), 1, 1
    )
    for r, c in enumerate(channels):
        a, b = of_rotated[c], transformed[c]
        m = float(max(np.abs(a).max(), np.abs(b).max(), 1e-12))
        fig.add_trace(_heat(a, DIVERGING, -m, m), r + 1, 2)
        fig.add_trace(_heat(b, DIVERGING, -m, m), r + 1, 3)
        fig.add_trace(_heat(a - b, DIVERGING, -m, m), r + 1, 4)
    _square_tiles(fig, rows * 4)
    fig.update_annotations(font_size=11)
    fig.update_layout(height=rows * tile_px + TOOLBAR + 30, margin=dict(l=5, r=5, t=TOOLBAR + 20, b=5))
    return fig


# ----------------------------------------------------------------------------------------------
# groups page


def matrix_figure(
    matrix: np.ndarray,
    title: str = "",
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    annotate: bool | None = None,
    height: int | None = None,
) -> go.Figure:
    """A matrix as a heatmap (blue -1, white 0, red +1), values written in the cells when small enough."""
    m = np.asarray(matrix, dtype=np.float64)
    m = np.where(np.abs(m) < 1e-12, 0.0, m)  # 6e-17 -> 0
    rows, cols = m.shape
    annotate = (rows * cols <= 400) if annotate is None else annotate
    rl = list(row_labels) if row_labels is not None else [str(i) for i in range(rows)]
    cl = list(col_labels) if col_labels is not None else [str(j) for j in range(cols)]
    text = [[f"{v:.3g}" if annotate else "" for v in row] for row in m]
    lim = max(1.0, float(np.abs(m).max()) if m.size else 1.0)
    fig = go.Figure(
        go.Heatmap(
            z=m,
            x=list(range(cols)),
            y=list(range(rows)),
            text=text,
            texttemplate="%{text}",
            colorscale=DIVERGING,
            zmin=-lim,
            zmax=lim,
            showscale=False,
            xgap=1,
            ygap=1,
            customdata=[[[rl[i], cl[j]] for j in range(cols)] for i in range(rows)],
            hovertemplate="row %{customdata[0]}, column %{customdata[1]}: %{z:.4g}<extra></extra>",
        )
    )
    fig.update_xaxes(tickvals=list(range(cols)), ticktext=cl, side="top", showgrid=False, constrain="domain")
    fig.update_yaxes(
        tickvals=list(range(rows)),
        ticktext=rl,
        autorange="reversed",
        scaleanchor="x",
        showgrid=False,
        constrain="domain",
    )
    fig.update_layout(
        title=dict(text=title, y=0.98, yanchor="top") if title else None,
        height=height or int(min(640, max(200, 70 + 32 * rows + (30 if title else 0)))),
        margin=dict(l=10, r=10, t=70 if title else 40, b=10),
    )
    return fig


def irreps_figure(irreps: Sequence[tuple[str, np.ndarray]], element: str = "g") -> go.Figure:
    """Each irrep's matrix at the element, side by side (1x1 and 2x2 tiles, values written in)."""
    n = max(1, len(irreps))
    titles = [f"{name}<br><sup>{len(m)}×{len(m)}</sup>" for name, m in irreps]
    fig = make_subplots(rows=1, cols=n, subplot_titles=titles, horizontal_spacing=0.04)
    for k, (name, mat) in enumerate(irreps):
        m = np.asarray(mat, dtype=np.float64)
        m = np.where(np.abs(m) < 1e-12, 0.0, m)
        fig.add_trace(
            go.Heatmap(
                z=m,
                text=[[f"{v:.3g}" for v in row] for row in m],
                texttemplate="%{text}",
                textfont=dict(size=14),
                colorscale=DIVERGING,
                zmin=-1,
                zmax=1,
                showscale=False,
                xgap=2,
                ygap=2,
                hovertemplate=f"{name}({element})" + "[%{y}, %{x}] = %{z:.4g}<extra></extra>",
            ),
            1,
            k + 1,
        )
    _square_tiles(fig, n)
    fig.update_annotations(font_size=11)
    fig.update_layout(height=230, margin=dict(l=5, r=5, t=70, b=5))
    return fig


def _element_positions(names: Sequence[str]) -> np.ndarray:
    """(|G|, 2) positions: rotations on the outer circle at their angle, mirrored ones on an inner circle."""
    pos = []
    for name in names:
        e = parse_element(name)
        r = 0.62 if e.flip else 1.0
        t = math.radians(e.angle) + math.pi / 2  # identity at the top, counter-clockwise
        pos.append((r * math.cos(t), r * math.sin(t)))
    return np.asarray(pos)


def permutation_figure(perm: Sequence[int], names: Sequence[str], title: str = "") -> go.Figure:
    """The permutation ``h -> g h`` as arrows between the elements (rotations on the outer circle at their
    angle, mirrored elements on the inner one); fixed points get a ring."""
    pos = _element_positions(names)
    fig = go.Figure()
    fixed = [i for i, j in enumerate(perm) if i == j]
    for i, j in enumerate(perm):
        if i == j:
            continue
        (x0, y0), (x1, y1) = pos[i], pos[j]
        fig.add_annotation(
            x=x1,
            y=y1,
            ax=x0,
            ay=y0,
            xref="x",
            yref="y",
            axref="x",
            ayref="y",
            showarrow=True,
            arrowhead=3,
            arrowsize=1.2,
            arrowwidth=1.6,
            arrowcolor="#4f46e5",
            standoff=13,
            startstandoff=13,
        )
    if fixed:
        fig.add_trace(
            go.Scatter(
                x=pos[fixed, 0],
                y=pos[fixed, 1],
                mode="markers",
                hoverinfo="skip",
                marker=dict(size=34, color="rgba(0,0,0,0)", line=dict(width=2, color="#16a34a")),
                name="fixed",
                showlegend=False,
            )
        )
    flips = np.array([parse_element(n).flip for n in names])
    fig.add_trace(
        go.Scatter(
            x=pos[:, 0],
            y=pos[:, 1],
            mode="markers+text",
            text=list(names),
            textposition="middle center",
            textfont=dict(size=10, color="#111827"),
            showlegend=False,
            marker=dict(size=26, color=np.where(flips, "#fde68a", "#c7d2fe"), line=dict(width=1, color="#6b7280")),
            customdata=[names[j] for j in perm],
            hovertemplate="%{text} → %{customdata}<extra></extra>",
        )
    )
    fig.update_xaxes(visible=False, range=[-1.3, 1.3])
    fig.update_yaxes(visible=False, range=[-1.3, 1.3], scaleanchor="x")
    fig.update_layout(
        title=title or None, height=420, margin=dict(l=5, r=5, t=40 if title else 5, b=5), plot_bgcolor="#ffffff"
    )
    return fig


def image_row_figure(images: Sequence[np.ndarray], titles: Sequence[str], tile_px: int = 220) -> go.Figure:
    """Digits side by side (white paper, dark ink, values in [0, 1])."""
    n = max(1, len(images))
    fig = make_subplots(rows=1, cols=n, subplot_titles=list(titles)[:n], horizontal_spacing=0.03)
    for k, img in enumerate(images):
        fig.add_trace(
            go.Heatmap(
                z=np.asarray(img, dtype=np.float64),
                colorscale=INK,
                zmin=0,
                zmax=1,
                showscale=False,
                hovertemplate="row %{y}, col %{x}: %{z:.2f}<extra></extra>",
            ),
            1,
            k + 1,
        )
    _square_tiles(fig, n)
    fig.update_layout(height=tile_px + 40, margin=dict(l=5, r=5, t=30, b=5))
    return fig


def field_figure(
    fields: Mapping[str, np.ndarray],
    channel_names: Sequence[str],
    cols: int | None = None,
    tile_px: int | None = None,
    limit: float | None = None,
) -> go.Figure:
    """Regular feature fields ``{title: (|G|, H, W)}``, one block of tiles per field (``cols`` channels a row,
    e.g. N for DN: rotations above, mirrored below), all on one symmetric colour scale (``limit``: its
    bound, default the largest magnitude shown). Block titles are drawn only for two or more fields."""
    fields = {k: np.asarray(v, dtype=np.float64) for k, v in fields.items()}
    size = len(channel_names)
    cols = max(1, min(cols or size, size))
    tile_px = tile_px or int(min(150, max(56, 1000 / cols)))
    per = math.ceil(size / cols)
    rows = per * max(1, len(fields))
    lim = limit or max([float(np.abs(f).max()) for f in fields.values()] + [1e-12])
    titled = len(fields) > 1
    titles = []
    for name in fields:
        for r in range(per):
            for c in range(cols):
                i = r * cols + c
                head = (f"<b>{name}</b><br>" if (r == 0 and c == 0) else "<br>") if titled else ""
                titles.append(head + channel_names[i] if i < size else "")
    fig = make_subplots(
        rows=rows, cols=cols, subplot_titles=titles, horizontal_spacing=0.01, vertical_spacing=min(0.09, 0.6 / rows)
    )
    for b, f in enumerate(fields.values()):
        for i in range(min(size, f.shape[0])):
            r, c = divmod(i, cols)
            fig.add_trace(_heat(f[i], DIVERGING, -lim, lim), b * per + r + 1, c + 1)
    _square_tiles(fig, rows * cols)
    fig.update_annotations(font_size=10)
    fig.update_layout(height=int(rows * (tile_px + 24) + 20), margin=dict(l=5, r=5, t=30, b=5))
    return fig
