"""What every figure shares: the colours (ink on paper, one colour per class) and epoch animation controls."""

from __future__ import annotations

from collections.abc import Sequence

# ten distinguishable class colours (Tableau 10)
CLASS_COLORS = (
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
)
INK = [[0, "#ffffff"], [1, "#111827"]]  # white paper, dark ink: every digit and image heatmap


def class_color(c: int) -> str:
    return CLASS_COLORS[int(c) % len(CLASS_COLORS)]


def epoch_animation_controls(
    names: Sequence[str],
    frame_ms: int,
    transition_ms: int = 0,
    y: float = 0.0,
    slider_x: float = 0.0,
    slider_pad_top: int = 50,
    button_pad_top: int = 10,
    prefix: str = "epoch ",
    active: int | None = None,
) -> dict:
    """``sliders`` and ``updatemenus`` for a figure whose frames are named ``names`` (one per epoch):
    a slider that jumps to an epoch and Play / Pause buttons. Pass the result to ``update_layout``.

    ``prefix`` labels the slider's current value; ``active`` is the step shown first (the last one
    by default, where an epoch animation starts)."""
    jump = dict(mode="immediate", frame=dict(duration=0, redraw=True), transition=dict(duration=0))
    steps = [dict(method="animate", label=name, args=[[name], jump]) for name in names]
    play = dict(
        frame=dict(duration=frame_ms, redraw=True),
        fromcurrent=False,
        transition=dict(duration=transition_ms),
        mode="immediate",
    )
    pause = dict(frame=dict(duration=0, redraw=False), mode="immediate")
    return dict(
        sliders=[
            dict(
                active=len(names) - 1 if active is None else active,
                steps=steps,
                currentvalue=dict(prefix=prefix),
                x=slider_x,
                len=1.0 - slider_x,
                y=y,
                xanchor="left",
                yanchor="top",
                pad=dict(t=slider_pad_top, b=10),
            )
        ],
        updatemenus=[
            dict(
                type="buttons",
                showactive=False,
                x=0.0,
                y=y,
                xanchor="left",
                yanchor="top",
                direction="left",
                pad=dict(t=button_pad_top, r=10),
                buttons=[
                    dict(label="▶ Play", method="animate", args=[None, play]),
                    dict(label="❚❚ Pause", method="animate", args=[[None], pause]),
                ],
            )
        ],
    )
