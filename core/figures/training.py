"""Training figures: a run's loss and accuracy curves, a sweep's accuracy against the swept value, and a
search's trials against each searched setting."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.figures.common import CLASS_COLORS


def curves_figure(
    epochs: Sequence[dict[str, Any]], batches: Sequence[tuple[float, float]] = (), total_epochs: int | None = None
) -> go.Figure:
    """Loss (left) and accuracy (right) per epoch; ``batches`` adds (fractional epoch, loss) points.

    With ``total_epochs`` both panels span the whole run from the first batch on (epochs 0 to the last,
    accuracy 0-100%), so a live run's first points land on axes that do not jump, and before epoch 1 ends the
    accuracy panel says when its first point comes instead of showing empty default axes."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("loss", "accuracy"))
    ep = [e["epoch"] for e in epochs]
    if batches:
        xs, ys = zip(*batches, strict=True)
        fig.add_trace(go.Scatter(x=xs, y=ys, name="batch loss", line=dict(color="#c7d2fe", width=1)), 1, 1)
    fig.add_trace(
        go.Scatter(
            x=ep,
            y=[e["train_loss"] for e in epochs],
            name="train loss",
            mode="lines+markers",
            line=dict(color="#4F46E5"),
        ),
        1,
        1,
    )
    fig.add_trace(
        go.Scatter(
            x=ep,
            y=[e.get("train_accuracy") for e in epochs],
            name="train accuracy",
            mode="lines+markers",
            line=dict(color="#a5b4fc"),
        ),
        1,
        2,
    )
    fig.add_trace(
        go.Scatter(
            x=ep,
            y=[e["test_accuracy"] for e in epochs],
            name="test accuracy",
            mode="lines+markers",
            line=dict(color="#16a34a"),
        ),
        1,
        2,
    )
    fig.update_xaxes(title_text="epoch", dtick=1)
    if total_epochs:
        fig.update_xaxes(range=[0, max(total_epochs, 1) + 0.1])
        fig.update_yaxes(range=[0, 1.02], tickformat=".0%", row=1, col=2)
        if not epochs:
            fig.add_annotation(
                text="test accuracy after epoch 1",
                x=0.5 * max(total_epochs, 1),
                y=0.5,
                xref="x2",
                yref="y2",
                showarrow=False,
                font=dict(color="#6b7280"),
            )
    fig.update_layout(height=340, margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=-0.25))
    return fig


def sweep_figure(
    points: Sequence[tuple],
    param: str,
    series_param: str | None = None,
    axis_title: str | None = None,
    series_title: str | None = None,
) -> go.Figure:
    """Test accuracy against the swept value (a line for numbers, bars for names).

    ``points`` are ``(value, accuracy)``, or ``(value, accuracy, second value)`` for a grid over two
    settings, drawn as one line (or bar group) per value of ``series_param``. ``axis_title`` and ``series_title``
    name the settings as people read them ("Chebyshev order (K)"; default: their keys)."""
    xs = [p[0] for p in points]
    numeric = all(isinstance(x, (int, float)) for x in xs)
    groups: dict[Any, list[tuple]] = {}
    for p in points:
        groups.setdefault(p[2] if len(p) > 2 else None, []).append(p)
    fig = go.Figure()
    for i, (key, group) in enumerate(groups.items()):
        gx, gy = [p[0] for p in group], [p[1] for p in group]
        name = f"{series_title or series_param} = {key}" if series_param is not None else None
        color = CLASS_COLORS[i % len(CLASS_COLORS)] if series_param is not None else "#4F46E5"
        fig.add_trace(
            go.Scatter(x=gx, y=gy, mode="lines+markers", name=name, line=dict(color=color))
            if numeric
            else go.Bar(x=[str(x) for x in gx], y=gy, name=name, marker_color=color)
        )
    fig.update_layout(
        xaxis_title=axis_title or param,
        yaxis_title="test accuracy",
        yaxis_tickformat=".0%",
        height=360,
        margin=dict(l=10, r=10, t=30, b=10),
        showlegend=series_param is not None,
    )
    if numeric and param in ("sigma", "lr"):
        fig.update_xaxes(type="log")
    if numeric and len(set(xs)) <= 12:  # tick exactly the swept values: no K = 1.5 between K = 1 and K = 2
        fig.update_xaxes(tickvals=sorted(set(xs)), ticktext=[f"{x:g}" for x in sorted(set(xs))])
    return fig


def search_figure(rows: Sequence[dict[str, Any]], params: Sequence[str]) -> go.Figure:
    """A search's trials: test accuracy against each searched setting, one panel per setting.

    ``rows`` are ``core.training.search.trial_rows``; a trial that ASHA stopped early is drawn hollow, with the
    accuracy it had when it stopped."""
    rows = [r for r in rows if r.get("test accuracy") is not None]
    fig = make_subplots(rows=1, cols=max(len(params), 1), shared_yaxes=True, horizontal_spacing=0.04)
    for col, param in enumerate(params, 1):
        for early, name, symbol in ((False, "trained to the end", "circle"), (True, "stopped early", "circle-open")):
            pts = [r for r in rows if bool(r["stopped early"]) == early]
            if not pts:
                continue
            fig.add_trace(
                go.Scatter(
                    x=[r[param] if isinstance(r[param], (int, float)) else str(r[param]) for r in pts],
                    y=[r["test accuracy"] for r in pts],
                    mode="markers",
                    name=name,
                    legendgroup=name,
                    showlegend=col == 1,
                    marker=dict(symbol=symbol, size=11, color="#9ca3af" if early else "#4F46E5", line=dict(width=2)),
                    text=[f"run {r['run']}: {r['epochs']} epochs" for r in pts],
                    hovertemplate=f"{param} = %{{x}}<br>%{{y:.2%}}<br>%{{text}}<extra></extra>",
                ),
                1,
                col,
            )
        fig.update_xaxes(
            title_text=param,
            row=1,
            col=col,
            type="log"
            if param in ("sigma", "lr") and all(isinstance(r[param], (int, float)) and r[param] > 0 for r in rows)
            else None,
        )
    fig.update_yaxes(title_text="test accuracy", tickformat=".0%", row=1, col=1)
    fig.update_layout(height=340, margin=dict(l=10, r=10, t=30, b=10), legend=dict(orientation="h", y=-0.3))
    return fig
