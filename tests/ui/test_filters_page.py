"""AppTest smoke tests of the Filters page: a fixed graph's filters, a stored learned-edge run's, a GAT run's
attention and a superpixel run's filters on one digit, bad links."""

import pytest

from tests.ui.ui_helpers import metric_values, no_errors, open_page
from ui.display import plain

FILTERS = "app_pages/filters.py"


def test_filters_page_fixed_graph_and_no_learned_runs(app):
    from core.analysis.filters import filter_stats, graph_filter
    from core.graphs import build_graph, normalize

    at = open_page(app, FILTERS)
    no_errors(at)
    assert at.title[0].value == "Filters"
    assert at.selectbox(key="f_norm").value == "gcn"  # the Graph Builder's default: symmetric, with self-loops
    expected = filter_stats(graph_filter(normalize(build_graph("grid", neighbours=8), "gcn"), (14, 14)), (14, 14))
    metrics = metric_values(at)
    assert metrics["Row sum"] == f"{expected['sum']:.4f}" == "1.0000"
    assert metrics["Non-zero weights"] == str(expected["support"]) == "9"
    assert metrics["Own weight"] == f"{expected['self']:.4f}" == "0.1111"  # the self-loop: 1/9
    assert len(at.get("plotly_chart")) == 2  # the pixel's filter and the animation
    assert at.get("download_button")[0].proto.label == "Download GIF"
    assert any("49 frames" in c.value for c in at.caption)  # 7 x 7 pixels at step 4
    at.radio(key="f_kind").set_value("knn").run()
    at.slider(key="f_row").set_value(0).run()
    no_errors(at)
    knn = filter_stats(graph_filter(normalize(build_graph("knn", k=8), "gcn"), (0, 14)), (0, 14))
    assert metric_values(at)["Non-zero weights"] == str(knn["support"])
    at.selectbox(key="f_norm").set_value("rw").run()
    no_errors(at)
    assert metric_values(at)["Own weight"] == "0.0000"
    for source, model in (("learned", "learned"), ("gat", "gat"), ("superpixel", "superpixel")):
        at.radio(key="f_src").set_value(source).run()
        no_errors(at)
        assert any(f"python -m core train --model {model}" in i.value for i in at.info), [i.value for i in at.info]
        assert not any("**Train**" in i.value for i in at.info)  # the Train page is a link, not bold text
        link = at.get("page_link")[0].proto
        assert (link.page, link.label, link.icon) == ("train", "Train", ":material/model_training:")  # its url_path
        assert f"model={model}" in link.query_string
        assert not at.get("plotly_chart")


def test_filters_page_shows_a_stored_learned_run(app):
    from core.analysis.filters import filter_stats, layer_pixel, learned_filter, load_learned_run
    from core.training.runs import RunConfig, execute
    from core.training.store import RunStore

    store = RunStore()
    run_id = execute(RunConfig.make(model="learned", hidden=8, layers=2, epochs=1, quick=True), store)["run_id"]
    run = load_learned_run(run_id, store)
    at = app.run()
    at.switch_page(FILTERS)
    at.query_params.update({"f_src": "learned", "f_row": "3", "f_col": "20"})
    at.run()
    no_errors(at)
    assert at.selectbox(key="f_run").value == run_id
    want = filter_stats(learned_filter(run, 0, (3, 20)), (3, 20))
    metrics = metric_values(at)
    assert metrics["Row sum (learned)"] == f"{want['sum']:.4f}"
    assert metrics["Own weight (learned)"] == f"{want['self']:.4f}"
    charts = at.get("plotly_chart")
    assert len(charts) == 2  # learned | Gaussian | untrained, and the animation
    assert "Gaussian" in charts[0].proto.spec and "untrained" in charts[0].proto.spec
    assert at.get("download_button")[0].proto.label == "Download GIF"
    at.selectbox(key="f_layer").set_value(2).run()  # the second layer runs on the pooled 14 x 14 grid
    no_errors(at)
    assert any("14×14" in c.value and "pools into its pixel (1, 10)" in c.value for c in at.caption)
    second = filter_stats(learned_filter(run, 1, layer_pixel(3, 20, 14)), (1, 10))
    assert metric_values(at)["Own weight (learned)"] == f"{second['self']:.4f}"
    at.toggle(key="f_init").set_value(False).run()
    no_errors(at)
    assert "untrained" not in at.get("plotly_chart")[0].proto.spec


def test_filters_page_picks_an_edge_set_and_reports_the_drift(app):
    from core.analysis.filters import filter_drift, learned_filter, load_learned_run
    from core.training.runs import RunConfig, execute
    from core.training.store import RunStore

    store = RunStore()
    cfg = RunConfig.make(
        model="learned",
        hidden=4,
        layers=2,
        epochs=1,
        quick=True,
        edge_inputs="offset",
        edge_activation="tanh",
        edge_norm="none",
        edge_sets="pair",
    )
    run_id = execute(cfg, store)["run_id"]
    run = load_learned_run(run_id, store)
    at = app.run()
    at.switch_page(FILTERS)
    at.query_params.update({"f_src": "learned", "f_layer": "2", "f_set": "13", "f_row": "14", "f_col": "14"})
    at.run()
    no_errors(at)
    assert at.slider(key="f_set").value == 13 and at.slider(key="f_set").max == 31
    assert any(c.value == "Edge set 13: output 3 ← input 1." for c in at.caption)
    import json

    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    heat = spec["data"][0]
    assert heat["zmin"] == -heat["zmax"] and "red positive, blue negative" in spec["layout"]["title"]["text"]
    summary = at.dataframe[0].value
    assert list(summary["edge sets"]) == [4, 32]
    rows = [r for r in filter_drift(run) if r["layer"] == 2]
    assert summary["largest relative change"][1] == pytest.approx(max(r["relative_change"] for r in rows))
    want = learned_filter(run, 1, (7, 7), edge_set=13)
    assert any(f"relative change {rows[13]['relative_change']:.3f}" in c.value for c in at.caption)
    assert want.shape == (14, 14)


def test_filters_page_invalid_link_values_fall_back_with_a_notice(app):
    at = app.run()
    at.switch_page(FILTERS)
    at.query_params.update({"f_row": "99", "f_kind": "hexagon", "f_path": "spiral"})
    at.run()
    no_errors(at)
    notice = " ".join(w.value for w in at.warning)
    assert "f_row=99" in notice and "f_kind=hexagon" in notice and "f_path=spiral" in notice
    assert at.slider(key="f_row").value == 14 and at.radio(key="f_kind").value == "grid"
    assert metric_values(at)["Row sum"] == "1.0000"


def test_filters_page_reports_a_corrupt_checkpoint_without_a_traceback(app, tmp_path):
    from core.training.runs import RunConfig
    from core.training.store import RunStore

    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"definitely not torch weights" * 8)
    store = RunStore()
    run_id = store.create_run(RunConfig.make(model="learned", epochs=1, quick=True).to_dict(), name="learned")
    store.finish(run_id, {"test_accuracy": 0.5}, checkpoint=str(bad))
    at = app.run()
    at.switch_page(FILTERS)
    at.query_params.update({"f_src": "learned"})
    at.run()
    assert not at.exception
    assert len(at.error) == 1 and f"Cannot read run {run_id}'s filters" in at.error[0].value
    assert "corrupt" in at.error[0].value and "Traceback" not in at.error[0].value
    assert not at.get("plotly_chart")


# ----------------------------------------------------------------------------- GAT and superpixel runs


def _stored_untrained(store, cfg) -> int:
    """A finished run of ``cfg`` whose checkpoint holds the model's initial weights (no training: cheap)."""
    from core.models import MODELS
    from core.training.store import checkpoint_path, save_checkpoint

    graph = None
    if cfg.model != "superpixel":
        from core.graphs import build_graph

        graph = build_graph(cfg.graph, size=28, **cfg.graph_params)
    run_id = store.create_run(cfg.to_dict(), name=cfg.label())
    model = MODELS.get(cfg.model)(cfg.model_config(), graph).eval()
    store.finish(
        run_id, {"test_accuracy": 0.1}, checkpoint=str(save_checkpoint(model.state_dict(), checkpoint_path(run_id)))
    )
    return run_id


def test_filters_page_shows_a_gat_runs_attention_for_a_digit(app):
    import numpy as np

    from core.analysis.digit_filters import attention_filter, gat_attention, load_gat_run
    from core.analysis.filters import filter_stats
    from core.data.datasets import load_dataset
    from core.training.runs import RunConfig, execute
    from core.training.store import RunStore

    store = RunStore()
    run_id = execute(RunConfig.make(model="gat", hidden=8, layers=2, heads=2, epochs=1, quick=True), store)["run_id"]
    run = load_gat_run(run_id, store)
    ds = load_dataset("mnist-5k", quick=True)
    at = app.run()
    at.switch_page(FILTERS)
    at.query_params.update({"f_src": "gat", "f_row": "10", "f_col": "13", "f_digit": "3"})
    at.run()
    no_errors(at)
    assert at.selectbox(key="f_grun").value == run_id and at.slider(key="f_digit").value == 3
    want = filter_stats(attention_filter(gat_attention(run, ds.x_test[3].numpy()).layer(0), (10, 13)), (10, 13))
    metrics = metric_values(at)
    assert metrics["Attention sum"] == "1.0000"  # a softmax over the neighbours
    assert metrics["Own weight"] == f"{want['self']:.4f}"
    assert metrics["Neighbours attended"] == str(want["support"]) == "9"  # 8 neighbours and itself
    assert any(
        "Attention weights depend on the digit" in c.value and "changes with the input" in c.value for c in at.caption
    )
    assert any(f"Test digit #3 (label {int(ds.y_test[3])})" in m.value for m in at.markdown)
    charts = at.get("plotly_chart")
    assert len(charts) == 2 and "the digit" in charts[0].proto.spec  # digit | attention, and the animation
    assert at.get("download_button")[0].proto.label == "Download GIF"
    # another head and the pooled second layer (14 x 14)
    at.selectbox(key="f_head").set_value("2").run()
    at.selectbox(key="f_glayer").set_value(2).run()
    no_errors(at)
    assert any("14×14" in c.value and "pools into its pixel (5, 6)" in c.value for c in at.caption)
    second = gat_attention(run, ds.x_test[3].numpy()).layer(1)
    assert metric_values(at)["Own weight"] == f"{attention_filter(second, (5, 6), 1)[5, 6]:.4f}"
    # another digit: another filter for the same pixel
    at.slider(key="f_digit").set_value(4).run()
    no_errors(at)
    other = attention_filter(gat_attention(run, ds.x_test[4].numpy()).layer(1), (5, 6), 1)
    assert metric_values(at)["Own weight"] == f"{other[5, 6]:.4f}"
    assert not np.allclose(other, attention_filter(second, (5, 6), 1))


def test_filters_page_shows_a_superpixel_runs_filters_on_a_digit(app):
    from core.analysis.superpixel_filters import load_superpixel_run, superpixel_digit
    from core.data.datasets import load_dataset
    from core.training.runs import RunConfig, execute
    from core.training.store import RunStore

    store = RunStore()
    cfg = RunConfig.make(
        model="superpixel", graph="superpixels", conv="gat", hidden=16, layers=2, heads=4, epochs=1, quick=True
    )
    run_id = execute(cfg, store)["run_id"]
    ds = load_dataset("mnist-5k", quick=True)
    digit = superpixel_digit(load_superpixel_run(run_id, store), ds.x_test[2].numpy())
    at = app.run()
    at.switch_page(FILTERS)
    at.query_params.update({"f_src": "superpixel", "f_digit": "2", "f_row": "14", "f_col": "14"})
    at.run()
    no_errors(at)
    node = digit.node_at((14, 14))
    metrics = metric_values(at)
    assert metrics["Superpixels"] == str(digit.graph.num_nodes)
    assert metrics["Row sum"] == "1.0000"  # attention: a softmax
    assert metrics["Own weight"] == f"{digit.attention.layer(0).row(node).astype(float)[node]:.4f}"
    assert any("return_attention_weights=True" in c.value for c in at.caption)
    charts = at.get("plotly_chart")
    assert len(charts) == 2 and "superpixels of digit #2" in charts[0].proto.spec
    assert "attention, layer 1" in charts[1].proto.spec and "gcn-normalised" in charts[1].proto.spec
    at.selectbox(key="f_splayer").set_value(2).run()
    at.selectbox(key="f_sphead").set_value("3").run()
    no_errors(at)
    assert metric_values(at)["Own weight"] == f"{digit.attention.layer(1).row(node, 2)[node]:.4f}"
    # a superpixel GCN run: its row of the gcn-normalised adjacency, said so
    gcn_id = _stored_untrained(
        store,
        RunConfig.make(model="superpixel", graph="superpixels", conv="gcn", hidden=16, layers=2, epochs=1, quick=True),
    )
    at.run()  # the new run joins the list
    at.selectbox(key="f_sprun").set_value(gcn_id).run()
    no_errors(at)
    assert any("exactly what GCNConv applies" in c.value for c in at.caption)
    assert "f_splayer" not in [s.key for s in at.selectbox]  # the same matrix in every layer
    assert len(at.get("plotly_chart")) == 2


def _opened(params: dict):
    """A fresh session (its own widget state) on the Filters page, opened with link ``params``."""
    from streamlit.testing.v1 import AppTest

    from tests.ui.ui_helpers import APP

    at = AppTest.from_file(APP, default_timeout=180).run()
    at.switch_page(FILTERS)
    at.query_params.update(params)
    return at.run()


def test_filters_page_refuses_links_to_runs_it_cannot_show(app, tmp_path):
    from core.training.runs import RunConfig
    from core.training.store import RunStore

    store = RunStore()
    gat_id = _stored_untrained(store, RunConfig.make(model="gat", hidden=8, layers=1, heads=2, epochs=1, quick=True))
    cheb_id = _stored_untrained(store, RunConfig.make(model="cheb", hidden=8, layers=1, epochs=1, quick=True))
    gone_id = store.create_run(RunConfig.make(model="gat", epochs=1, quick=True).to_dict(), name="gat")
    store.finish(gone_id, {"test_accuracy": 0.5}, checkpoint=str(tmp_path / "gone.pt"))
    for bad, why in (
        (cheb_id, f"run {cheb_id} is a 'cheb' run, not a GAT run"),
        (gone_id, "does not exist (moved or deleted?)"),
        (999, "there is no run 999"),
    ):
        at = _opened({"f_src": "gat", "f_grun": str(bad)})
        no_errors(at)
        notice = " ".join(w.value for w in at.warning)
        assert f"f_grun={bad}" in notice and plain(why) in notice, notice  # the reason quoted inert
        assert at.selectbox(key="f_grun").value == gat_id  # the newest GAT run with weights instead
        assert metric_values(at)["Attention sum"] == "1.0000"
    # a GAT run's id on the superpixel view: a notice, and the info with the link to train one
    at = _opened({"f_src": "superpixel", "f_sprun": str(gat_id)})
    assert not at.exception and not at.error
    assert plain(f"run {gat_id} is a 'gat' run, not a superpixel run") in " ".join(w.value for w in at.warning)
    assert at.get("page_link")[0].proto.query_string == "model=superpixel&conv=gat"
    # a corrupt checkpoint: one clear error, no traceback
    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"definitely not torch weights" * 8)
    broken = store.create_run(RunConfig.make(model="gat", epochs=1, quick=True).to_dict(), name="gat")
    store.finish(broken, {"test_accuracy": 0.5}, checkpoint=str(bad))
    at = _opened({"f_src": "gat", "f_grun": str(broken)})
    assert not at.exception
    assert len(at.error) == 1 and f"Cannot read run {broken}'s attention" in at.error[0].value
    assert "corrupt" in at.error[0].value and "Traceback" not in at.error[0].value
    assert not at.get("plotly_chart")
