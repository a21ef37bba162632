"""Training figures: the sweep plot, for one setting and for a grid over two."""

from core.figures.training import search_figure, sweep_figure


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


def test_search_figure_has_a_panel_per_setting_and_draws_early_stops_hollow():
    rows = [
        {"run": 1, "lr": 0.003, "K": 5, "stopped early": False, "epochs": "4 of 4", "test accuracy": 0.9},
        {"run": 2, "lr": 1e-6, "K": 3, "stopped early": True, "epochs": "1 of 4", "test accuracy": 0.1},
        {"run": 3, "lr": 0.001, "K": 3, "stopped early": False, "epochs": "0 of 4", "test accuracy": None},
    ]
    fig = search_figure(rows, ["lr", "K"])
    assert len(fig.data) == 4  # (trained to the end, stopped early) x (lr, K); the trial without accuracy is left out
    full, early = fig.data[0], fig.data[1]
    assert list(full.x) == [0.003] and list(early.x) == [1e-6] and list(early.y) == [0.1]
    assert early.marker.symbol == "circle-open" and full.marker.symbol == "circle"
    assert fig.layout.xaxis.type == "log" and fig.layout.xaxis2.title.text == "K"


def test_live_curves_span_the_whole_run_from_the_first_batch():
    from core.figures.training import curves_figure

    early = curves_figure([], [(0.05, 2.31), (0.1, 2.2)], total_epochs=3)  # before epoch 1 ends
    assert list(early.layout.xaxis.range) == [0, 3.1] and list(early.layout.xaxis2.range) == [0, 3.1]
    assert list(early.layout.yaxis2.range) == [0, 1.02] and early.layout.yaxis2.tickformat == ".0%"
    assert [a.text for a in early.layout.annotations if a.text.startswith("test accuracy")] == [
        "test accuracy after epoch 1"
    ]
    later = curves_figure(
        [{"epoch": 1, "train_loss": 0.5, "train_accuracy": 0.8, "test_accuracy": 0.85}], [(0.5, 0.9)], total_epochs=3
    )
    assert not [a for a in later.layout.annotations if a.text.startswith("test accuracy")]
    assert curves_figure([], [(0.1, 2.0)]).layout.xaxis.range is None  # without a run length: plotly's own axes
