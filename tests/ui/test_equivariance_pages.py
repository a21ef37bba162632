"""AppTest smoke tests of the Equivariance and Groups pages: no runs, one quick stored run, shared links."""

from ui_helpers import metric_values, no_errors, open_page

EQUIVARIANCE = "app_pages/equivariance.py"
GROUPS = "app_pages/groups.py"


def test_equivariance_page_without_runs_offers_training(app):
    at = open_page(app, EQUIVARIANCE)
    no_errors(at)
    assert at.title[0].value == "Equivariance"
    assert any("No finished runs" in i.value for i in at.info), [i.value for i in at.info]
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
    from ui.common import manager  # the manager of this test's data folder

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
