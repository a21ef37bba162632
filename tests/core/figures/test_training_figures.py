"""Training figures: the sweep plot, for one setting and for a grid over two."""

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


def test_sweep_figure_draws_one_line_per_value_of_the_second_setting():
    fig = sweep_figure([(1, 0.80, 16), (3, 0.89, 16), (1, 0.85, 32), (3, 0.93, 32)], "K", "hidden")
    assert [t.name for t in fig.data] == ["hidden = 16", "hidden = 32"]
    assert [list(t.y) for t in fig.data] == [[0.80, 0.89], [0.85, 0.93]]
    assert fig.layout.showlegend and fig.data[0].line.color != fig.data[1].line.color
