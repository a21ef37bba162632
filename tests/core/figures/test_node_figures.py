"""The One node page's figures: a clickable map whose points name their node, neighbours marked, sums labelled."""

import numpy as np

from core.figures.node import (adjacency_row_figure, cheb_terms_figure, field_maps_figure, field_turn_figure,
                               node_map_figure)


def test_the_clickable_map_names_each_cells_node_row_and_column():
    values = np.arange(28 * 28, dtype=float).reshape(28, 28)
    fig = node_map_figure(values, node=292, neighbours=[263, 264, 292], weights=[0.1, 0.2, 0.3])
    cells = fig.data[0]
    assert cells.type == "scatter" and len(cells.x) == 784
    i = 292
    assert (cells.customdata[i], cells.y[i], cells.x[i]) == (292, 10, 12)  # what a click returns: node, row, col
    assert fig.layout.clickmode == "event+select"
    assert len(fig.layout.shapes) == 4  # three neighbours and the node
    labels = fig.data[1]
    assert labels.text is None  # the whole 28 x 28 grid: too small to print the weights


def test_a_windowed_map_is_a_heatmap_around_the_node_with_the_weights_printed():
    fig = node_map_figure(np.zeros((14, 14)), node=0, neighbours=[0, 1, 14, 15], weights=[0.25] * 4, window=4,
                          clickable=False)
    assert fig.data[0].type == "heatmap"
    assert tuple(fig.layout.xaxis.range) == (-0.5, 8.5)  # a corner node: the window stays on the grid
    assert tuple(fig.layout.yaxis.range) == (8.5, -0.5)
    assert list(fig.data[1].text) == ["0.25"] * 4


def test_row_terms_and_field_figures():
    row = np.zeros(784)
    row[[3, 4, 5, 31]] = [0.1, 0.2, 0.3, 0.4]  # node 31 sits a grid row below: a bar beside the others all the same
    fig = adjacency_row_figure(row, 4, name="L̃")
    assert list(fig.data[0].x) == ["3", "4", "5", "31"] and fig.layout.xaxis.type == "category"
    assert list(fig.data[0].y) == [0.1, 0.2, 0.3, 0.4] and fig.layout.yaxis.title.text == "L̃[i, j]"
    fig = cheb_terms_figure(np.array([0.5, -0.25, 0.125]), bias=0.1)
    assert list(fig.data[0].x)[-2:] == ["bias", "pre-activation"]
    assert fig.data[0].text[-1] == f"{0.5 - 0.25 + 0.125 + 0.1:.3g}"  # the total is labelled with the sum
    fig = field_turn_figure(np.arange(4.0), np.roll(np.arange(4.0), 1), permutation=(1, 2, 3, 0))
    assert list(fig.data[0].text) == ["→ 1", "→ 2", "→ 3", "→ 0"]
    assert list(fig.data[1].text) == ["from 3", "from 0", "from 1", "from 2"]
    assert len(field_maps_figure(np.zeros((4, 29, 29)), (3, 5)).data) == 4
