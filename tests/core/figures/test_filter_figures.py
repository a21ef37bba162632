"""Figures of the Filters page: shared colour scale, the pixel's outline, the animation's frames and controls."""

import numpy as np

from core.analysis.filters import graph_frames, pixel_path
from core.graphs import build_graph, normalize
from core.figures.common import epoch_animation_controls
from core.figures.filters import comparison_figure, filter_animation_figure


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
    for frame, (r, c) in zip(fig.frames, pixels):
        box = frame.layout.shapes[0]
        assert (box.x0, box.y0) == (c - 0.5, r - 0.5)
        assert np.asarray(frame.data[0].z)[r, c] == 0 and np.isclose(np.asarray(frame.data[0].z).sum(), 1)
    slider = fig.layout.sliders[0]
    assert slider.active == 0 and slider.currentvalue.prefix.startswith("pixel")
    assert fig.layout.updatemenus[0].buttons[0].args[1]["frame"]["duration"] == 90


def test_epoch_animation_controls_keep_their_defaults():
    controls = epoch_animation_controls(["1", "2", "3"], frame_ms=100)
    assert controls["sliders"][0]["active"] == 2 and controls["sliders"][0]["currentvalue"]["prefix"] == "epoch "
