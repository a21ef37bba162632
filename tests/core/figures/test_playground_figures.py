"""The Playground's and the Equivariance page's figures on a phone: no title for Plotly's toolbar to cover (the pages
write them above the charts), a top margin the toolbar sits in, and bar labels large enough to read."""

import numpy as np

from core.figures.equivariance import (LAYER_ERROR_TITLE, TOOLBAR, accuracy_by_angle_figure,
                                       equivariance_panels_figure, layer_error_figure)
from core.figures.playground import ANGLE_TITLE, angle_figure, probability_figure

TOOLBAR_PX = 30  # Plotly's toolbar buttons are about this high


def _sweep(pred: int) -> dict:
    angles = np.arange(0, 360, 10.0)
    probs = np.full((len(angles), 10), 0.05)
    probs[:, pred] = 0.55
    return {"angles": angles, "probabilities": probs, "predicted": probs.argmax(1), "confidence": probs.max(1),
            "exact": angles % 90 == 0}


def test_the_probability_bars_label_their_winner_legibly_below_the_toolbar():
    probs = np.full(10, 0.03)
    probs[6] = 0.73
    fig = probability_figure([("#1 cnn", probs), ("#2 escnn C8", probs[::-1])])
    for bar in fig.data:
        assert bar.textfont.size >= 12 and bar.constraintext == "none" and bar.cliponaxis is False
        assert [t for t in bar.text if t] in (["73%"],)
    assert not fig.layout.title.text and fig.layout.margin.t >= TOOLBAR_PX


def test_the_every_angle_plot_has_its_title_on_the_page_and_room_for_the_toolbar():
    fig = angle_figure([("#1 cnn", _sweep(6)), ("#2 escnn C8", _sweep(9))])
    assert not fig.layout.title.text and fig.layout.margin.t >= TOOLBAR_PX
    assert "as the digit turns" in ANGLE_TITLE
    assert [list(t.text[:2]) for t in fig.data] == [["6", "6"], ["9", "9"]]


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
