"""Plotly figures for a finished run (no streamlit here): confusion matrix, per-class accuracy, digit
galleries, embeddings coloured by class, the PCA snapshots animated over epochs, and several runs'
test-accuracy curves side by side.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.analysis.embeddings import align_sequence
from core.figures.common import INK, class_color, epoch_animation_controls


def _classes(classes: Sequence[str] | None, n: int) -> list[str]:
    return list(classes) if classes is not None else [str(i) for i in range(n)]


def confusion_figure(
    confusion: np.ndarray,
    classes: Sequence[str] | None = None,
    normalize: bool = False,
    title: str = "Confusion matrix",
) -> go.Figure:
    """Heatmap of (C, C) counts: rows = true class (0 at the top), columns = predicted class.

    ``normalize`` colours (and labels) each row as a share of that class's test items; the hover
    always shows the count and the row share.
    """
    cm = np.asarray(confusion, dtype=np.float64)
    names = _classes(classes, cm.shape[0])
    row_sums = cm.sum(axis=1, keepdims=True)
    share = np.divide(cm, row_sums, out=np.zeros_like(cm), where=row_sums > 0)
    z = share if normalize else cm
    text = [
        [(f"{share[i, j]:.0%}" if normalize else f"{int(cm[i, j])}") if cm[i, j] else "" for j in range(cm.shape[1])]
        for i in range(cm.shape[0])
    ]
    custom = np.dstack([cm, share])
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=names,
            y=names,
            colorscale="Blues",
            text=text,
            texttemplate="%{text}",
            customdata=custom,
            hovertemplate="true %{y} → pred %{x}<br>%{customdata[0]:.0f} images (%{customdata[1]:.1%} of class %{y})"
            "<extra></extra>",
            colorbar=dict(title="share" if normalize else "count", tickformat=".0%" if normalize else None),
        )
    )
    fig.update_xaxes(title_text="predicted", type="category", side="bottom", showgrid=False, constrain="domain")
    fig.update_yaxes(
        title_text="true", type="category", autorange="reversed", scaleanchor="x", showgrid=False, constrain="domain"
    )
    fig.update_layout(title=title, height=470, margin=dict(l=10, r=10, t=50, b=10))
    return fig


def per_class_accuracy_figure(
    per_class: Sequence[float] | np.ndarray,
    classes: Sequence[str] | None = None,
    overall: float | None = None,
    title: str = "Accuracy per class",
) -> go.Figure:
    """Bars of each class's test accuracy (NaN: class absent), with the overall accuracy as a line."""
    acc = np.asarray(per_class, dtype=np.float64)
    names = _classes(classes, len(acc))
    fig = go.Figure(
        go.Bar(
            x=names,
            y=np.nan_to_num(acc, nan=0.0),
            marker_color=[class_color(i) for i in range(len(acc))],
            text=["n/a" if np.isnan(a) else f"{a:.0%}" for a in acc],
            textposition="outside",
            hovertemplate="class %{x}: %{y:.1%}<extra></extra>",
            name="class accuracy",
        )
    )
    if overall is not None and np.isfinite(overall):
        fig.add_hline(
            y=float(overall),
            line_dash="dash",
            line_color="#111827",
            annotation_text=f"overall {overall:.1%}",
            annotation_position="bottom right",
        )
    fig.update_xaxes(title_text="class", type="category")
    fig.update_yaxes(title_text="test accuracy", range=[0, 1.08], tickformat=".0%")
    fig.update_layout(title=title, height=360, margin=dict(l=10, r=10, t=50, b=10), showlegend=False)
    return fig


def digit_gallery_figure(
    images: Sequence[np.ndarray], titles: Sequence[str], cols: int = 8, title: str = "", tile_px: int = 96
) -> go.Figure:
    """A grid of 28x28 digits (one heatmap each) with a small title above each."""
    n = len(images)
    if n == 0:
        fig = go.Figure()
        fig.update_layout(title=title or "no images", height=120, margin=dict(l=10, r=10, t=40, b=10))
        return fig
    cols = max(1, min(int(cols), n))
    rows = math.ceil(n / cols)
    fig = make_subplots(
        rows=rows,
        cols=cols,
        subplot_titles=list(titles)[:n],
        horizontal_spacing=0.02,
        vertical_spacing=min(0.08, 0.5 / max(rows, 1)),
    )
    for k, img in enumerate(images):
        r, c = divmod(k, cols)
        fig.add_trace(
            go.Heatmap(z=np.asarray(img), colorscale=INK, zmin=0, zmax=1, showscale=False, hoverinfo="skip"),
            r + 1,
            c + 1,
        )
    fig.update_xaxes(visible=False, constrain="domain")
    fig.update_yaxes(visible=False, autorange="reversed", constrain="domain")
    for k in range(n):  # square tiles
        r, c = divmod(k, cols)
        fig.update_yaxes(scaleanchor=f"x{k + 1 if k else ''}", row=r + 1, col=c + 1)
    fig.update_annotations(font_size=11)
    fig.update_layout(
        title=title or None,
        height=rows * tile_px + (60 if title else 30),
        margin=dict(l=5, r=5, t=50 if title else 25, b=5),
    )
    return fig


def misclassified_figure(
    images: np.ndarray,
    labels: Sequence[int] | np.ndarray,
    preds: Sequence[int] | np.ndarray,
    indices: Sequence[int] | np.ndarray,
    max_images: int = 24,
    cols: int = 8,
    probabilities: np.ndarray | None = None,
) -> go.Figure:
    """The first ``max_images`` misclassified test digits, titled "true 4 → pred 9" (with confidence)."""
    idx = [int(i) for i in list(indices)[:max_images]]
    titles = []
    for i in idx:
        t = f"true {int(labels[i])} → pred {int(preds[i])}"
        if probabilities is not None:
            t += f" ({float(probabilities[i, int(preds[i])]):.0%})"
        titles.append(t)
    shown = f"{len(idx)} of {len(indices)}" if len(indices) > len(idx) else f"{len(idx)}"
    return digit_gallery_figure(
        [np.asarray(images[i]) for i in idx], titles, cols=cols, title=f"Misclassified test digits ({shown})"
    )


def embedding_figure(
    coords: np.ndarray,
    labels: Sequence[int] | np.ndarray,
    preds: Sequence[int] | np.ndarray | None = None,
    indices: Sequence[int] | np.ndarray | None = None,
    classes: Sequence[str] | None = None,
    title: str = "",
    axis_titles: tuple[str, str] = ("", ""),
) -> go.Figure:
    """2-D embedding, one trace per class (click the legend to hide one); misclassified points are crosses.

    Each point's ``customdata`` is ``[test index, true label, predicted label]`` (shown on hover, and
    returned by a Streamlit selection), so a page can show the selected digits in a gallery.
    """
    xy = np.asarray(coords, dtype=np.float64)
    y = np.asarray(labels, dtype=np.int64)
    p = y if preds is None else np.asarray(preds, dtype=np.int64)
    idx = np.arange(len(y)) if indices is None else np.asarray(indices, dtype=np.int64)
    names = _classes(classes, max(10, int(y.max()) + 1 if len(y) else 10))
    fig = go.Figure()
    for c in range(len(names)):
        mask = np.flatnonzero(y == c)
        if not len(mask):
            continue
        mask = mask[np.argsort(p[mask] != c, kind="stable")]  # correct points first: the legend shows a dot
        wrong = p[mask] != c
        fig.add_trace(
            go.Scattergl(
                x=xy[mask, 0],
                y=xy[mask, 1],
                mode="markers",
                name=names[c],
                marker=dict(
                    color=class_color(c),
                    size=np.where(wrong, 9, 6).tolist(),
                    symbol=np.where(wrong, "x", "circle").tolist(),
                    line=dict(width=0),
                    opacity=0.85,
                ),
                customdata=np.stack([idx[mask], y[mask], p[mask]], axis=1),
                hovertemplate="test image #%{customdata[0]}<br>true %{customdata[1]}, pred %{customdata[2]}"
                "<extra>class %{fullData.name}</extra>",
            )
        )
    fig.update_xaxes(title_text=axis_titles[0], zeroline=False)
    fig.update_yaxes(title_text=axis_titles[1], zeroline=False)
    fig.update_layout(
        title=title or None,
        height=520,
        margin=dict(l=10, r=10, t=50 if title else 20, b=10),
        legend=dict(title="class", itemsizing="constant"),
        dragmode="lasso",
    )
    return fig


def pca_animation_figure(
    snapshots: Sequence[Mapping[str, Any]],
    classes: Sequence[str] | None = None,
    align: bool = True,
    title: str = "Test embedding (PCA) epoch by epoch",
) -> go.Figure:
    """Animated scatter of per-epoch PCA snapshots ``[{"epoch", "xy", "labels"}]`` with a slider and Play.

    With ``align`` each frame is turned/mirrored onto the previous one (orthogonal Procrustes on the
    same test images), so the motion shows the embedding forming, not PCA's arbitrary axis flips.
    Axes are fixed across frames.
    """
    snaps = sorted((s for s in snapshots if s.get("xy")), key=lambda s: int(s["epoch"]))
    fig = go.Figure()
    if not snaps:
        fig.update_layout(title="no PCA snapshots", height=120)
        return fig
    frames_xy = [np.asarray(s["xy"], dtype=np.float64).reshape(-1, 2) for s in snaps]
    if align:
        frames_xy = [f.astype(np.float64) for f in align_sequence(frames_xy)]
    labels = [np.asarray(s["labels"], dtype=np.int64) for s in snaps]
    present = sorted({int(c) for lab in labels for c in np.unique(lab)})
    names = _classes(classes, max(10, (present[-1] + 1) if present else 10))

    def traces(xy: np.ndarray, lab: np.ndarray) -> list[go.Scatter]:
        out = []
        for c in present:
            m = lab == c
            out.append(
                go.Scatter(
                    x=xy[m, 0],
                    y=xy[m, 1],
                    mode="markers",
                    name=names[c],
                    marker=dict(color=class_color(c), size=6, opacity=0.8),
                    hovertemplate=f"class {names[c]}<extra></extra>",
                )
            )
        return out

    everything = np.concatenate(frames_xy)
    lo, hi = everything.min(axis=0), everything.max(axis=0)
    pad = 0.05 * np.maximum(hi - lo, 1e-9)
    epochs = [int(s["epoch"]) for s in snaps]
    for tr in traces(frames_xy[-1], labels[-1]):  # open on the last epoch
        fig.add_trace(tr)
    fig.frames = [
        go.Frame(data=traces(xy, lab), name=str(e), layout=go.Layout(title_text=f"{title} — epoch {e}"))
        for xy, lab, e in zip(frames_xy, labels, epochs, strict=True)
    ]
    names = [str(e) for e in epochs]
    fig.update_layout(
        title=f"{title} — epoch {epochs[-1]}",
        height=600,
        margin=dict(l=10, r=10, t=50, b=20),
        xaxis=dict(range=[lo[0] - pad[0], hi[0] + pad[0]], title="PC 1", zeroline=False),
        yaxis=dict(range=[lo[1] - pad[1], hi[1] + pad[1]], title="PC 2", zeroline=False),
        legend=dict(title="class", itemsizing="constant"),
        **epoch_animation_controls(names, frame_ms=700, transition_ms=300, slider_x=0.16, button_pad_top=70),
    )
    return fig


def accuracy_curves_figure(
    curves: Mapping[str, Sequence[Mapping[str, Any]]], title: str = "Test accuracy per epoch"
) -> go.Figure:
    """One line per run: ``{"Run 3 · ChebNet K=5 on the 8-neighbour grid": epochs}`` with each epoch's test accuracy."""
    fig = go.Figure()
    for name, epochs in curves.items():
        pts = [(e["epoch"], e.get("test_accuracy")) for e in epochs if e.get("test_accuracy") is not None]
        if not pts:
            continue
        xs, ys = zip(*pts, strict=True)
        fig.add_trace(
            go.Scatter(
                x=list(xs),
                y=list(ys),
                mode="lines+markers",
                name=name,
                hovertemplate="epoch %{x}: %{y:.2%}<extra>%{fullData.name}</extra>",
            )
        )
    fig.update_xaxes(title_text="epoch", dtick=1)
    fig.update_yaxes(title_text="test accuracy", tickformat=".0%")
    fig.update_layout(
        title=title, height=420, margin=dict(l=10, r=10, t=50, b=10), legend=dict(orientation="h", y=-0.2)
    )
    return fig
