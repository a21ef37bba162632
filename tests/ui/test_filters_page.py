"""AppTest smoke tests of the Filters page: a fixed graph's filters, a stored learned-edge run's, bad links."""

import pytest
from ui_helpers import metric_values, no_errors, open_page

FILTERS = "app_pages/filters.py"


def test_filters_page_fixed_graph_and_no_learned_runs(app):
    from core.analysis.filters import filter_stats, graph_filter
    from core.graphs import build_graph, normalize

    at = open_page(app, FILTERS)
    no_errors(at)
    assert at.title[0].value == "Filters"
    expected = filter_stats(graph_filter(normalize(build_graph("grid", neighbours=8), "rw"), (14, 14)), (14, 14))
    metrics = metric_values(at)
    assert metrics["Row sum"] == f"{expected['sum']:.4f}" == "1.0000"
    assert metrics["Non-zero weights"] == str(expected["support"])
    assert len(at.get("plotly_chart")) == 2  # the pixel's filter and the animation
    assert at.get("download_button")[0].proto.label == "Download GIF"
    assert any("49 frames" in c.value for c in at.caption)  # 7 x 7 pixels at step 4
    at.radio(key="f_kind").set_value("knn").run()
    at.slider(key="f_row").set_value(0).run()
    no_errors(at)
    knn = filter_stats(graph_filter(normalize(build_graph("knn", k=8), "rw"), (0, 14)), (0, 14))
    assert metric_values(at)["Non-zero weights"] == str(knn["support"])
    at.radio(key="f_src").set_value("learned").run()
    no_errors(at)
    assert any("python -m core train --model learned" in i.value for i in at.info), [i.value for i in at.info]
    assert not at.get("plotly_chart")


def test_filters_page_shows_a_stored_learned_run(app):
    from core.analysis.filters import filter_stats, layer_pixel, learned_filter, load_learned_run
    from core.training.runs import RunConfig, execute
    from core.training.store import RunStore

    store = RunStore()
    run_id = execute(RunConfig(model="learned", hidden=8, layers=2, epochs=1, quick=True), store)["run_id"]
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
    cfg = RunConfig(model="learned", hidden=4, layers=2, epochs=1, quick=True, edge_inputs="offset",
                    edge_activation="tanh", edge_norm="none", edge_sets="pair")
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
    run_id = store.create_run(RunConfig(model="learned", epochs=1, quick=True).to_dict(), name="learned")
    store.finish(run_id, {"test_accuracy": 0.5}, checkpoint=str(bad))
    at = app.run()
    at.switch_page(FILTERS)
    at.query_params.update({"f_src": "learned"})
    at.run()
    assert not at.exception
    assert len(at.error) == 1 and f"Cannot read run {run_id}'s filters" in at.error[0].value
    assert "corrupt" in at.error[0].value and "Traceback" not in at.error[0].value
    assert not at.get("plotly_chart")
