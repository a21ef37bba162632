"""The Playground's and the Equivariance page's figures on a phone: no title for Plotly's toolbar to cover (the pages
write them above the charts), a top margin the toolbar sits in, and bar labels large enough to read."""

import itertools

import numpy as np
import pytest

from core.figures.equivariance import (
    LAYER_ERROR_TITLE,
    TOOLBAR,
    accuracy_by_angle_figure,
    equivariance_panels_figure,
    layer_error_figure,
)
from core.figures.playground import ANGLE_TITLE, angle_figure, probability_figure

TOOLBAR_PX = 30  # Plotly's toolbar buttons are about this high


def _sweep(pred: int) -> dict:
    angles = np.arange(0, 360, 10.0)
    probs = np.full((len(angles), 10), 0.05)
    probs[:, pred] = 0.55
    return {
        "angles": angles,
        "probabilities": probs,
        "predicted": probs.argmax(1),
        "confidence": probs.max(1),
        "exact": angles % 90 == 0,
    }


def _labels(fig) -> list[tuple[float, float, str, str]]:
    """Every text label written on a figure: (x, y, text, colour)."""
    return [
        (x, y, t, tr.textfont.color)
        for tr in fig.data
        if tr.type == "scatter" and tr.text is not None
        for x, y, t in zip(tr.x, tr.y, tr.text, strict=True)
        if t
    ]


def _px_per_unit(fig) -> float:
    """Pixels per y unit, at the least: the figure's height less its margins and the room below the plot (the axis
    title and the legend, which a phone's narrow screen can push to two lines: 120 px)."""
    lo, hi = fig.layout.yaxis.range
    return (fig.layout.height - fig.layout.margin.t - fig.layout.margin.b - 120) / (hi - lo)


def test_the_probability_labels_of_three_runs_never_sit_on_each_other():
    """The issue's phone: "88%" and "94%" overlapped, two runs' winners side by side. Each run's label sits on a row
    of its own, above its own bar, rows a font height apart or more even on a phone."""
    from core.figures.playground import LABEL_FONT, bar_slot

    a, b, c = np.full(10, 0.01), np.full(10, 0.01), np.full(10, 0.02)
    a[9], b[9], c[8] = 0.88, 0.94, 0.81  # two winners on one class, the third beside them
    fig = probability_figure([("#1 CNN", a), ("#2 ChebNet", b), ("#3 Steerable CNN C8", c)])
    labels = _labels(fig)
    assert [t for _, _, t, _ in labels] == ["88%", "94%", "81%"]
    assert [col for _, _, _, col in labels] == [bar.marker.color for bar in fig.data if bar.type == "bar"]
    ys = sorted(y for _, y, _, _ in labels)
    assert all(y > 1.0 for y in ys) and fig.layout.yaxis.range[1] > ys[-1]  # above the bars, inside the plot
    gaps = np.diff(ys) * _px_per_unit(fig)
    assert (gaps >= LABEL_FONT).all(), gaps  # never at the same height within a font's size
    for i, (x, _, _, _) in enumerate(labels):  # each label is above its own bar
        winner = int(np.argmax([a, b, c][i]))
        offset, width = bar_slot(i, 3)
        assert x == pytest.approx(winner + offset + width / 2)
    assert not fig.layout.title.text and fig.layout.margin.t >= TOOLBAR_PX
    assert all(not any(bar.text or ()) for bar in fig.data if bar.type == "bar")  # no labels on the bars themselves


def test_the_every_angle_plot_writes_each_answer_once_per_stretch_on_its_runs_row():
    """The issue's phone with three runs: a class label at every one of 36 angles, three runs deep, piled up into
    "9999". Now each run's answers sit on a row of their own above the plot, one per stretch of angles."""
    from core.figures.playground import LABEL_FONT, MIN_SPAN, answer_spans

    flip = _sweep(6)
    flip["predicted"] = np.array([6] * 9 + [4] * 1 + [5] * 8 + [9] * 18)  # 0-80: 6, 90: 4 (one angle), 100-170: 5
    sweeps = [("#1 CNN", flip), ("#2 ChebNet", _sweep(9)), ("#3 Steerable CNN C8", _sweep(9))]
    fig = angle_figure(sweeps)
    assert not fig.layout.title.text and fig.layout.margin.t >= TOOLBAR_PX
    assert "as the digit turns" in ANGLE_TITLE
    lines = [tr for tr in fig.data if tr.mode == "lines+markers"]
    assert [tr.name for tr in lines] == ["#1 CNN", "#2 ChebNet", "#3 Steerable CNN C8"] and not any(
        tr.text for tr in lines
    )  # the lines carry no text
    labels = _labels(fig)
    by_row: dict[float, list] = {}
    for x, y, t, col in labels:
        by_row.setdefault(y, []).append((x, t, col))
    assert len(by_row) == 3 and (np.diff(sorted(by_row)) * _px_per_unit(fig) >= LABEL_FONT).all()
    rows = [by_row[y] for y in sorted(by_row)]
    assert [t for _, t, _ in rows[0]] == ["6", "5", "9"]  # the one-angle 4 shows on hover only
    assert rows[0][0][0] == pytest.approx(40) and rows[0][2][0] == pytest.approx(265)
    assert [t for _, t, _ in rows[1]] == ["9"] == [t for _, t, _ in rows[2]]  # one answer all round: written once
    for row in rows:  # labels of one row at least MIN_SPAN sweep steps apart
        xs = [x for x, _, _ in row]
        assert all(b - a >= 10 * MIN_SPAN for a, b in itertools.pairwise(xs))
    assert answer_spans([0, 10, 20, 30], [6, 6, 9, 6]) == [(0.0, 10.0, 6, 2), (20.0, 20.0, 9, 1), (30.0, 30.0, 6, 1)]


def test_equivariance_figures_leave_the_toolbar_its_strip():
    curves = {"#1 cnn": {0: 0.9, 90: 0.3}, "#2 escnn": {0: 0.9, 90: 0.9}}
    untitled = accuracy_by_angle_figure(curves, title="")
    assert not untitled.layout.title.text and untitled.layout.margin.t >= TOOLBAR >= TOOLBAR_PX
    titled = accuracy_by_angle_figure(curves)  # the CLI's and other callers' default keeps its title ...
    assert titled.layout.title.text == "Test accuracy of rotated digits"
    assert titled.layout.margin.t >= TOOLBAR + 30 and titled.layout.title.yref == "paper"  # ... below the strip
    errors = {"conv1": {"r0": 0.0, "r90": 1e-7}, "conv2": {"r0": 0.0, "r90": 0.2}}
    heat = layer_error_figure(errors, title="")
    assert not heat.layout.title.text and not heat.layout.xaxis.title.text
    assert heat.layout.margin.t >= TOOLBAR + 36  # the elements' two-line labels sit above the map, under the toolbar
    assert layer_error_figure(errors).layout.xaxis.title.text == LAYER_ERROR_TITLE
    maps = np.zeros((2, 7, 7))
    panels = equivariance_panels_figure(np.zeros((28, 28)), maps, maps, channels=[0, 1], element="r90")
    assert panels.layout.margin.t >= TOOLBAR + 16  # the subplot titles sit below the toolbar
