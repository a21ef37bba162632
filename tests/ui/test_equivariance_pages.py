"""AppTest smoke tests of the Equivariance and Groups pages: no runs, one quick stored run, shared links."""

import json

from tests.ui.ui_helpers import metric_values, no_errors, open_page

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

    run_id = execute(RunConfig.make(model="cnn", hidden=8, epochs=1, quick=True))["run_id"]
    at = open_page(app, EQUIVARIANCE)
    no_errors(at)
    at.selectbox(key="group").set_value("C4").run()
    runs = at.multiselect(key="runs")
    assert runs.options == [f"Run {run_id} · CNN · mnist-5k"] and runs.value == [run_id]  # preselected, by its title
    no_errors(at)
    charts = at.get("plotly_chart")
    assert len(charts) == 3, len(charts)  # accuracy vs angle, per-layer heatmap, feature maps
    table = at.dataframe[0].value
    assert list(table["element"]) == ["r0", "r90", "r180", "r270"]
    assert list(table.columns) == ["element", "grid", f"Run {run_id} · CNN"]
    assert set(table["grid"]) == {"exact"}
    assert table.iloc[0, 2] == 0.0  # identity moves nothing
    assert any("Relative difference" in c.value for c in at.caption)
    layers = json.loads(charts[1].proto.spec)["layout"]["yaxis"]["ticktext"]
    assert layers == ["conv 1", "ReLU 1", "pool 1", "conv 2", "ReLU 2", "pool 2"]  # as people say them
    assert any(c.value.startswith("Layer **conv 1**, first 4 channel(s)") for c in at.caption)

    at.selectbox(key="group").set_value("D4").run()  # a new group: measured again at once
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
    assert at.multiselect(key="runs").value == sorted(ids, reverse=True)
    assert at.query_params["runs"] == ",".join(map(str, sorted(ids, reverse=True)))
    no_errors(at)
    assert len(at.dataframe[0].value.columns) == 2 + 3  # element, grid, one column per run


def test_equivariance_page_shows_where_a_group_schedule_restricts(app):
    """A D4,D4,C4 net: per-layer errors exact for every D4 element up to the restriction, flips lost after it."""
    import torch

    from core.training.runs import RunConfig, build_everything
    from core.training.store import RunStore, checkpoint_path, save_checkpoint

    store = RunStore()
    cfg = RunConfig.make(model="escnn", group="D4,D4,C4", hidden=4, quick=True)
    torch.manual_seed(0)
    model = build_everything(cfg)[3].eval()
    run_id = store.create_run(cfg.to_dict(), name=cfg.label())
    store.finish(
        run_id, {"test_accuracy": 0.1}, checkpoint=str(save_checkpoint(model.state_dict(), checkpoint_path(run_id)))
    )
    at = open_page(app, EQUIVARIANCE)
    at.selectbox(key="group").set_value("D4").run()
    runs = at.multiselect(key="runs")
    assert runs.options == [f"Run {run_id} · Steerable CNN D4,D4,C4 · mnist-5k"] and runs.value == [run_id]
    no_errors(at)
    assert any("group schedule is D4,D4,C4" in c.value for c in at.caption)
    spec = json.loads(at.get("plotly_chart")[1].proto.spec)
    layers, elements = spec["layout"]["yaxis"]["ticktext"], spec["layout"]["xaxis"]["ticktext"]
    z = plotly_array(spec["data"][0]["z"])  # (layers, elements) log10 of the error
    cut = layers.index("restriction to C4")
    flips = [j for j, e in enumerate(elements) if e.startswith("f ")]
    assert len(flips) == 4 and 0 < cut < len(layers) - 1
    assert (z[: cut + 1, flips] < -5).all()  # < 1e-5 up to and including the restriction
    assert (z[cut + 1 :, flips] > -3).all()  # > 1e-3 after it


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
    cfg = RunConfig.make(model="escnn", group=group, hidden=4, layers=2, quick=True)
    torch.manual_seed(0)
    model = build_everything(cfg)[3].eval()
    if says is not None:
        with torch.no_grad():
            model.classifier[-1].bias[says] += 20.0
    run_id = store.create_run(cfg.to_dict(), name=cfg.label())
    store.finish(
        run_id, {"test_accuracy": 0.1}, checkpoint=str(save_checkpoint(model.state_dict(), checkpoint_path(run_id)))
    )
    return run_id


def test_equivariance_page_preselects_the_newest_cnn_graph_net_and_steerable_net(app):
    from core.training.runs import RunConfig, execute

    execute(RunConfig.make(model="cnn", hidden=8, epochs=1, quick=True))  # an older CNN: the newer one is preselected
    cheb = execute(RunConfig.make(model="cheb", hidden=8, epochs=1, quick=True))["run_id"]
    cnn = execute(RunConfig.make(model="cnn", hidden=8, epochs=1, quick=True))["run_id"]
    execute(RunConfig.make(model="mlp", hidden=8, epochs=1, quick=True))  # neither a graph net nor a steerable one
    escnn = stored_escnn()
    at = open_page(app, EQUIVARIANCE)
    no_errors(at)
    assert at.multiselect(key="runs").value == [escnn, cnn, cheb]  # newest first
    assert at.query_params["runs"] == f"{escnn},{cnn},{cheb}"  # in the address: Copy link names them
    assert not [b for b in at.button if b.label.startswith("Measure")]  # what it shows is measured: no button
    assert len(at.get("plotly_chart")) == 3 and len(at.dataframe[0].value.columns) == 2 + 3
    at.multiselect(key="runs").set_value([]).run()  # unselected by hand: it stays so
    no_errors(at)
    assert at.multiselect(key="runs").value == [] and at.query_params["runs"] == ""

    linked = open_link({"runs": str(cheb)})
    assert linked.multiselect(key="runs").value == [cheb]  # the link's
    old = open_link({"runs": [f"#{cheb} cheb K=5 on grid(neighbours=8) · mnist-5k"]})  # a link from before run ids
    assert old.multiselect(key="runs").value == [cheb] and old.query_params["runs"] == str(cheb)


def open_link(params: dict):
    """A new session opening the Equivariance page with ``params`` in its link."""
    from streamlit.testing.v1 import AppTest

    from tests.ui.ui_helpers import APP

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
    assert at.multiselect(key="runs").value == [escnn]  # preselected
    no_errors(at)
    assert any(
        c.value.startswith(f"Run {escnn} · Steerable CNN C8 answers **9** (100%) for test digit #0") for c in at.caption
    )
    said = [i.value for i in at.info if "cannot tell a 6 from a 9" in i.value]
    assert said == [
        f"Run {escnn} · Steerable CNN C8 cannot tell a 6 from a 9: a 6 turned by 180° is a 9, so a net that is "
        "invariant to rotation must give both the same answer."
    ]
    assert any(m.value.startswith("**Per-layer equivariance error") for m in at.markdown)  # the title, on the page


def test_a_run_opened_from_another_page_is_selected_beside_the_newest_of_the_other_kinds(app):
    from core.training.runs import RunConfig, execute

    old_cnn = execute(RunConfig.make(model="cnn", hidden=8, epochs=1, quick=True))["run_id"]
    cheb = execute(RunConfig.make(model="cheb", hidden=8, epochs=1, quick=True))["run_id"]
    execute(RunConfig.make(model="cnn", hidden=8, epochs=1, quick=True))  # newer: the default, but not the one opened
    at = app.run()
    at.switch_page(EQUIVARIANCE)
    at.query_params["eq_open"] = str(old_cnn)  # the Train page's "Equivariance" button
    at.run()
    no_errors(at)
    assert at.multiselect(key="runs").value == [cheb, old_cnn]
    assert "eq_open" not in at.query_params  # the selection now lives in `runs`, like a hand-made one
    assert at.query_params["runs"] == f"{cheb},{old_cnn}"
    at.select_slider(key="images").set_value(100).run()
    no_errors(at)
    assert at.selectbox(key="layer_run").value == old_cnn  # "Inside one network": the run opened
    assert at.query_params["layer_run"] == str(old_cnn)
    at.query_params["eq_open"] = "999999"
    at.run()
    assert any("eq_open=999999" in w.value for w in at.warning)


def shown_numbers(at) -> dict:
    """What the measured page shows, as numbers: the accuracy curves (legend name -> accuracies), the logit table, the
    per-layer heatmap (layer names, values) and the one-digit sentences."""
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    curves = {t["name"]: plotly_array(t["y"]).round(6).tolist() for t in charts[0]["data"] if t.get("name")}
    heat = charts[1]["data"][0]
    return {
        "curves": curves,
        "table": at.dataframe[0].value.round(12).to_dict("list"),
        "layers": charts[1]["layout"]["yaxis"]["ticktext"],
        "heat": plotly_array(heat["z"]).round(6).tolist(),
        "said": [c.value for c in at.caption if " answers **" in c.value or c.value.startswith("Layer **")],
    }


def test_a_link_naming_runs_opens_on_their_measurements(app):
    """Opened fresh, a link that names runs shows their measurements at once, with every setting the link holds, and
    the same numbers the sender saw."""
    from core.training.runs import RunConfig, execute

    cnn = execute(RunConfig.make(model="cnn", hidden=8, epochs=1, quick=True))["run_id"]
    escnn = stored_escnn("C4")
    sender = open_page(app, EQUIVARIANCE)
    sender.selectbox(key="group").set_value("C4").run()
    sender.select_slider(key="images").set_value(100).run()
    sender.selectbox(key="element").set_value("r180").run()
    sender.slider(key="digit").set_value(3).run()
    sender.selectbox(key="layer_run").set_value(cnn).run()
    no_errors(sender)
    synced = {k: sender.query_params[k] for k in sender.query_params if k != "run_defs"}  # run ids, never titles
    assert synced == {"runs": f"{escnn},{cnn}", "layer_run": str(cnn)}, synced
    from core.training.linked_runs import decode_defs

    assert set(decode_defs(sender.query_params["run_defs"])) == {escnn, cnn}  # and what they are (issue 32)
    link = {**synced, "group": "C4", "images": "100", "element": "r180", "digit": "3"}  # + the widgets bound to the
    # address (the browser writes those; tests/browser/test_equivariance_link.py copies the real link)

    fresh = open_link(link)
    assert not [b for b in fresh.button if b.label.startswith("Measure")]  # measured on opening
    assert fresh.multiselect(key="runs").value == [escnn, cnn]
    assert (
        fresh.selectbox(key="group").value,
        fresh.select_slider(key="images").value,
        fresh.selectbox(key="element").value,
        fresh.slider(key="digit").value,
        fresh.selectbox(key="layer_run").value,
    ) == ("C4", 100, "r180", 3, cnn)
    assert len(fresh.get("plotly_chart")) == 3
    got, sent = shown_numbers(fresh), shown_numbers(sender)
    assert got == sent
    assert list(got["curves"]) == [f"Run {escnn} · Steerable CNN C4", f"Run {cnn} · CNN"]
    assert got["layers"] == [
        "conv 1",
        "ReLU 1",
        "pool 1",
        "conv 2",
        "ReLU 2",
        "pool 2",
    ]  # "Inside one network": the CNN
    assert got["said"][0].startswith(f"Run {cnn} · CNN answers **") and "for test digit #3" in got["said"][0]
    assert {k: fresh.query_params[k] for k in ("runs", "layer_run")} == synced  # and its own Copy link the same


def test_the_link_holds_run_ids_after_a_selection(app):
    from core.training.runs import RunConfig, execute

    cheb = execute(RunConfig.make(model="cheb", hidden=8, epochs=1, quick=True))["run_id"]
    cnn = execute(RunConfig.make(model="cnn", hidden=8, epochs=1, quick=True))["run_id"]
    at = open_page(app, EQUIVARIANCE)
    assert at.query_params["runs"] == f"{cnn},{cheb}"  # the defaults, in the address as soon as they are shown
    at.multiselect(key="runs").unselect(cnn).run()
    no_errors(at)
    assert at.query_params["runs"] == str(cheb)
    at.multiselect(key="runs").select(cnn).run()
    assert at.query_params["runs"] == f"{cheb},{cnn}"  # ids in the order chosen, never the names shown
    fresh = open_link({"runs": at.query_params["runs"]})
    assert fresh.multiselect(key="runs").value == [cheb, cnn]
    assert fresh.get("plotly_chart") and not [b for b in fresh.button if b.label.startswith("Measure")]

    forged = open_link({"runs": "999999"})  # no such run: a notice, nothing measured, nothing chosen
    assert any("runs=999999" in w.value for w in forged.warning)
    assert forged.multiselect(key="runs").value == [] and not forged.get("plotly_chart")


def test_test_images_says_the_number_measured(app):
    """The "Test images" control offers what the runs' test sets hold, and every sentence says the number it shows:
    a quick run holds 200 test digits (so 200, not 500); a full-size one 1,000 (500, the logit table the first 200)."""
    from core.training.runs import RunConfig, build_everything, execute
    from core.training.store import RunStore, checkpoint_path, save_checkpoint

    quick = execute(RunConfig.make(model="cnn", hidden=8, epochs=1, quick=True))["run_id"]
    at = open_page(app, EQUIVARIANCE)
    images = at.select_slider(key="images")
    assert (images.options, images.value) == (["100", "200"], 200)
    no_errors(at)
    captions = " ".join(c.value for c in at.caption)
    assert "Each of the first 200 test digits" in captions and "averaged over the 200 test digits" in captions
    assert "500" not in captions

    store = RunStore()
    cfg = RunConfig.make(model="cnn", hidden=4)  # full size: mnist-5k's 1,000 test digits; initial weights, no training
    full = store.create_run(cfg.to_dict(), name=cfg.label())
    store.finish(
        full,
        {"test_accuracy": 0.1},
        checkpoint=str(save_checkpoint(build_everything(cfg)[3].state_dict(), checkpoint_path(full))),
    )
    big = open_link({"runs": str(full)})
    images = big.select_slider(key="images")
    assert (images.options, images.value) == (["100", "200", "500"], 500)
    captions = " ".join(c.value for c in big.caption)
    assert "Each of the first 500 test digits" in captions
    assert "averaged over the first 200 of the 500 test digits" in captions
    both = open_link({"runs": f"{full},{quick}"})  # the smaller test set bounds the choice
    assert both.select_slider(key="images").options == ["100", "200"]
