"""AppTest smoke tests of the Equivariance and Groups pages: no runs, one quick stored run, shared links."""

from ui_helpers import metric_values, no_errors, open_page

EQUIVARIANCE = "app_pages/equivariance.py"
GROUPS = "app_pages/groups.py"


def test_equivariance_page_without_runs_offers_training(app):
    at = open_page(app, EQUIVARIANCE)
    no_errors(at)
    assert at.title[0].value == "Equivariance"
    assert any("No finished runs" in i.value for i in at.info), [i.value for i in at.info]
    assert [(p.proto.label, "train" in p.proto.page) for p in at.get("page_link")] == [("Train", True)]
    labels = [b.label for b in at.button]
    assert "Train CNN, ChebNet and escnn C8 on mnist-5k" in labels, labels
    at.selectbox(key="group").set_value("D4").run()
    at.radio(key="trio_data").set_value("mnist-rot").run()
    no_errors(at)
    assert "Train CNN, ChebNet and escnn D4 on mnist-rot" in [b.label for b in at.button]


def test_equivariance_page_measures_a_stored_run(app):
    from core.training.runs import RunConfig, execute

    run_id = execute(RunConfig(model="cnn", hidden=8, epochs=1, quick=True))["run_id"]
    at = open_page(app, EQUIVARIANCE)
    no_errors(at)
    at.selectbox(key="group").set_value("C4").run()
    runs = at.multiselect(key="runs")
    (label,) = runs.options
    assert label.startswith(f"#{run_id} cnn")
    runs.select(label).run()
    no_errors(at)
    at.button(key="measure").click().run()
    no_errors(at)
    charts = at.get("plotly_chart")
    assert len(charts) == 3, len(charts)  # accuracy vs angle, per-layer heatmap, feature maps
    table = at.dataframe[0].value
    assert list(table["element"]) == ["r0", "r90", "r180", "r270"]
    assert set(table["grid"]) == {"exact"}
    assert table.iloc[0, 2] == 0.0  # identity moves nothing
    assert any("Relative difference" in c.value for c in at.caption)

    at.selectbox(key="group").set_value("D4").run()  # a new group: measured again on demand
    no_errors(at)
    at.button(key="measure").click().run()
    no_errors(at)
    at.selectbox(key="element").set_value("f r90").run()
    no_errors(at)
    assert len(at.dataframe[0].value) == 8


def test_groups_page_default_is_c4(app):
    at = open_page(app, GROUPS)
    no_errors(at)
    assert at.title[0].value == "Groups"
    assert at.selectbox(key="element").value == "r90"
    m = metric_values(at)
    assert m["|G|"] == "4" and m["Order of r90"] == "4" and m["Inverse"] == "r270"
    assert len(at.get("plotly_chart")) == 7  # irreps, regular rep, permutation, digit, 3 fields


def test_groups_page_d4_with_a_mirror(app):
    at = open_page(app, GROUPS)
    at.radio(key="family").set_value("D").run()
    at.selectbox(key="element").set_value("f r90").run()
    no_errors(at)
    m = metric_values(at)
    assert m["|G|"] == "8" and m["Order of f r90"] == "2" and m["Inverse"] == "f r90"
    assert m["On the pixel grid"] == "exact"
    assert any("(r0 → f r90 → r0)" in md.value for md in at.markdown)
    assert len(at.get("plotly_chart")) == 7
    assert any("relative difference 0" in c.value or "e-0" in c.value for c in at.caption)


def test_groups_page_keeps_a_valid_element_when_n_changes(app):
    at = open_page(app, GROUPS)
    at.slider(key="n").set_value(3).run()  # r90 is not in C3
    no_errors(at)
    assert at.selectbox(key="element").value == "r120"
    assert metric_values(at)["On the pixel grid"] == "interpolated"


def test_groups_page_opens_a_shared_link(app):
    app.query_params.update({"family": "D", "n": "8", "element": "f r45"})
    at = open_page(app, GROUPS)
    at.query_params.update({"family": "D", "n": "8", "element": "f r45"})
    at.run()
    no_errors(at)
    assert at.selectbox(key="element").value == "f r45"
    assert metric_values(at)["|G|"] == "16"


def test_equivariance_page_trains_a_trio_and_selects_it(app):
    at = open_page(app, EQUIVARIANCE)
    at.selectbox(key="group").set_value("C1").run()  # the smallest escnn net keeps this quick
    at.slider(key="trio_epochs").set_value(1).run()
    at.button(key="train_trio").click().run()
    no_errors(at)
    ids = at.session_state["eq_trio"]
    assert len(ids) == 3
    from ui.resources import manager  # the manager of this test's data folder

    for run_id in ids:
        assert manager().wait(run_id, timeout=300)["state"] == "finished"
    at.run()  # the progress panel sees the trio done and selects it
    no_errors(at)
    selected = at.multiselect(key="runs").value
    assert [s.split(" ")[0] for s in selected] == [f"#{i}" for i in sorted(ids, reverse=True)]
    assert {s.split(" ")[1] for s in selected} == {"cnn", "cheb", "escnn"}
    at.button(key="measure").click().run()
    no_errors(at)
    assert len(at.dataframe[0].value.columns) == 2 + 3  # element, grid, one column per run


def test_equivariance_page_shows_where_a_group_schedule_restricts(app):
    """A D4,D4,C4 net: per-layer errors exact for every D4 element up to the restriction, flips lost after it."""
    import torch

    from core.training.runs import RunConfig, build_everything
    from core.training.store import RunStore, checkpoint_path, save_checkpoint

    store = RunStore()
    cfg = RunConfig(model="escnn", group="D4,D4,C4", hidden=4, quick=True)
    torch.manual_seed(0)
    model = build_everything(cfg)[3].eval()
    run_id = store.create_run(cfg.to_dict(), name=cfg.label())
    store.finish(run_id, {"test_accuracy": 0.1}, checkpoint=str(save_checkpoint(model.state_dict(),
                                                                                checkpoint_path(run_id))))
    at = open_page(app, EQUIVARIANCE)
    at.selectbox(key="group").set_value("D4").run()
    runs = at.multiselect(key="runs")
    (label,) = runs.options
    assert "D4,D4,C4" in label
    runs.select(label).run()
    at.button(key="measure").click().run()
    no_errors(at)
    assert any("group schedule is D4,D4,C4" in c.value for c in at.caption)
    import json

    spec = json.loads(at.get("plotly_chart")[1].proto.spec)
    layers, elements = spec["layout"]["yaxis"]["ticktext"], spec["layout"]["xaxis"]["ticktext"]
    z = plotly_array(spec["data"][0]["z"])  # (layers, elements) log10 of the error
    cut = next(i for i, name in enumerate(layers) if "RestrictionModule" in name)
    flips = [j for j, e in enumerate(elements) if e.startswith("f ")]
    assert len(flips) == 4 and 0 < cut < len(layers) - 1
    assert (z[:cut + 1, flips] < -5).all()  # < 1e-5 up to and including the restriction
    assert (z[cut + 1:, flips] > -3).all()  # > 1e-3 after it


def plotly_array(value):
    """A plotly JSON array: a nested list, or plotly 6's typed array {"dtype", "bdata", "shape"}."""
    import base64

    import numpy as np

    if isinstance(value, dict):
        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        shape = value.get("shape")
        return flat.reshape([int(n) for n in str(shape).split(",")]) if shape else flat
    return np.asarray(value, dtype=float)


def stored_escnn(group: str = "C8", says: int | None = None) -> int:
    """A finished escnn run with its initial weights (no training); ``says``: its classifier's bias pushed so far
    towards that class that it answers it for every digit."""
    import torch

    from core.training.runs import RunConfig, build_everything
    from core.training.store import RunStore, checkpoint_path, save_checkpoint

    store = RunStore()
    cfg = RunConfig(model="escnn", group=group, hidden=4, layers=2, quick=True)
    torch.manual_seed(0)
    model = build_everything(cfg)[3].eval()
    if says is not None:
        with torch.no_grad():
            model.classifier[-1].bias[says] += 20.0
    run_id = store.create_run(cfg.to_dict(), name=cfg.label())
    store.finish(run_id, {"test_accuracy": 0.1}, checkpoint=str(save_checkpoint(model.state_dict(),
                                                                                checkpoint_path(run_id))))
    return run_id


def test_equivariance_page_preselects_the_newest_cnn_graph_net_and_steerable_net(app):
    from core.training.runs import RunConfig, execute

    old_cnn = execute(RunConfig(model="cnn", hidden=8, epochs=1, quick=True))["run_id"]
    cheb = execute(RunConfig(model="cheb", hidden=8, epochs=1, quick=True))["run_id"]
    cnn = execute(RunConfig(model="cnn", hidden=8, epochs=1, quick=True))["run_id"]
    mlp = execute(RunConfig(model="mlp", hidden=8, epochs=1, quick=True))["run_id"]
    escnn = stored_escnn()
    at = open_page(app, EQUIVARIANCE)
    no_errors(at)
    picked = at.multiselect(key="runs").value
    assert [label.split(" ")[0] for label in picked] == [f"#{escnn}", f"#{cnn}", f"#{cheb}"]  # newest first
    assert {old_cnn, mlp}.isdisjoint(int(label.split(" ")[0][1:]) for label in picked)
    assert at.button(key="measure").label == "Measure 3 runs"
    at.multiselect(key="runs").set_value([]).run()  # unselected by hand: it stays so
    no_errors(at)
    assert at.multiselect(key="runs").value == []

    linked = open_link({"runs": [label for label in picked if label.startswith(f"#{cheb} ")]})
    assert [label.split(" ")[0] for label in linked.multiselect(key="runs").value] == [f"#{cheb}"]  # the link's


def open_link(params: dict):
    """A new session opening the Equivariance page with ``params`` in its link."""
    from streamlit.testing.v1 import AppTest

    from ui_helpers import APP

    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    at.switch_page(EQUIVARIANCE)
    at.query_params.update(params)
    at.run()
    no_errors(at)
    return at


def test_equivariance_page_says_why_an_invariant_net_answering_9_cannot_tell_6_from_9(app):
    escnn = stored_escnn("C8", says=9)
    at = open_page(app, EQUIVARIANCE)
    no_errors(at)
    (label,) = at.multiselect(key="runs").value  # preselected
    assert label.startswith(f"#{escnn} escnn")
    at.button(key="measure").click().run()
    no_errors(at)
    assert any(c.value.startswith(f"Run #{escnn} answers **9** (100%) for test digit #0") for c in at.caption)
    said = [i.value for i in at.info if "cannot tell a 6 from a 9" in i.value]
    assert said == [f"Run #{escnn} (escnn C8) cannot tell a 6 from a 9: a 6 turned by 180° is a 9, so a net that is "
                    "invariant to rotation must give both the same answer."]
    assert any(m.value.startswith("**Per-layer equivariance error") for m in at.markdown)  # the title, on the page


def test_a_run_opened_from_another_page_is_selected_beside_the_newest_of_the_other_kinds(app):
    from core.training.runs import RunConfig, execute

    old_cnn = execute(RunConfig(model="cnn", hidden=8, epochs=1, quick=True))["run_id"]
    cheb = execute(RunConfig(model="cheb", hidden=8, epochs=1, quick=True))["run_id"]
    execute(RunConfig(model="cnn", hidden=8, epochs=1, quick=True))  # newer: the default, but not the one opened
    at = app.run()
    at.switch_page(EQUIVARIANCE)
    at.query_params["eq_open"] = str(old_cnn)  # the Train page's "Equivariance" button
    at.run()
    no_errors(at)
    chosen = at.multiselect(key="runs").value
    assert sorted(c.split(" ")[0] for c in chosen) == sorted([f"#{old_cnn}", f"#{cheb}"])
    assert "eq_open" not in at.query_params  # the selection now lives in `runs`, like a hand-made one
    at.select_slider(key="images").set_value(100).run()  # measure quickly
    at.button(key="measure").click().run()
    no_errors(at)
    assert at.selectbox(key="layer_run").value.startswith(f"#{old_cnn} ")  # "Inside one network": the run opened
    at.query_params["eq_open"] = "999999"
    at.run()
    assert any("eq_open=999999" in w.value for w in at.warning)
