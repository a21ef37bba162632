"""The sweep launcher on the Compare page trains real runs in the background and plots them."""

from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]


def test_launch_sweep_and_plot(monkeypatch):
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("GRAPHCONV_QUICK", "1")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    at.switch_page("app_pages/compare.py").run()
    assert not at.exception
    at.selectbox(key="sw_model").set_value("mlp").run()
    at.slider(key="sw_epochs").set_value(1).run()
    at.selectbox(key="sw_param").set_value("seed").run()
    assert at.text_input(key="sw_values").value == "0, 1, 2"  # the seed's default values
    at.text_input(key="sw_values").set_value("0, 1").run()
    at.selectbox(key="sw_param2").set_value("hidden").run()  # a 2 x 2 grid
    assert at.text_input(key="sw_values").value == "0, 1"  # choosing a second setting keeps the first's values
    at.text_input(key="sw_values2").set_value("8, 16").run()
    next(b for b in at.button if b.label == "Launch sweep").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    shown = at.session_state["sweep"]  # the sweep's group id
    assert at.query_params["sw_show"] in (shown, [shown])  # a copied link shows this sweep
    assert at.selectbox(key="sw_show").value == shown
    from ui.resources import manager

    group = manager().store.get_group(shown)
    assert (group.type, group.params) == ("sweep", ("seed", "hidden"))
    ids = [r["id"] for r in manager().store.list_runs(group=shown)]
    assert len(ids) == 4
    configs = [manager().store.get_run(i)["config"] for i in ids]
    assert sorted((c["seed"], c["hidden"]) for c in configs) == [(0, 8), (0, 16), (1, 8), (1, 16)]
    for run_id in ids:
        assert manager().wait(run_id, timeout=180)["state"] == "finished"
    at.run()
    assert not at.exception
    name = "Sweep of random seed (seed) over 0, 1 × hidden channels (hidden) over 8, 16 · MLP, 1\u00a0epoch"
    assert any(m.value == f"**{name}**: 4 of 4 runs finished." for m in at.markdown), [m.value for m in at.markdown]
    chart = at.get("plotly_chart")[0]
    spec = chart.proto.spec  # one line per hidden width, the settings named as the launcher names them
    assert "Hidden channels (hidden) = 8" in spec and "Hidden channels (hidden) = 16" in spec
    assert '"text":"Random seed (seed)"' in spec  # the axis


def test_a_stored_sweep_reopens_from_a_link(monkeypatch):
    """A sweep trained elsewhere (here: as the CLI stores one) is found in the store and plotted from the link."""
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("GRAPHCONV_QUICK", "1")
    from core.training.runs import RunConfig, execute
    from core.training.store import RunStore
    from core.training.sweep import grid_configs, new_sweep_group, sweep_params

    store = RunStore()
    group = new_sweep_group("seed", "data")
    assert sweep_params(group) == ("seed", "data")
    kind = group.id  # what the link carries
    for cfg in grid_configs(
        RunConfig.make(model="mlp", hidden=8, epochs=1, quick=True), "seed", [0, 1], "data", ["mnist-5k", "mnist-rot"]
    ):
        run_id = store.create_run(cfg.to_dict(), name=cfg.label(), group=group)
        execute(cfg, store, run_id=run_id)
    older = "sweep:123"  # an older sweep's id names nothing: its settings are read from how its runs differ
    assert sweep_params(older, [r["config"] for r in store.list_runs(group=kind)]) == ("seed", "data")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params["sw_show"] = kind
    at.run()
    at.switch_page("app_pages/compare.py")
    at.query_params["sw_show"] = kind
    at.run()
    assert not at.exception and not at.error
    name = "Sweep of random seed (seed) over 0, 1 × data set (data) over mnist-5k, mnist-rot · MLP, 1\u00a0epoch"
    assert any(m.value == f"**{name}**: 4 of 4 runs finished." for m in at.markdown), [m.value for m in at.markdown]
    assert at.selectbox(key="sw_show").value == kind
    first = min(r["id"] for r in store.list_runs(group=kind))
    assert f"{name} · 4 runs, #{first}–#{first + 3}" in at.selectbox(key="sw_show").options  # not "runs from #3 (2)"
    spec = at.get("plotly_chart")[0].proto.spec
    assert "Data set (data) = mnist-5k" in spec and "Data set (data) = mnist-rot" in spec  # one line per data set


def test_the_sweep_launcher_lists_settings_by_label_and_reopens_from_a_link(monkeypatch):
    """The settings read as labels (k and K no longer look alike) while the link keeps their keys; a link's values
    fill the launcher, another setting starts from its own default values, and a bad value gets a notice."""
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("GRAPHCONV_QUICK", "1")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    at.switch_page("app_pages/compare.py")
    at.query_params.update(
        {
            "sw_model": "cheb",
            "sw_graph": "knn",
            "sw_param": "k",
            "sw_values": "4, 12",
            "sw_param2": "K",
            "sw_values2": "1, 2",
            "sw_epochs": "2",
        }
    )
    at.run()
    assert not at.exception and not at.error and not at.warning, [w.value for w in at.warning]
    param = at.selectbox(key="sw_param")
    assert "k-NN neighbours (k)" in param.options and "Chebyshev order (K)" in param.options
    assert not {"k", "K", "sigma", "lr"} & set(param.options)  # labels, not keys
    assert param.value == "k" and at.query_params["sw_param"] in ("k", ["k"])  # the link keeps the short key
    assert at.selectbox(key="sw_param2").value == "K" and at.text_input(key="sw_values2").value == "1, 2"
    assert at.text_input(key="sw_values").value == "4, 12" and at.slider(key="sw_epochs").value == 2
    at.selectbox(key="sw_param").set_value("sigma").run()
    assert at.text_input(key="sw_values").value == "0.02, 0.05, 0.1, 0.2"  # sigma's values, not k's
    assert "sw_values" not in at.query_params  # the default is not written into the link
    assert at.text_input(key="sw_values2").value == "1, 2"  # the second setting did not change
    at.selectbox(key="sw_param").set_value("K").run()  # the second setting's: the sweep is over one setting again
    assert at.selectbox(key="sw_param2").value == "none" and not at.warning and not at.exception
    assert at.text_input(key="sw_values").value == "1, 2, 3, 5, 10"

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    at.switch_page("app_pages/compare.py")
    at.query_params.update({"sw_param": "kk", "sw_show": "sweep:1:nothing", "sw_values": "x" * 300})
    at.run()
    assert not at.exception and not at.error
    notes = " ".join(w.value for w in at.warning)
    assert "sw_param=kk (" in notes and "sw_show=sweep\\:1\\:nothing (" in notes and "sw_values=xxx" in notes, notes
    assert at.selectbox(key="sw_param").value == "K" and len(at.text_input(key="sw_values").value) <= 200


def test_launch_a_search_without_ray_says_so_and_stops_from_the_page(monkeypatch):
    """On worker processes a search has no early stopping and the page says so; its trials are stored runs that
    the page lists, and Stop ends the ones still queued or training."""
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("GRAPHCONV_QUICK", "1")
    monkeypatch.setenv("GRAPHCONV_MAX_RUNS", "1")  # one trains, the others wait in the queue
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    at.switch_page("app_pages/compare.py").run()
    assert any("No early stopping here" in c.value for c in at.caption)
    at.selectbox(key="se_model").set_value("mlp").run()
    at.slider(key="se_epochs").set_value(30).run()
    at.text_input(key="se_space").set_value("lr=0.0001..0.01; hidden=8,16").run()
    at.slider(key="se_trials").set_value(3).run()
    next(b for b in at.button if b.label == "Launch search").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    group = at.session_state["search"]
    assert group.id.startswith("search:") and group.id.endswith(":full:lr:hidden")  # ids keep the old spelling
    assert (group.type, group.params, group.early_stopping) == ("search", ("lr", "hidden"), False)
    from ui.resources import manager

    stored = manager().store.get_group(group.id)
    assert (stored.type, stored.params, stored.early_stopping) == ("search", ("lr", "hidden"), False)
    trials = manager().store.list_runs(group=group.id)
    assert len(trials) == 3 and all(1e-4 <= r["config"]["lr"] <= 1e-2 for r in trials)
    assert any("3 trials over" in m.value and "No early stopping" in m.value for m in at.markdown)
    stop = next(b for b in at.button if b.label.startswith("Stop this search"))
    stop.click().run()
    assert not at.exception
    for r in trials:
        assert manager().wait(r["id"], timeout=120)["state"] == "stopped"
    at.run()
    assert not any(b.label.startswith("Stop this search") for b in at.button)
    assert any("3 ended" in m.value for m in at.markdown)


def test_links_written_before_groups_were_stored_open_the_same_sweep_and_search(monkeypatch):
    """A data folder from the version that packed groups into a run's kind (schema 2) and links from then
    (``sw_show=sweep:<ms>:<param>``, ``se_show=search:...``): the page shows the same sweep and search."""
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("GRAPHCONV_QUICK", "1")
    from core.config import data_dir
    from core.training.runs import RunConfig
    from core.training.sweep import grid_configs
    from tests.core.training.old_store import write_schema_2

    sweep, search = "sweep:1700000000000:seed", "search:1700000000100:asha:lr"
    configs = grid_configs(RunConfig.make(model="mlp", hidden=8, epochs=1, quick=True), "seed", [0, 1])
    runs = [(sweep, c.label(), c.to_dict(), {"test_accuracy": 0.5 + c.training.seed / 10}) for c in configs]
    runs += [
        (search, c.label(), c.to_dict(), {"test_accuracy": 0.6})
        for c in (RunConfig.make(model="mlp", lr=lr, epochs=1, quick=True) for lr in (0.001, 0.01))
    ]
    write_schema_2(data_dir() / "runs.db", runs)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params.update({"sw_show": sweep, "se_show": search})
    at.run()
    at.switch_page("app_pages/compare.py")
    at.query_params.update({"sw_show": sweep, "se_show": search})
    at.run()
    assert not at.exception and not at.error and not at.warning, [w.value for w in at.warning]
    name = "Sweep of random seed (seed) over 0, 1 · MLP, 1\u00a0epoch"
    assert any(m.value == f"**{name}**: 2 of 2 runs finished." for m in at.markdown), [m.value for m in at.markdown]
    assert at.selectbox(key="sw_show").value == sweep and at.selectbox(key="se_show").value == search
    assert any(
        m.value.startswith("**2 trials over** learning rate (lr): 2 ended (0 stopped early by ASHA)")
        for m in at.markdown
    ), [m.value for m in at.markdown]
