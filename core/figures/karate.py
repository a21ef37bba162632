"""Plotly figures for the karate club (no streamlit here): the 2-D embedding animated over the epochs,
the graph coloured by prediction, and the training curves."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.analysis.karate import KarateResult, spring_positions
from core.figures.common import class_color, epoch_animation_controls

LABELLED_SYMBOL, UNLABELLED_SYMBOL = "star", "circle"
WRONG_OUTLINE = "#111827"
MAX_FRAMES = 101  # frames shipped to the browser at most (recorded epochs are thinned evenly)


def _segments(xy: np.ndarray, edge_index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x and y of one line segment per undirected edge, separated by NaN (a single trace)."""
    keep = edge_index[0] < edge_index[1]
    a, b = edge_index[0, keep], edge_index[1, keep]
    nan = np.full(len(a), np.nan)
    return (np.stack([xy[a, 0], xy[b, 0], nan], 1).ravel(), np.stack([xy[a, 1], xy[b, 1], nan], 1).ravel())


def _legend_order(idx: np.ndarray, labelled: np.ndarray, wrong: np.ndarray | None = None) -> np.ndarray:
    """Plain points first (unlabelled, right): a legend entry takes its marker from a trace's first point."""
    key = labelled[idx].astype(int) * 2 + (wrong[idx].astype(int) if wrong is not None else 0)
    return idx[np.argsort(key, kind="stable")]


def _frame_indices(n: int, max_frames: int) -> np.ndarray:
    if n <= max_frames:
        return np.arange(n)
    return np.unique(np.round(np.linspace(0, n - 1, max_frames)).astype(int))


def embedding_animation_figure(
    result: KarateResult, max_frames: int = MAX_FRAMES, title: str = "Last hidden layer"
) -> go.Figure:
    """Animated scatter of the 2-D node embedding over the recorded epochs, with Play and a slider.

    Points are coloured by true class; labelled nodes (the only ones the loss sees) are stars, the
    others circles; faint lines are the club's friendships. Axes are fixed over all frames.
    """
    emb = np.asarray(result.embeddings, dtype=np.float64)  # (F, N, 2)
    epochs = np.asarray(result.recorded_epochs)
    keep = _frame_indices(len(epochs), max_frames)
    emb, epochs = emb[keep], epochs[keep]
    labels, labelled = result.labels, result.labelled
    classes = list(range(result.num_classes))
    edge_index = np.asarray(result.edge_index)
    acc_at = {0: None, **{e + 1: a for e, a in enumerate(result.accuracies)}}

    def traces(xy: np.ndarray) -> list[go.Scatter]:
        ex, ey = _segments(xy, edge_index)
        out = [
            go.Scatter(
                x=ex,
                y=ey,
                mode="lines",
                line=dict(width=0.7, color="rgba(107,114,128,0.35)"),
                hoverinfo="skip",
                name="friendship",
                showlegend=True,
            )
        ]
        for c in classes:
            idx = _legend_order(np.flatnonzero(labels == c), labelled)
            out.append(
                go.Scatter(
                    x=xy[idx, 0],
                    y=xy[idx, 1],
                    mode="markers",
                    name=f"class {c}",
                    marker=dict(
                        color=class_color(c),
                        size=[18 if labelled[i] else 10 for i in idx],
                        symbol=[LABELLED_SYMBOL if labelled[i] else UNLABELLED_SYMBOL for i in idx],
                        line=dict(width=1, color="white"),
                    ),
                    customdata=np.stack([idx, np.where(labelled[idx], 1, 0)], 1),
                    hovertemplate="node %{customdata[0]}<extra>class " + str(c) + "</extra>",
                )
            )
        return out

    def caption(e: int) -> str:
        acc = acc_at.get(int(e))
        return f"{title}, epoch {e}" + (f" · accuracy {acc:.0%}" if acc is not None else "")

    fig = go.Figure(traces(emb[-1]))
    # a legend entry explaining the star
    fig.add_trace(
        go.Scatter(
            x=[None],
            y=[None],
            mode="markers",
            name="labelled node (★)",
            marker=dict(symbol=LABELLED_SYMBOL, size=14, color="#9ca3af"),
        )
    )
    names = [str(int(e)) for e in epochs]
    fig.frames = [
        go.Frame(
            data=traces(xy),
            name=name,
            traces=list(range(1 + len(classes))),
            layout=go.Layout(title_text=caption(int(e))),
        )
        for xy, name, e in zip(emb, names, epochs, strict=True)
    ]
    lo, hi = emb.reshape(-1, 2).min(axis=0), emb.reshape(-1, 2).max(axis=0)
    pad = 0.08 * np.maximum(hi - lo, 1e-6)
    axis = "PC" if result.projected else "h"
    fig.update_layout(
        title=caption(int(epochs[-1])),
        height=620,
        margin=dict(l=10, r=10, t=50, b=10),
        xaxis=dict(range=[lo[0] - pad[0], hi[0] + pad[0]], title=f"{axis} 1", zeroline=False),
        yaxis=dict(range=[lo[1] - pad[1], hi[1] + pad[1]], title=f"{axis} 2", zeroline=False),
        legend=dict(itemsizing="constant"),
        **epoch_animation_controls(names, frame_ms=80, y=-0.13),
    )
    return fig


def prediction_graph_figure(
    result: KarateResult, seed: int = 0, pos: np.ndarray | None = None, title: str = "Predicted communities"
) -> go.Figure:
    """The karate graph at seeded spring-layout positions, nodes coloured by predicted class.

    Wrong predictions get a thick dark outline (and a ✗ in the hover); labelled nodes are stars.
    """
    edge_index = np.asarray(result.edge_index)
    xy = spring_positions(edge_index, result.num_nodes, seed) if pos is None else np.asarray(pos)
    ex, ey = _segments(xy, edge_index)
    fig = go.Figure(
        go.Scatter(
            x=ex,
            y=ey,
            mode="lines",
            line=dict(width=0.8, color="rgba(107,114,128,0.5)"),
            hoverinfo="skip",
            name="friendship",
        )
    )
    preds, labels, labelled, wrong = result.predictions, result.labels, result.labelled, result.wrong
    for c in range(result.num_classes):
        idx = _legend_order(np.flatnonzero(preds == c), labelled, wrong)
        if not len(idx):
            continue
        fig.add_trace(
            go.Scatter(
                x=xy[idx, 0],
                y=xy[idx, 1],
                mode="markers+text",
                name=f"predicted {c}",
                text=[str(i) for i in idx],
                textposition="middle center",
                textfont=dict(size=9, color="white"),
                marker=dict(
                    color=class_color(c),
                    size=[26 if labelled[i] else 20 for i in idx],
                    symbol=[LABELLED_SYMBOL if labelled[i] else UNLABELLED_SYMBOL for i in idx],
                    line=dict(
                        width=[3.5 if wrong[i] else 0.8 for i in idx],
                        color=[WRONG_OUTLINE if wrong[i] else "white" for i in idx],
                    ),
                ),
                customdata=np.stack([idx, labels[idx], preds[idx]], 1),
                hovertext=["✗ wrong" if wrong[i] else "✓ right" for i in idx],
                hovertemplate="node %{customdata[0]}: true %{customdata[1]}, predicted %{customdata[2]} "
                "%{hovertext}<extra></extra>",
            )
        )
    fig.add_trace(
        go.Scatter(
            x=[None],
            y=[None],
            mode="markers",
            name="wrong (dark outline)",
            marker=dict(size=14, color="rgba(0,0,0,0)", line=dict(width=3, color=WRONG_OUTLINE)),
        )
    )
    n_wrong = int((wrong & ~labelled).sum())
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, scaleanchor="x")
    fig.update_layout(
        title=f"{title} · {n_wrong} of {int((~labelled).sum())} wrong",
        height=580,
        margin=dict(l=10, r=10, t=50, b=10),
        legend=dict(itemsizing="constant"),
        plot_bgcolor="white",
    )
    return fig


def karate_curves_figure(result: KarateResult) -> go.Figure:
    """Training loss (labelled nodes) and accuracy on the unlabelled nodes, per epoch."""
    epochs = np.arange(1, len(result.losses) + 1)
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(
        go.Scatter(x=epochs, y=result.losses, name="loss (4 labelled nodes)", line=dict(color="#4e79a7")),
        secondary_y=False,
    )
    fig.add_trace(
        go.Scatter(x=epochs, y=result.accuracies, name="accuracy (unlabelled nodes)", line=dict(color="#e15759")),
        secondary_y=True,
    )
    fig.update_yaxes(title_text="cross-entropy", secondary_y=False, rangemode="tozero")
    fig.update_yaxes(
        title_text="accuracy",
        secondary_y=True,
        range=[0, 1.02],
        tickformat=".0%",
        tickmode="array",
        tickvals=[0, 0.25, 0.5, 0.75, 1.0],
        showgrid=False,
    )
    fig.update_xaxes(title_text="epoch")
    fig.update_layout(height=320, margin=dict(l=10, r=10, t=30, b=10), legend=dict(orientation="h", y=1.12))
    return fig
