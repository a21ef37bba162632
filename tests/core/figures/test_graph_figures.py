"""Graph figures: edges drawn over a digit, shaded by weight, and the Gaussian kernel's profile."""

import math
import re

import numpy as np
import pytest

from core.figures.graphs import (
    DRAWN_FROM,
    EDGE_COLOR,
    NODE_EDGE_COLOR,
    drawn_edges,
    edges_caption,
    graph_figure,
    kernel_figure,
    sigma_sentence,
)
from core.graphs import build_graph

DIGIT = np.zeros((28, 28), np.float32)
NODE = 14 * 28 + 14  # the middle pixel, the page's default


def segments(fig, color: str) -> list[tuple[float, float, float, float, float, float]]:
    """Every drawn segment of ``color``: (x0, y0, x1, y1, line width, opacity), read back from the SVG paths."""
    out = []
    for shape in fig.layout.shapes:
        if shape.type != "path" or shape.line.color != color:
            continue
        for x0, y0, x1, y1 in re.findall(r"M([-\d.e]+) ([-\d.e]+)L([-\d.e]+) ([-\d.e]+)", shape.path):
            out.append((float(x0), float(y0), float(x1), float(y1), shape.line.width, shape.opacity))
    return out


def length(seg) -> float:
    return math.hypot(seg[2] - seg[0], seg[3] - seg[1])


def test_a_truncated_edge_sample_spreads_over_the_whole_image():
    """Drawing only some of many equal-weight edges must not leave part of the image without edges."""
    g = build_graph("knn", k=12)  # 4,921 undirected edges, all weight 1
    fig = graph_figure(DIGIT, g, max_edges=2000)
    drawn = segments(fig, EDGE_COLOR)
    ys = np.array([s[1] for s in drawn] + [s[3] for s in drawn])
    assert len(drawn) == 2000
    assert ys.min() <= 2 and ys.max() >= 25  # edges drawn at the top and at the bottom
    assert edges_caption(drawn_edges(g, max_edges=2000)).startswith("2,000 of the 4,921 edges drawn")


def test_every_edge_of_a_grid_is_drawn_once_and_the_chosen_nodes_in_green():
    g = build_graph("grid", neighbours=8)
    fig = graph_figure(DIGIT, g, highlight=NODE)
    mine, rest = segments(fig, NODE_EDGE_COLOR), segments(fig, EDGE_COLOR)
    assert len(mine) == 8 and len(rest) == 2970 - 8  # one segment per undirected edge
    assert all((s[0], s[1]) == (14, 14) or (s[2], s[3]) == (14, 14) for s in mine)
    assert {length(s) for s in rest} == {1.0, math.sqrt(2)}
    assert edges_caption(drawn_edges(g, highlight=NODE), NODE) == "All 2,970 edges drawn (green: all 8 of node 406's)."


@pytest.fixture(scope="module")
def by_sigma():
    """The figure's drawn segments and the kernel's drawn edges at sigma 0.05, 0.3 and 1.0."""
    out = {}
    for sigma in (0.05, 0.3, 1.0):
        g = build_graph("gaussian", sigma=sigma)
        fig = graph_figure(DIGIT, g, highlight=NODE, symmetric=True)
        out[sigma] = (fig, segments(fig, EDGE_COLOR), segments(fig, NODE_EDGE_COLOR))
    return out


def test_sigma_changes_what_the_graph_figure_draws(by_sigma):
    """Sigma 0.05, 0.3 and 1.0 draw different edges: longer and heavier ones as sigma grows (not just a label)."""
    paths = {sigma: tuple(s.path for s in fig.layout.shapes) for sigma, (fig, _, _) in by_sigma.items()}
    assert len(set(paths.values())) == 3
    longest = {sigma: max(length(s) for s in rest + mine) for sigma, (_, rest, mine) in by_sigma.items()}
    reach = {sigma: sigma * math.sqrt(math.log(1 / DRAWN_FROM)) * 27 for sigma in by_sigma}  # exp(-d²/σ²) >= 0.05
    assert longest[0.05] <= reach[0.05] < 3 and 10 < longest[0.3] <= reach[0.3] < 20 < longest[1.0]
    node_edges = {sigma: len(mine) for sigma, (_, _, mine) in by_sigma.items()}
    assert node_edges[0.05] == 20 and node_edges[1.0] == 783  # 0.05: within 2.3 pixels; 1.0: every other pixel
    assert node_edges[0.05] < node_edges[0.3] < node_edges[1.0]


def test_the_line_width_and_opacity_follow_the_weight(by_sigma):
    """A neighbour 1 pixel away weighs 0.58 at sigma 0.05 and 1.00 at sigma 1: its line gets thicker and darker."""

    def one_pixel_line(sigma):
        _, _, mine = by_sigma[sigma]
        return next((s[4], s[5]) for s in mine if length(s) == 1.0)

    thin, thick = one_pixel_line(0.05), one_pixel_line(1.0)
    assert thin[0] < thick[0] and thin[1] < thick[1]
    _, rest, mine = by_sigma[0.3]  # within one figure: the longer (lighter) an edge, the thinner its line
    for segs in (rest, mine):
        by_length = sorted(segs, key=length)
        assert by_length[0][4] > by_length[-1][4] and by_length[0][5] > by_length[-1][5]


def test_edges_lighter_than_the_threshold_are_not_drawn_and_the_caption_says_so():
    g = build_graph("gaussian", sigma=0.05)
    d = drawn_edges(g, symmetric=True, highlight=NODE)
    w = g.edge_weight.numpy()
    assert (w[np.concatenate([d.sample, d.node])] >= DRAWN_FROM).all()
    heavy = int(((w >= DRAWN_FROM) & (g.edge_index[0] < g.edge_index[1]).numpy()).sum())
    assert d.heavy == heavy and d.total == 784 * 783 // 2
    text = edges_caption(d, NODE)
    assert f"of the {heavy:,} edges of weight ≥ 0.05" in text and f"the {d.total - heavy:,} lighter" in text


def test_the_kernel_profile_marks_sigma_one_pixel_and_the_cutoff():
    fig = kernel_figure(0.05, 28, cutoff=0.2, kth=2.24, kth_label="8th nearest of node 406")
    curve = fig.data[0]
    x, y = np.asarray(curve.x), np.asarray(curve.y)
    assert np.allclose(y, np.exp(-((x / 27) ** 2) / 0.05**2))  # exp(-d²/σ²) with d on [0, 1] coordinates
    lines = {a.text.strip(): s for a, s in zip(fig.layout.annotations, fig.layout.shapes, strict=True)}
    assert math.isclose(10 ** lines["σ = 0.05"].x0, 0.05 * 27)  # sigma, in pixels on the log axis
    assert math.isclose(10 ** lines["1 pixel = 1/27"].x0, 1.0)
    assert lines["cutoff 0.2: lighter edges dropped"].y0 == 0.2
    assert math.isclose(10 ** lines["8th nearest of node 406"].x0, 2.24)
    wide = kernel_figure(1.0, 28)
    assert math.isclose(10 ** wide.layout.shapes[0].x0, 27.0) and wide.layout.annotations[0].text.strip() == "σ = 1"


def test_the_sigma_sentence_gives_this_sigmas_weights():
    assert sigma_sentence(0.05) == (
        "σ sets how far a pixel reaches: two pixels d apart are joined with weight "
        "exp(−d²/σ²), so at σ = 0.05 (1.4 pixels) a neighbour gets 0.58 at 1 pixel, "
        "0.01 at 3 pixels, 0.00 at 10 pixels."
    )
    assert "0.87 at 10 pixels" in sigma_sentence(1.0)
