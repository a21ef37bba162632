"""Figures of the Filters page: shared colour scale, the pixel's outline, the animation's frames and controls."""

import numpy as np

from core.analysis.filters import graph_frames, pixel_path
from core.figures.common import epoch_animation_controls
from core.figures.filters import comparison_figure, filter_animation_figure
from core.graphs import build_graph, normalize


def test_comparison_figure_shares_one_scale_and_outlines_the_pixel():
    a = np.zeros((7, 7))
    a[3, 3], a[3, 4] = 0.6, 0.4
    b = np.full((7, 7), -0.1)
    fig = comparison_figure([("first", a), ("second", b)], (3, 4), window=2)
    heatmaps = [t for t in fig.data if t.type == "heatmap"]
    assert [(h.zmin, h.zmax) for h in heatmaps] == [(-0.1, 0.6)] * 2
    assert [h.showscale for h in heatmaps] == [False, True]  # one colour bar for both
    boxes = [(s.x0, s.x1, s.y0, s.y1, s.xref) for s in fig.layout.shapes]
    assert boxes == [(3.5, 4.5, 2.5, 3.5, "x"), (3.5, 4.5, 2.5, 3.5, "x2")]
    assert tuple(fig.layout.xaxis2.range) == (1.5, 6.5) and tuple(fig.layout.yaxis.range) == (5.5, 0.5)  # zoomed
    assert [a.text for a in fig.layout.annotations] == ["first", "second"]


def test_animation_has_one_frame_per_pixel_and_the_outline_moves():
    normed = normalize(build_graph("grid", size=10, neighbours=4), "rw")
    pixels = pixel_path(10, "diagonal", 3)
    fig = filter_animation_figure(graph_frames(normed, pixels), title="t", frame_ms=90)
    assert [f.name for f in fig.frames] == [f"({r}, {c})" for r, c in pixels]
    for frame, (r, c) in zip(fig.frames, pixels, strict=True):
        box = frame.layout.shapes[0]
        assert (box.x0, box.y0) == (c - 0.5, r - 0.5)
        assert np.asarray(frame.data[0].z)[r, c] == 0 and np.isclose(np.asarray(frame.data[0].z).sum(), 1)
    slider = fig.layout.sliders[0]
    assert slider.active == 0 and slider.currentvalue.prefix.startswith("pixel")
    assert fig.layout.updatemenus[0].buttons[0].args[1]["frame"]["duration"] == 90


def test_epoch_animation_controls_keep_their_defaults():
    controls = epoch_animation_controls(["1", "2", "3"], frame_ms=100)
    assert controls["sliders"][0]["active"] == 2 and controls["sliders"][0]["currentvalue"]["prefix"] == "epoch "


def test_digit_filter_figure_outlines_the_pixels_block_on_the_digit():
    from core.figures.filters import digit_filter_figure

    image = np.zeros((28, 28))
    image[10:18, 12:14] = 1.0
    filt = np.zeros((14, 14))
    filt[5, 6], filt[5, 7] = 0.7, 0.3
    fig = digit_filter_figure(image, filt, (5, 6), window=3, filter_title="layer 2, head 1", title="t")
    digit, att = fig.data
    assert np.asarray(digit.z).shape == (28, 28) and not digit.showscale
    assert (att.zmin, att.zmax) == (0.0, 0.7) and att.colorbar.title.text == "αᵢⱼ"
    block, box = fig.layout.shapes  # a 14 x 14 pixel covers 2 x 2 input pixels
    assert (block.x0, block.x1, block.y0, block.y1, block.xref) == (11.5, 13.5, 9.5, 11.5, "x")
    assert (box.x0, box.y0, box.xref) == (5.5, 4.5, "x2")
    assert tuple(fig.layout.xaxis2.range) == (2.5, 9.5) and tuple(fig.layout.xaxis.range) == (-0.5, 27.5)
    assert [a.text for a in fig.layout.annotations] == ["the digit", "layer 2, head 1"]


def test_superpixel_filter_figure_paints_each_node_on_its_region():
    from core.figures.filters import superpixel_filter_figure
    from core.figures.graphs import superpixel_boundaries

    segments = np.repeat(np.repeat(np.arange(4).reshape(2, 2), 3, axis=0), 3, axis=1)  # (6, 6): 4 regions of 3x3
    pos = np.array([[1.0, 1.0], [4.0, 1.0], [1.0, 4.0], [4.0, 4.0]])
    values = [("attention", np.array([0.5, 0.25, 0.25, 0.0])), ("gcn", np.array([0.2, 0.4, 0.0, 0.1]))]
    fig = superpixel_filter_figure(values, segments, 1, pos, boundaries=superpixel_boundaries(segments))
    heat = [t for t in fig.data if t.type == "heatmap" and t.customdata is not None]
    assert len(heat) == 2 and [(h.zmin, h.zmax) for h in heat] == [(0.0, 0.5)] * 2  # one scale
    assert np.asarray(heat[0].z)[0, 5] == 0.25 and np.asarray(heat[1].z)[5, 5] == 0.1  # node 1 top right, 3 below
    marks = [t for t in fig.data if t.type == "scatter"]
    assert [(m.x[0], m.y[0]) for m in marks] == [(4.0, 1.0)] * 2  # the chosen node's centroid in both
    assert len([t for t in fig.data if t.type == "heatmap"]) == 4  # boundaries drawn over each panel
    assert tuple(fig.layout.yaxis2.range) == (5.5, -0.5)
