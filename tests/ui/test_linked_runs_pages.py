"""Links that carry their runs on the insight pages that read run ids from their links (ui/linked_runs.py): the One
node page (``nd_run``), the Spectral view (``s_run``), Filters (``f_run``, ``f_grun``) and Equivariance (``runs``,
``trio``, ``eq_open``). A link made on a server whose disk is then gone says so, with Rebuild, and shows no other run
in its place; a link whose run is here as it says opens it quietly and keeps its definition in the address."""

from __future__ import annotations

from core.training.linked_runs import KEY, decode_defs, encode_defs
from core.training.runs import RunConfig, validate
from core.training.store import RunStore
from tests.ui.test_linked_runs import finished, infos
from tests.ui.ui_helpers import no_errors, open_page

NODE = "app_pages/node.py"
SPECTRAL = "app_pages/spectral.py"
FILTERS = "app_pages/filters.py"
EQUIVARIANCE = "app_pages/equivariance.py"


def with_weights(store: RunStore, **settings) -> int:
    """A finished run of ``settings`` whose checkpoint holds its model's initial weights (no training: cheap)."""
    import torch

    from core.graphs import build_graph
    from core.models import MODELS
    from core.training.store import checkpoint_path, save_checkpoint

    cfg = validate(RunConfig.make(**{"epochs": 1, "quick": True, **settings}))
    graph = None if cfg.model == "escnn" else build_graph(cfg.graph, size=28, **cfg.graph_params)
    torch.manual_seed(0)
    model = MODELS.get(cfg.model)(cfg.model_config(), graph).eval()
    run_id = store.create_run(cfg.to_dict(), name=cfg.label())
    path = save_checkpoint(model.state_dict(), checkpoint_path(run_id))
    store.finish(run_id, {"test_accuracy": 0.1}, checkpoint=str(path))
    return run_id


def made_elsewhere(tmp_path, monkeypatch, **settings) -> tuple[int, str]:
    """(run id, ``run_defs``) of a finished run (71.5%) on another server, whose disk is then gone: the test goes on
    with a fresh data folder, this server's."""
    monkeypatch.setenv("GRAPHCONV_DATA_DIR", str(tmp_path / "other-server"))
    other = RunStore()
    run_id = finished(other, 0.715, **settings)
    defs = encode_defs([other.require_run(run_id)])
    monkeypatch.setenv("GRAPHCONV_DATA_DIR", str(tmp_path / "this-server"))
    return run_id, defs


def url(at, key: str) -> str:
    """The page's URL value for ``key`` ("" when absent)."""
    return str(at.query_params[key]).strip("[]'") if key in at.query_params else ""


def seeds(at) -> dict[int, int]:
    """The runs the page's address defines (``run_defs``): run id -> its seed."""
    return {i: d.config["seed"] for i, d in decode_defs(url(at, KEY)).items()}


def link_lines(at) -> list[str]:
    """The lines that say something about the link's runs."""
    return [i.value for i in at.info if "link" in i.value.lower()]


def keys(at) -> set[str]:
    return {b.key for b in at.button}


# ---------------------------------------------------------------- One node
def test_node_a_links_run_1_that_is_another_run_here_is_not_shown_and_rebuilds(
    app, tmp_path, monkeypatch, served_manager
):
    asked, defs = made_elsewhere(tmp_path, monkeypatch, model="gcn", hidden=4, layers=2, seed=4)
    here = RunStore()
    assert with_weights(here, model="gcn", hidden=4, layers=2) == asked  # this server's run 1: another GCN
    app.query_params.update({"nd_run": str(asked), KEY: defs})
    at = open_page(app, NODE)
    no_errors(at)
    assert f"Run {asked} on this server is another run" in infos(at) and "71.5% where the link was made" in infos(at)
    assert not [s for s in at.selectbox if s.key == "nd_run"]  # the GCN here is not shown as the link's
    assert {"rebuild_1", "nd_run_instead"} <= keys(at)
    at.button(key="rebuild_1").click().run()
    no_errors(at)
    new = max(r.id for r in here.runs())
    assert here.require_run(new).config["seed"] == 4  # the link's settings and seed, queued here
    assert f"in run {new}: shown here" in infos(at)
    assert url(at, "nd_run") == str(new) and seeds(at) == {new: 4}  # the link names the rebuilt run now
    watch = [p.proto for p in at.get("page_link") if p.proto.label.startswith(f"Watch run {new} train")]
    assert watch and f"run={new}" in watch[0].query_string and KEY in watch[0].query_string


def test_node_a_link_whose_run_is_here_opens_it_and_keeps_its_definition(app):
    store = RunStore()
    run_id = with_weights(store, model="gcn", hidden=4, layers=2, seed=2)
    newer = with_weights(store, model="gcn", hidden=4, layers=2, seed=3)  # the page's default otherwise
    app.query_params.update({"nd_run": str(run_id), KEY: encode_defs([store.require_run(run_id)])})
    at = open_page(app, NODE)
    no_errors(at)
    assert at.selectbox(key="nd_run").value == run_id != newer and not link_lines(at)
    assert seeds(at) == {run_id: 2}
    at.selectbox(key="nd_run").set_value(newer).run()  # another run picked: the address defines it instead
    no_errors(at)
    assert url(at, "nd_run") == str(newer) and seeds(at) == {newer: 3} and not link_lines(at)


# ---------------------------------------------------------------- Spectral view
def test_spectral_a_link_to_a_chebnet_that_is_gone_says_so_without_runs_here(app, tmp_path, monkeypatch):
    asked, defs = made_elsewhere(tmp_path, monkeypatch, model="cheb", K=4, hidden=8, layers=2, seed=4)
    app.query_params.update({"s_run": str(asked), KEY: defs})
    at = open_page(app, SPECTRAL)
    no_errors(at)
    assert "The link's Run 1 · ChebNet K=4" in infos(at) and "is not on this server" in infos(at)
    assert at.button(key="rebuild_1").label == "Rebuild run 1"
    assert "No finished ChebNet run with a checkpoint yet" in infos(at)  # the section's own line, as before
    assert url(at, "s_run") == str(asked) and url(at, KEY) == defs  # the link is kept: Rebuild's click is read


def test_spectral_a_link_whose_run_is_here_opens_it_and_keeps_its_definition(app):
    store = RunStore()
    run_id = with_weights(store, model="cheb", K=4, hidden=8, layers=2, seed=2)
    newer = with_weights(store, model="cheb", K=4, hidden=8, layers=2, seed=3)  # the default otherwise
    app.query_params.update({"s_run": str(run_id), KEY: encode_defs([store.require_run(run_id)])})
    at = open_page(app, SPECTRAL)
    no_errors(at)
    assert at.selectbox(key="s_run").value == run_id and not at.info  # no line about the link
    assert seeds(at) == {run_id: 2}
    at.selectbox(key="s_run").set_value(newer).run()  # another run picked: the address defines it instead
    no_errors(at)
    assert url(at, "s_run") == str(newer) and seeds(at) == {newer: 3} and not at.info


def test_spectral_a_link_shows_the_run_here_with_the_same_settings_and_seed(app, tmp_path, monkeypatch):
    asked, defs = made_elsewhere(tmp_path, monkeypatch, model="cheb", K=4, hidden=8, layers=2, seed=4)
    here = RunStore()
    assert with_weights(here, model="cheb", K=3, hidden=8, layers=2, seed=4) == asked  # run 1 here: another one
    twin = with_weights(here, model="cheb", K=4, hidden=8, layers=2, seed=4)
    app.query_params.update({"s_run": str(asked), KEY: defs})
    at = open_page(app, SPECTRAL)
    no_errors(at)
    assert f"were trained in run {twin}: shown here" in infos(at)
    assert at.selectbox(key="s_run").value == twin and url(at, "s_run") == str(twin) and seeds(at) == {twin: 4}
    assert not [b for b in at.button if b.key == "rebuild_1"]


# ---------------------------------------------------------------- Filters
def test_filters_a_link_to_a_learned_run_that_is_gone_says_so_and_shows_the_runs_here_on_asking(
    app, tmp_path, monkeypatch
):
    asked, defs = made_elsewhere(tmp_path, monkeypatch, model="learned", hidden=8, layers=1, seed=4)
    here = RunStore()
    mine = with_weights(here, model="learned", hidden=8, layers=1)  # this server's run 1: another one
    app.query_params.update({"f_src": "learned", "f_run": str(asked), KEY: defs})
    at = open_page(app, FILTERS)
    no_errors(at)
    assert f"Run {asked} on this server is another run" in infos(at)
    assert {"rebuild_1", "f_run_instead"} <= keys(at)
    assert not [s for s in at.selectbox if s.key == "f_run"] and not at.get("plotly_chart")
    at.button(key="f_run_instead").click().run()  # "Show the runs stored here instead"
    no_errors(at)
    assert at.selectbox(key="f_run").value == mine and at.get("plotly_chart")
    assert "rebuild_1" not in keys(at) and seeds(at) == {mine: 0}


def test_filters_rebuild_queues_the_links_run_and_the_link_names_it(app, tmp_path, monkeypatch, served_manager):
    asked, defs = made_elsewhere(tmp_path, monkeypatch, model="learned", hidden=8, layers=1, seed=4)
    here = RunStore()
    with_weights(here, model="learned", hidden=8, layers=1)  # this server's run 1: another one
    app.query_params.update({"f_src": "learned", "f_run": str(asked), KEY: defs})
    at = open_page(app, FILTERS)
    at.button(key="rebuild_1").click().run()
    no_errors(at)
    new = max(r.id for r in here.runs())
    assert here.require_run(new).config["seed"] == 4 and f"in run {new}: shown here" in infos(at)
    assert url(at, "f_run") == str(new) and seeds(at) == {new: 4}  # the link names the rebuilt run now
    assert [p for p in at.get("page_link") if p.proto.label.startswith(f"Watch run {new} train")]
    assert not [s for s in at.selectbox if s.key == "f_run"]  # its filters show once it has finished


def test_filters_a_link_shows_the_run_here_with_the_same_settings_and_seed(app, tmp_path, monkeypatch):
    asked, defs = made_elsewhere(tmp_path, monkeypatch, model="learned", hidden=8, layers=1, seed=4)
    here = RunStore()
    assert with_weights(here, model="learned", hidden=8, layers=1, seed=5) == asked  # run 1 here: another one
    twin = with_weights(here, model="learned", hidden=8, layers=1, seed=4)
    newest = with_weights(here, model="learned", hidden=8, layers=1, seed=6)  # the default otherwise
    app.query_params.update({"f_src": "learned", "f_run": str(asked), KEY: defs})
    at = open_page(app, FILTERS)
    no_errors(at)
    assert f"were trained in run {twin}: shown here" in infos(at) and not at.warning
    assert at.selectbox(key="f_run").value == twin != newest and seeds(at) == {twin: 4}
    assert "rebuild_1" not in keys(at)


def test_filters_a_link_whose_gat_run_is_here_opens_it_and_keeps_its_definition(app):
    store = RunStore()
    run_id = with_weights(store, model="gat", hidden=8, layers=1, heads=2, seed=2)
    newer = with_weights(store, model="gat", hidden=8, layers=1, heads=2, seed=3)  # the default otherwise
    app.query_params.update({"f_src": "gat", "f_grun": str(run_id), KEY: encode_defs([store.require_run(run_id)])})
    at = open_page(app, FILTERS)
    no_errors(at)
    assert at.selectbox(key="f_grun").value == run_id and not link_lines(at) and not at.warning
    assert seeds(at) == {run_id: 2}
    at.selectbox(key="f_grun").set_value(newer).run()  # another run picked: the address defines it instead
    no_errors(at)
    assert seeds(at) == {newer: 3} and not link_lines(at)  # (f_grun is bound: the browser writes it)
    at.radio(key="f_src").set_value("graph").run()  # a fixed graph: no run, so the address defines none
    no_errors(at)
    assert KEY not in at.query_params


# ---------------------------------------------------------------- Equivariance
def test_equivariance_a_link_to_runs_that_are_gone_says_so_once_without_runs_here(app, tmp_path, monkeypatch):
    asked, defs = made_elsewhere(tmp_path, monkeypatch, model="cnn", hidden=8, seed=4)
    link = {"runs": str(asked), "trio": str(asked), KEY: defs}  # the same run named twice: one line, one button
    app.query_params.update(link)
    at = open_page(app, EQUIVARIANCE)
    no_errors(at)
    assert [line for line in infos(at).split(" | ") if "is not on this server" in line] == [
        "The link's Run 1 · CNN, 71.5% where the link was made, is not on this server (it may have restarted on a "
        "fresh disk)."
    ]
    assert [b.key for b in at.button if b.key.startswith("rebuild_")] == ["rebuild_1"]
    assert any("No finished runs" in i.value for i in at.info)
    assert {k: url(at, k) for k in link} == link  # the link is kept: Rebuild's click is read


def test_equivariance_a_link_whose_run_is_here_opens_it_and_keeps_its_definition(app):
    store = RunStore()
    run_id = with_weights(store, model="cnn", hidden=8, seed=2)
    other = with_weights(store, model="cheb", hidden=8, seed=3)
    app.query_params.update({"runs": str(run_id), "images": "100", KEY: encode_defs([store.require_run(run_id)])})
    at = open_page(app, EQUIVARIANCE)
    no_errors(at)
    assert at.multiselect(key="runs").value == [run_id] and not link_lines(at)
    assert seeds(at) == {run_id: 2}
    at.multiselect(key="runs").set_value([run_id, other]).run()  # a second run compared: the address defines both
    no_errors(at)
    assert seeds(at) == {run_id: 2, other: 3} and not link_lines(at)


def test_equivariance_a_run_opened_from_another_servers_link_is_the_one_here_with_its_settings(
    app, tmp_path, monkeypatch
):
    asked, defs = made_elsewhere(tmp_path, monkeypatch, model="cnn", hidden=8, seed=4)
    here = RunStore()
    assert with_weights(here, model="cnn", hidden=8, seed=5) == asked  # run 1 here: another CNN
    twin = with_weights(here, model="cnn", hidden=8, seed=4)
    app.query_params.update({"eq_open": str(asked), "images": "100", KEY: defs})
    at = open_page(app, EQUIVARIANCE)
    no_errors(at)
    assert f"were trained in run {twin}: shown here" in infos(at)
    assert twin in at.multiselect(key="runs").value and asked not in at.multiselect(key="runs").value
    assert url(at, "layer_run") == str(twin) and seeds(at)[twin] == 4
