"""Figures in core.figures.graphs that pages build from numbers."""

from core.figures.training import sweep_figure


def test_sweep_figure_ticks_exactly_the_swept_integers():
    fig = sweep_figure([(1, 0.798), (3, 0.891), (5, 0.93)], "K")
    assert list(fig.layout.xaxis.tickvals) == [1, 3, 5]
    assert list(fig.layout.xaxis.ticktext) == ["1", "3", "5"]
    assert list(fig.data[0].y) == [0.798, 0.891, 0.93]


def test_sweep_figure_log_axis_for_sigma_and_bars_for_names():
    fig = sweep_figure([(0.02, 0.5), (0.05, 0.9), (0.1, 0.8)], "sigma")
    assert fig.layout.xaxis.type == "log"
    assert list(fig.layout.xaxis.ticktext) == ["0.02", "0.05", "0.1"]
    bars = sweep_figure([("cheb", 0.96), ("gcn", 0.9)], "model")
    assert bars.data[0].type == "bar" and list(bars.data[0].x) == ["cheb", "gcn"]
    assert bars.layout.xaxis.tickvals is None
