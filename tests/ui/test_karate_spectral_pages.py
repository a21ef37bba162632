"""AppTest smoke tests of the KarateClub and Spectral view pages."""

import time

from tests.ui.ui_helpers import metric_values, no_errors, open_page
from ui.url_state import shown_link_value

KARATE = "app_pages/karate.py"
SPECTRAL = "app_pages/spectral.py"


def trained(at, timeout: float = 120.0):
    """Rerun the page (as its polling fragment does) until the training it started shows its result."""
    deadline = time.monotonic() + timeout
    while "Accuracy on unlabelled nodes" not in metric_values(at) and time.monotonic() < deadline:
        time.sleep(0.3)
        at.run()
    return at


def test_karate_page_trains_on_click(app):
    from core.analysis.karate import karate_pool, train_karate

    at = open_page(app, KARATE)
    no_errors(at)
    assert at.title[0].value == "KarateClub"
    assert any("Train" in i.value for i in at.info)
    assert not at.get("plotly_chart")
    at.slider(key="k_epochs").set_value(20).run()
    started = karate_pool().counts["started"]
    at.button(key="k_train").click().run()
    no_errors(at)
    if "Accuracy on unlabelled nodes" not in metric_values(at):  # training in its worker process: said so
        assert any("in a worker process" in i.value for i in at.info), [i.value for i in at.info]
    trained(at)
    no_errors(at)
    assert karate_pool().counts["started"] == started + 1
    expected = train_karate("gcn", epochs=20, lr=0.01, seed=0)
    metrics = metric_values(at)
    assert metrics["Accuracy on unlabelled nodes"] == f"{expected.accuracy:.1%}"
    assert metrics["Labelled nodes"] == "0, 4, 8, 24"
    assert len(at.get("plotly_chart")) == 3  # embedding animation, graph by prediction, curves
    at.selectbox(key="k_model").set_value("sage").run()  # settings changed: the last result stays, with a note
    no_errors(at)
    assert any("press Train" in c.value for c in at.caption)
    assert len(at.get("plotly_chart")) == 3


def test_karate_page_link_settings(app):
    at = app.run()
    at.switch_page(KARATE)
    at.query_params.update({"k_model": "cheb", "k_epochs": "30", "k_lr": "0.03", "k_seed": "7"})
    at.run()
    no_errors(at)
    assert at.selectbox(key="k_model").value == "cheb"
    assert at.slider(key="k_epochs").value == 30
    at.button(key="k_train").click().run()
    no_errors(at)
    assert "Accuracy on unlabelled nodes" in metric_values(trained(at))


def test_spectral_page_without_runs(app):
    at = open_page(app, SPECTRAL)
    no_errors(at)
    assert at.title[0].value == "Spectral view"
    metrics = metric_values(at)
    assert metrics["Nodes"] == "784"
    assert metrics["Zero eigenvalues"] == "1"  # the grid is connected
    assert len(at.get("plotly_chart")) == 4  # eigenvectors, spectrum, Fourier coefficients, low-pass
    assert any("Train one on the Train page" in i.value for i in at.info), [i.value for i in at.info]
    at.radio(key="s_norm").set_value("comb").run()
    at.radio(key="s_kind").set_value("knn").run()
    no_errors(at)
    assert len(at.get("plotly_chart")) == 4


def _stored_cheb_run() -> int:
    """A finished ChebNet run with an (untrained) checkpoint, without spending time on training."""
    import torch

    from core.graphs import build_graph
    from core.models import MODELS
    from core.training.runs import RunConfig
    from core.training.store import RunStore, checkpoint_path, save_checkpoint

    cfg = RunConfig.make(model="cheb", K=4, hidden=8, layers=2, epochs=1, quick=True)
    store = RunStore()
    run_id = store.create_run(cfg.to_dict(), name=cfg.label())
    torch.manual_seed(0)
    model = MODELS.get("cheb")(cfg.model_config(), build_graph(cfg.graph, size=28, **cfg.graph_params))
    path = save_checkpoint(model.state_dict(), checkpoint_path(run_id))
    store.finish(run_id, {"test_accuracy": 0.1}, checkpoint=path)
    return run_id


def test_spectral_page_plots_a_stored_chebnet_filters(app):
    run_id = _stored_cheb_run()
    at = open_page(app, SPECTRAL)
    no_errors(at)
    assert not at.info
    assert at.selectbox(key="s_run").value == run_id
    charts = at.get("plotly_chart")
    assert len(charts) == 5
    assert "K=4" in charts[-1].proto.spec  # the frequency-response chart's title
    at.selectbox(key="s_layer").set_value(2).run()  # second layer: 8 input channels
    no_errors(at)
    at.slider(key="s_in").set_value(3).run()
    no_errors(at)
    assert "input channel 3" in at.get("plotly_chart")[-1].proto.spec


def test_spectral_page_run_link_holds_the_run_id_not_its_label(app):
    first, second = _stored_cheb_run(), _stored_cheb_run()
    app.query_params["s_run"] = str(first)  # a link to the older run (the newest is the default)
    at = open_page(app, SPECTRAL)
    no_errors(at)
    assert not at.warning
    assert at.selectbox(key="s_run").value == first != second
    assert at.query_params["s_run"] == str(first)  # the id, not "run 1: cheb K=4 ..."


def test_spectral_page_run_link_with_a_label_falls_back_with_a_notice(app):
    first, second = _stored_cheb_run(), _stored_cheb_run()
    app.query_params["s_run"] = "run 1: cheb"  # what a labelled, bound selectbox used to write
    at = open_page(app, SPECTRAL)
    no_errors(at)
    assert any(f"s_run={shown_link_value('run 1: cheb')} (" in w.value for w in at.warning)  # quoted inert
    assert at.selectbox(key="s_run").value in (first, second)


def test_karate_page_past_the_bound_says_the_server_is_busy(app, monkeypatch):
    """One training at a time and none waiting (a pool with smaller bounds): a second visitor's Train is refused
    with one line, nothing trains in the server, and the page keeps working."""
    from core.training import jobs

    small = jobs.JobPool("karate", workers=1, waiting=0, per_owner=1)
    monkeypatch.setitem(jobs._pools, "karate", small)
    small.submit("someone else's training", time.sleep, (3,))
    at = open_page(app, KARATE)
    at.button(key="k_train").click().run()
    no_errors(at)
    assert [w.value for w in at.warning] == ["The server is busy, try again in a moment."]
    assert not at.get("plotly_chart") and small.counts == {"started": 1, "done": 0, "failed": 0, "refused": 1}
    small.wait("someone else's training", timeout=60)
    at.button(key="k_train").click().run()  # room again
    no_errors(at)
    assert not at.warning
    assert "Accuracy on unlabelled nodes" in metric_values(trained(at))
