"""AppTest smoke tests: every page renders on real data with no exception, and reacts to its widgets."""

import pytest

from tests.ui.ui_helpers import no_errors, open_page
from ui.display import plain

GRAPH_BUILDER = "app_pages/graph_builder.py"


def test_the_start_page_names_three_steps_and_links_each(app):
    at = app.run()
    no_errors(at)
    assert at.title[0].value == "GraphConv Lab"
    steps = [s.value for s in at.subheader]
    assert [s.split(" · ")[0] for s in steps[:3]] == ["1", "2", "3"]
    links = {link.proto.page for link in at.get("page_link")}
    assert {"graph", "train", "playground"} <= {p.strip("/").split("?")[0] for p in links}


def test_graph_builder_is_reached_by_old_links_to_the_root(app):
    app.query_params.update({"kind": "grid"})
    at = app.run()
    no_errors(at)
    assert at.title[0].value.endswith("Graph Builder")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Nodes"] == "784"
    assert metrics["Directed edges"] == "5,940"  # 8-neighbour grid on 28 x 28


@pytest.mark.parametrize(
    "kind, nodes", [("grid", 784), ("knn", 784), ("gaussian", 784), ("superpixels", None), ("complete", 784)]
)
def test_graph_builder_every_kind(app, kind, nodes):
    at = open_page(app, GRAPH_BUILDER)
    at.radio(key="kind").set_value(kind).run()
    no_errors(at)
    metrics = {m.label: m.value for m in at.metric}
    if nodes:
        assert metrics["Nodes"] == f"{nodes:,}"
    else:
        assert 20 <= int(metrics["Nodes"]) <= 200  # SLIC on a real digit
    # graph over digit, filter, degrees; with Gaussian weights the kernel's profile too (weight against distance)
    assert len(at.get("plotly_chart")) == 3 + (kind == "gaussian")


def test_graph_builder_slider_changes_graph(app):
    at = open_page(app, GRAPH_BUILDER)
    at.radio(key="grid_neighbours").set_value(4).run()
    no_errors(at)
    assert {m.label: m.value for m in at.metric}["Directed edges"] == "3,024"  # 2 * 2 * 28 * 27


def test_graph_builder_at_the_largest_k_renders(app):
    at = open_page(app, GRAPH_BUILDER)
    at.radio(key="kind").set_value("knn").run()
    at.slider(key="knn_k").set_value(64).run()
    no_errors(at)


def test_train_page_runs_a_quick_training(app):
    at = app.run()
    at.switch_page("app_pages/train.py").run()
    no_errors(at)
    assert at.title[0].value.endswith("Train")
    at.selectbox(key="model").set_value("mlp").run()
    at.slider(key="epochs").set_value(1).run()
    at.radio(key="schedule").set_value("cosine").run()
    at.radio(key="augment").set_value("rotate").run()
    at.button[0].click().run()  # Start
    no_errors(at)
    run_id = at.session_state["run_id"]
    from ui.resources import manager, store

    snap = manager().wait(run_id, timeout=120)
    assert snap["state"] == "finished", snap
    config = store().get_run(run_id)["config"]
    assert (config["model"], config["schedule"], config["augment"], config["epochs"]) == ("mlp", "cosine", "rotate", 1)
    at.run()
    no_errors(at)
    finished = next(s.value for s in at.success if "Finished: test accuracy" in s.value)
    assert "At full length this model reaches 93.1%" in finished  # the accuracy table's mlp figure, for context
    links = {link.proto.label: link.proto.query_string for link in at.get("page_link")}
    assert f"run={run_id}" in links["Results"] and f"pg_runs={run_id}" in links["Playground"]
    assert "Spectral view" not in links  # only a ChebNet has a frequency response


def test_a_row_of_the_runs_table_opens_its_run(app):
    from core.training.runs import RunConfig, execute

    first = execute(RunConfig.make(model="mlp", hidden=8, epochs=1, quick=True))["run_id"]
    execute(RunConfig.make(model="cheb", hidden=8, epochs=1, quick=True))  # the newest: the table's first row
    at = app.run()
    at.switch_page("app_pages/train.py").run()
    assert not at.subheader or not any(s.value.startswith("Run ") for s in at.subheader)
    at.session_state["runs_table"] = {"selection": {"rows": [1], "columns": [], "cells": []}}  # newest first: #first
    at.run()
    no_errors(at)
    assert at.query_params["run"] in ([str(first)], str(first))
    assert any(s.value.startswith(f"Run {first} · MLP") for s in at.subheader)  # named from its config
    links = {link.proto.label: link.proto.query_string for link in at.get("page_link")}
    assert f"run={first}" in links["Results"]


def test_train_page_trains_the_tutorial_model(app):
    at = app.run()
    at.switch_page("app_pages/train.py").run()
    at.selectbox(key="model").set_value("tutorial").run()
    no_errors(at)
    assert at.radio(key="adjacency").value == "gaussian"
    assert "hidden" not in [s.key for s in at.select_slider]  # one layer + linear: nothing to size
    at.radio(key="adjacency").set_value("learned-offset").run()
    at.slider(key="epochs").set_value(1).run()
    at.button[0].click().run()  # Start
    no_errors(at)
    from ui.resources import manager, store

    snap = manager().wait(at.session_state["run_id"], timeout=180)
    assert snap["state"] == "finished", snap
    row = store().get_run(at.session_state["run_id"])
    assert (row["config"]["model"], row["config"]["adjacency"], row["name"]) == (
        "tutorial",
        "learned-offset",
        "One graph layer + linear, learned-offset adjacency",
    )


def test_train_page_superpixel_layers_and_budget_width(app):
    at = app.run()
    at.switch_page("app_pages/train.py").run()
    at.selectbox(key="model").set_value("superpixel").run()
    no_errors(at)
    from core.models.superpixel_net import SUPERPIXEL_TITLES, budget_width

    convs = ["gcn", "gat", "gin", "sage", "gatedgcn", "monet", "pna", "cheb"]
    assert at.selectbox(key="conv").options == [SUPERPIXEL_TITLES[c] for c in convs]  # shown by name, keyed by key
    assert at.select_slider(key="sp_hidden").value == 0
    assert any(f"auto: {budget_width('gcn', at.slider(key='layers').value)} channels" in c.value for c in at.caption)
    assert at.radio(key="schedule").value == "plateau"
    assert at.select_slider(key="lr").value == 1e-3
    assert at.radio(key="positions").value == "fourier" and at.radio(key="positions").options == ["fourier", "raw"]
    from streamlit.testing.v1 import AppTest

    from tests.ui.ui_helpers import APP  # a fresh session: a shared link reopens the raw-position recipe

    linked = AppTest.from_file(APP, default_timeout=180).run()
    linked.switch_page("app_pages/train.py")
    linked.query_params.update({"model": "superpixel", "positions": "raw"})
    linked.run()
    no_errors(linked)
    assert linked.radio(key="positions").value == "raw"
    at.selectbox(key="conv").set_value("gatedgcn").run()
    no_errors(at)
    at.selectbox(key="model").set_value("cheb").run()  # back to a pixel model: its own defaults again
    assert (at.select_slider(key="hidden").value, at.radio(key="schedule").value) == (32, "constant")
    assert at.select_slider(key="lr").value == 3e-3


def test_train_page_group_schedule_and_an_invalid_one(app):
    at = app.run()
    at.switch_page("app_pages/train.py").run()
    at.selectbox(key="model").set_value("escnn").run()
    at.text_input(key="schedule_groups").input("C4,D4,C4").run()
    no_errors(at)
    assert any(c.value.startswith("The schedule sets 3 blocks") for c in at.caption)
    at.button[0].click().run()  # Start: refused with one clear message, nothing stored
    assert [e.value for e in at.error] == [
        "Invalid setting — "
        + plain(  # quoted inert: it quotes what was typed
            "group: D4 is not a subgroup of C4 in the schedule C4,D4,C4: each block's group must be "
            "a subgroup of the one before (e.g. D16,D16,C16 or C8,C4,C1)"
        )
    ]
    assert "run_id" not in at.session_state
    at.text_input(key="schedule_groups").input("d4,d4,c4").run()  # case-insensitive, a valid schedule
    no_errors(at)


def test_shared_link_reopens_graph_configuration(app):
    from core.graphs import build_graph

    app.query_params.update({"kind": "knn", "knn_k": "12", "digit": "5", "norm": "rw"})
    at = app.run()
    no_errors(at)
    assert not at.warning
    assert at.radio(key="kind").value == "knn"
    assert at.slider(key="digit").value == 5
    assert {m.label: m.value for m in at.metric}["Directed edges"] == f"{build_graph('knn', k=12).num_edges:,}"


@pytest.mark.parametrize(
    "params, bad",
    [
        ({"digit": "99999"}, "digit=99999"),
        ({"kind": "hexagons"}, "kind=hexagons"),
        ({"kind": "knn", "knn_k": "abc"}, "knn_k=abc"),
        (
            {"kind": "gaussian", "gaussian_sigma": "-1"},
            "gaussian_sigma=" + plain("-1"),
        ),  # quoted inert (ui.display.plain)
    ],
)
def test_invalid_link_values_fall_back_with_notice(app, params, bad):
    app.query_params.update(params)
    at = app.run()
    no_errors(at)
    assert any(bad in w.value for w in at.warning), [w.value for w in at.warning]
    assert {m.label: m.value for m in at.metric}["Nodes"]  # the page still renders with defaults


def test_train_page_link_with_invalid_values(app):
    at = app.run()
    at.switch_page("app_pages/train.py")
    at.query_params.update({"model": "nope", "epochs": "1000", "lr": "0.003"})
    at.run()
    no_errors(at)
    text = " ".join(w.value for w in at.warning)
    assert "model=nope" in text and "epochs=1000" in text and "lr=" not in text  # lr=0.003 is valid
    assert at.selectbox(key="model").value == "cheb"


def test_train_page_in_quick_mode_says_so_and_trains_fewer_epochs(app):
    from core.config import QUICK_EPOCHS

    at = app.run()
    at.switch_page("app_pages/train.py").run()
    no_errors(at)
    assert any("Quick mode" in i.value for i in at.info)
    assert at.slider(key="epochs").value == QUICK_EPOCHS < 8


def test_train_page_full_mode_has_no_quick_banner(app, monkeypatch):
    monkeypatch.setenv("GRAPHCONV_QUICK", "0")
    at = app.run()
    at.switch_page("app_pages/train.py").run()
    no_errors(at)
    assert not any("Quick mode" in i.value for i in at.info)
    assert at.slider(key="epochs").value == 8


def test_a_run_of_another_session_is_read_only(app):
    """A shared link carries run=N: the visitor watches that run, but cannot stop it."""
    from core.training.runs import RunConfig
    from ui.resources import manager

    run_id = manager().submit(
        RunConfig.make(model="mlp", hidden=16, epochs=300, quick=True, device="cpu"), session="the-owner"
    )
    try:
        app.query_params["run"] = str(run_id)
        at = app.run()
        at.switch_page("app_pages/train.py").run()
        no_errors(at)
        stop = next(b for b in at.button if b.label == "Stop")
        assert stop.disabled
        assert any("Started in another session" in c.value for c in at.caption)
        assert manager().live(run_id)["state"] in ("queued", "running")
    finally:
        assert manager().stop(run_id, session="the-owner")
        assert manager().wait(run_id, timeout=60)["state"] == "stopped"


def test_a_worker_started_while_a_page_runs_does_not_run_the_app():
    """While a page runs, Streamlit makes app.py the process's ``__main__``, so multiprocessing prepares every training
    or job worker started then by running app.py as ``__mp_main__`` (``spawn.prepare``, as here). It must do nothing
    there: no Streamlit import, no Streamlit call without a session (each wrote "missing ScriptRunContext" lines into
    the server's log), no second forkserver started from the worker."""
    import subprocess
    import sys

    from tests.ui.ui_helpers import ROOT

    probe = (
        "import multiprocessing.spawn as spawn, os, sys\n"
        f"spawn.prepare({{'init_main_from_path': {str(ROOT / 'app.py')!r}}})\n"
        "children = open(f'/proc/{os.getpid()}/task/{os.getpid()}/children').read().split()\n"
        "print('streamlit' in sys.modules, sys.modules['__mp_main__'].__file__.endswith('app.py'), children)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**__import__("os").environ, "GRAPHCONV_QUICK": "1"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False True []", done.stdout  # app.py was run, and did nothing
    assert not done.stderr.strip(), done.stderr  # no warning of any kind


def test_a_page_opened_from_the_sidebar_starts_from_its_own_defaults(app):
    """Pages share their settings' keys ("data", "digit", "seed"); a value set on one page does not carry over to
    another opened from the sidebar (Streamlit keeps a URL-bound widget's value by key across a page switch), while a
    link that names a value still opens with it."""
    at = open_page(app, "app_pages/train.py")
    at.sidebar.selectbox(key="data").set_value("mnist-rot").run()
    at.number_input(key="seed").set_value(3).run()
    assert (at.sidebar.selectbox(key="data").value, at.number_input(key="seed").value) == ("mnist-rot", 3)
    at.switch_page(GRAPH_BUILDER).run()
    no_errors(at)
    assert (at.sidebar.selectbox(key="data").value, at.sidebar.slider(key="digit").value) == ("mnist-5k", 0)
    at.sidebar.slider(key="digit").set_value(4).run()
    at.switch_page("app_pages/train.py").run()
    no_errors(at)
    assert (at.sidebar.selectbox(key="data").value, at.number_input(key="seed").value) == ("mnist-5k", 0)
    at.switch_page(GRAPH_BUILDER)  # a link naming values, in the same session (Streamlit drops a link's value for a
    at.query_params.update({"kind": "knn", "digit": "4"})  # key the page left binds: Train's "data" would be dropped)
    at.run()
    no_errors(at)
    assert (at.sidebar.radio(key="kind").value, at.sidebar.slider(key="digit").value) == ("knn", 4)
    assert at.sidebar.selectbox(key="data").value == "mnist-5k"
