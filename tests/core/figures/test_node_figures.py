"""The One node page's figures: a clickable map whose points name their cell, neighbours marked with readable
edge-weight badges, sums labelled, nodes named by (row, column)."""

import re

import numpy as np
import pytest

from core.figures.node import (
    adjacency_row_figure,
    cheb_terms_figure,
    field_maps_figure,
    field_turn_figure,
    node_map_figure,
)


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
    assert labels.text is None and not fig.layout.annotations  # the whole 28 x 28 grid: too small for the weights
    hovers = cells.hovertemplate + labels.hovertemplate
    assert "row %{y}, column %{x}" in cells.hovertemplate and "node" not in hovers  # named as the axes name it


def test_a_windowed_map_is_a_heatmap_around_the_node_with_the_weights_printed():
    fig = node_map_figure(
        np.zeros((14, 14)), node=0, neighbours=[0, 1, 14, 15], weights=[0.25] * 4, window=4, clickable=False
    )
    assert fig.data[0].type == "heatmap"
    assert tuple(fig.layout.xaxis.range) == (-0.5, 8.5)  # a corner node: the window stays on the grid
    assert tuple(fig.layout.yaxis.range) == (8.5, -0.5)
    assert list(fig.data[1].text) == ["0.25"] * 4
    badges = fig.layout.annotations  # the labels drawn: one badge on each neighbour's cell
    assert [(a.x, round(a.y - 0.46), a.text) for a in badges] == [
        (0, 0, "0.25"),
        (1, 0, "0.25"),
        (0, 1, "0.25"),
        (1, 1, "0.25"),
    ]
    assert all(a.yanchor == "bottom" for a in badges)  # along the cell's lower edge, its shade visible above
    assert all(a.font.size >= 12 for a in badges)  # not the old 9 px


def _rgba(colour: str) -> tuple[float, float, float, float]:
    if colour.startswith("#"):
        r, g, b = (int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5))
        return r, g, b, 1.0
    r, g, b, *a = (float(v) for v in re.findall(r"[0-9.]+", colour))
    return r / 255, g / 255, b / 255, (a[0] if a else 1.0)


def _luminance(rgb) -> float:
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


@pytest.mark.parametrize("cell", [(0.0, 0.0, 0.0), (0.5, 0.5, 0.5), (1.0, 1.0, 1.0)], ids=["black", "grey", "white"])
def test_edge_weight_badges_read_on_black_grey_and_white_cells(cell):
    """The badge's text against the badge as it shows over the cell (its background blended onto the cell's colour):
    a contrast ratio of at least 7 (WCAG AAA for normal text), whatever the cell's grey."""
    fig = node_map_figure(
        np.zeros((28, 28)), node=300, neighbours=[299, 301], weights=[-0.125, 0.5], window=4, clickable=False
    )
    badge = fig.layout.annotations[0]
    *bg, alpha = _rgba(badge.bgcolor)
    shown = [alpha * b + (1 - alpha) * c for b, c in zip(bg, cell, strict=True)]
    text = _rgba(badge.font.color)[:3]
    hi, lo = sorted((_luminance(shown), _luminance(text)), reverse=True)
    assert (hi + 0.05) / (lo + 0.05) >= 7, (cell, badge.bgcolor, badge.font.color)
    assert badge.text == "-0.125"


def test_row_terms_and_field_figures():
    row = np.zeros(784)
    row[[3, 4, 5, 31]] = [0.1, 0.2, 0.3, 0.4]  # node 31 sits a grid row below: a bar beside the others all the same
    fig = adjacency_row_figure(row, 4, 28, name="L̃")  # named by (row, column) on the map, not node ids
    assert list(fig.data[0].x) == ["(0, 3)", "(0, 4)", "(0, 5)", "(1, 3)"] and fig.layout.xaxis.type == "category"
    assert list(fig.data[0].y) == [0.1, 0.2, 0.3, 0.4] and fig.layout.yaxis.title.text == "L̃ entry"
    assert fig.layout.xaxis.title.text == "neighbour (row, column)"
    fig = cheb_terms_figure(np.array([0.5, -0.25, 0.125]), bias=0.1)
    assert list(fig.data[0].x)[-2:] == ["bias", "pre-activation"]
    assert fig.data[0].text[-1] == f"{0.5 - 0.25 + 0.125 + 0.1:.3g}"  # the total is labelled with the sum
    fig = field_turn_figure(np.arange(4.0), np.roll(np.arange(4.0), 1), permutation=(1, 2, 3, 0))
    assert list(fig.data[0].text) == ["→ 1", "→ 2", "→ 3", "→ 0"]
    assert list(fig.data[1].text) == ["from 3", "from 0", "from 1", "from 2"]
    assert len(field_maps_figure(np.zeros((4, 29, 29)), (3, 5)).data) == 4
