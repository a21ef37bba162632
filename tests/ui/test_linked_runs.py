"""Links that carry their runs, on the pages (ui/linked_runs.py): a link made on one server opened on a server that
restarted on a fresh disk says what is missing and rebuilds it; Start reuses a run with the same settings and seed."""

from __future__ import annotations

from core.training.linked_runs import KEY, decode_defs, encode_defs, run_hash
from core.training.runs import RunConfig, execute, validate
from core.training.store import RunStore
from tests.ui.ui_helpers import no_errors, open_page

TRAIN = "app_pages/train.py"


def finished(store: RunStore, accuracy: float, **settings) -> int:
    cfg = validate(RunConfig.make(**{"epochs": 1, "quick": True, **settings}))
    run_id = store.create_run(cfg.to_dict(), name=cfg.label())
    store.start(run_id, "cpu")
    store.finish(run_id, {"test_accuracy": accuracy})
    return run_id


def cheb_link(tmp_path, monkeypatch) -> dict[str, str]:
    """A Train link to a finished ChebNet (run 1, 71.5%) made on another server, whose disk is then gone."""
    monkeypatch.setenv("GRAPHCONV_DATA_DIR", str(tmp_path / "other-server"))
    other = RunStore()
    run_id = finished(other, 0.715, model="cheb", seed=4)
    link = {"run": str(run_id), KEY: encode_defs([other.require_run(run_id)])}
    monkeypatch.setenv("GRAPHCONV_DATA_DIR", str(tmp_path / "this-server"))
    return link


def infos(at) -> str:
    return " | ".join(i.value for i in at.info)


def test_a_link_whose_run_1_is_another_run_here_says_so_and_rebuilds_it(app, tmp_path, monkeypatch, served_manager):
    link = cheb_link(tmp_path, monkeypatch)
    here = RunStore()
    finished(here, 0.535, model="mlp")  # this server's run 1 is an MLP
    app.query_params.update(link)
    at = open_page(app, TRAIN)
    no_errors(at)
    assert "Run 1 on this server is another run" in infos(at) and "71.5% where the link was made" in infos(at)
    rebuild = at.button(key="rebuild_1")
    assert rebuild.label == "Rebuild run 1"
    rebuild.click().run()
    no_errors(at)
    runs = here.runs()
    assert len(runs) == 2  # one new run, with the link's settings and seed
    new = max(runs, key=lambda r: r.id)
    assert run_hash(new.config) == next(iter(decode_defs(link[KEY]).values())).hash and new.config["seed"] == 4
    assert "The same settings and seed as the link's Run 1 · ChebNet K=5" in infos(at)
    assert f"in run {new.id}: shown here" in infos(at)  # queued or training, beside the link's 71.5%
    assert str(at.query_params["run"]).strip("[]'") == str(new.id)  # the link names the rebuilt run now


def test_a_link_whose_run_is_missing_says_so_in_one_line(app, tmp_path, monkeypatch):
    link = cheb_link(tmp_path, monkeypatch)
    app.query_params.update(link)
    at = open_page(app, TRAIN)
    no_errors(at)
    assert "The link's Run 1 · ChebNet" in infos(at) and "is not on this server" in infos(at)
    assert at.button(key="rebuild_1").label == "Rebuild run 1"


def test_a_link_with_an_identical_run_here_shows_that_run(app, tmp_path, monkeypatch):
    link = cheb_link(tmp_path, monkeypatch)
    here = RunStore()
    finished(here, 0.5, model="mlp")
    twin = finished(here, 0.715, model="cheb", seed=4)  # trained here too (run 2)
    app.query_params.update(link)
    at = open_page(app, TRAIN)
    no_errors(at)
    assert f"were trained in run {twin}: shown here; change the seed to train your own" in infos(at)
    assert not [b for b in at.button if b.key == "rebuild_1"]


def test_a_bad_run_defs_value_is_noted_and_the_id_read_as_a_bare_one(app):
    store = RunStore()
    run_id = finished(store, 0.6, model="mlp")
    app.query_params.update({"run": str(run_id), KEY: "not-a-definition"})
    at = open_page(app, TRAIN)
    assert not at.exception
    assert any("run_defs=" in w.value and "do not decode" in w.value for w in at.warning)
    assert "cannot be checked" in infos(at)


def test_start_shows_a_run_with_the_same_settings_and_seed_instead_of_training_a_copy(app, served_manager):
    store = RunStore()
    at = open_page(app, TRAIN)
    at.button[0].click().run()  # Start (the first button): a new run
    first = store.runs()
    assert len(first) == 1
    at.button[0].click().run()  # Start again, nothing changed
    no_errors(at)
    assert len(store.runs()) == 1
    assert f"The same settings and seed are queued in run {first[0].id}" in infos(at) or (
        f"in run {first[0].id}: shown here" in infos(at)
    )
    assert str(at.query_params["run"]).strip("[]'") == str(first[0].id)
    assert decode_defs(str(at.query_params[KEY]).strip("[]'"))  # the link carries what the run is


RESULTS = "app_pages/results.py"


def results_link(tmp_path, monkeypatch) -> dict[str, str]:
    link = cheb_link(tmp_path, monkeypatch)
    return {"run": link["run"], KEY: link[KEY]}


def test_results_no_longer_shows_the_next_visitors_run_1_for_a_links_run_1(app, tmp_path, monkeypatch):
    """Issue 32's measured failure: after the wipe an MLP became run 1 and the ChebNet's /results?run=1 showed it."""
    link = results_link(tmp_path, monkeypatch)
    finished(RunStore(), 0.535, model="mlp")  # this server's run 1
    app.query_params.update(link)
    at = open_page(app, RESULTS)
    no_errors(at)
    assert "Run 1 on this server is another run (Run 1 · MLP" in infos(at)
    assert not [s for s in at.selectbox if s.key == "run"]  # the MLP is not shown as the link's run
    assert at.button(key="rebuild_1").label == "Rebuild run 1"
    assert at.button(key="run_instead").label == "Show the runs stored here instead"


def test_results_shows_a_linked_run_that_is_what_the_link_says_and_keeps_its_definition(app):
    store = RunStore()
    run_id = finished(store, 0.6, model="mlp", seed=2)
    app.query_params.update({"run": str(run_id), KEY: encode_defs([store.require_run(run_id)])})
    at = open_page(app, RESULTS)
    assert not at.exception
    assert at.selectbox(key="run").value == run_id and "link" not in infos(at).lower()
    assert decode_defs(str(at.query_params[KEY]).strip("[]'"))[run_id].config["seed"] == 2


def test_the_playground_says_which_linked_run_is_missing_instead_of_dropping_it(app, tmp_path, monkeypatch):
    """Issue 32: "the Playground dropped the run without a word"."""
    link = cheb_link(tmp_path, monkeypatch)
    app.query_params.update({"pg_runs": link["run"], KEY: link[KEY]})
    at = open_page(app, "app_pages/playground.py")
    assert not at.exception
    assert "The link's Run 1 · ChebNet K=5" in infos(at) and "is not on this server" in infos(at)
    assert at.button(key="rebuild_1").label == "Rebuild run 1"


def test_compare_checks_the_links_runs_and_ticks_the_ones_that_are_what_it_says(app, tmp_path, monkeypatch):
    link = cheb_link(tmp_path, monkeypatch)  # run 1: a ChebNet that is gone
    here = RunStore()
    mlp = finished(here, 0.535, model="mlp")  # run 1 here: another run
    twin = finished(here, 0.715, model="cheb", seed=4)  # the link's ChebNet, trained here as run 2
    app.query_params.update({"cmp_runs": link["run"], KEY: link[KEY]})
    at = open_page(app, "app_pages/compare.py")
    no_errors(at)
    assert f"were trained in run {twin}: shown here" in infos(at)
    assert str(at.query_params["cmp_runs"]).strip("[]'") == str(twin) != str(mlp)  # the twin is ticked, not run 1


def test_the_line_saying_a_run_is_shown_in_a_links_place_stays_while_the_page_shows_it(app, tmp_path, monkeypatch):
    """The Playground names the twin in its link after its first run; its next run (it reruns itself once the
    visitor's browser has loaded its runtime) still says why the twin is shown; a link to other runs does not."""
    link = cheb_link(tmp_path, monkeypatch)
    here = RunStore()
    other = execute(validate(RunConfig.make(model="mlp", hidden=8, epochs=1, quick=True)), here)["run_id"]
    twin = execute(validate(RunConfig.make(model="cheb", seed=4, epochs=1, quick=True)), here)["run_id"]  # weights
    app.query_params.update({"pg_runs": link["run"], KEY: link[KEY]})
    at = open_page(app, "app_pages/playground.py")
    said = f"were trained in run {twin}: shown here"
    assert said in infos(at) and at.query_params["pg_runs"] == str(twin)  # the link names the twin now
    at.run()
    assert not at.exception and said in infos(at)
    at.query_params["pg_runs"] = str(other)
    at.query_params.pop(KEY, None)
    at.run()
    assert not at.exception and said not in infos(at)


def test_a_class_pressing_start_at_the_same_moment_trains_one_run(app, served_manager, monkeypatch):
    """24 Start presses at once (one per visitor's script thread) look for an identical run and queue under one
    lock: one run is queued, every press is shown that run."""
    import threading

    from ui.linked_runs import start_or_reuse

    monkeypatch.setenv("GRAPHCONV_QUICK", "1")
    cfg = RunConfig.make(model="mlp", epochs=1, quick=True)
    said: list[str] = []

    class Lines:  # where the page's one line goes (st.info in the page)
        def info(self, text: str, **_: object) -> None:
            said.append(text)

    got: list[int] = []
    presses = [threading.Thread(target=lambda: got.append(start_or_reuse(cfg, Lines()))) for _ in range(24)]
    for t in presses:
        t.start()
    for t in presses:
        t.join()
    runs = RunStore().runs()
    assert len(runs) == 1 and set(got) == {runs[0].id} and len(got) == 24
    assert len(said) == 23 and all(f"in run {runs[0].id}: shown here" in line for line in said)


def test_rebuild_works_on_a_page_that_shows_other_runs_meanwhile(app, tmp_path, monkeypatch, served_manager):
    """The Playground with a run of its own to show: it rewrites its link's ids in the same run, so the Rebuild
    button is not drawn again after its click; the click still queues the link's run (a button callback)."""
    from core.training.runs import execute

    link = cheb_link(tmp_path, monkeypatch)
    execute(RunConfig.make(model="mlp", hidden=8, epochs=1, quick=True, device="cpu"))  # run 1 here, with weights
    app.query_params.update({"pg_runs": link["run"], KEY: link[KEY]})
    at = open_page(app, "app_pages/playground.py")
    assert not at.exception
    assert "Run 1 on this server is another run" in infos(at)
    at.button(key="rebuild_1").click().run()
    assert not at.exception
    wanted = next(iter(decode_defs(link[KEY]).values())).hash
    assert [r.id for r in RunStore().runs() if run_hash(r.config) == wanted] == [2]  # queued by the click


def test_a_sweep_link_on_a_fresh_server_says_so_and_rebuilds_the_sweep(app, tmp_path, monkeypatch, served_manager):
    """A Compare link names its sweep by group id and carries its runs (``sw_defs``): on a server that lost it, one
    line says so and Rebuild queues the same runs as a new sweep, which the page then shows."""
    from core.training.sweep import new_sweep_group
    from ui.linked_runs import SWEEP_KEY

    monkeypatch.setenv("GRAPHCONV_DATA_DIR", str(tmp_path / "other-server"))
    other = RunStore()
    group = new_sweep_group("seed")
    for seed in (0, 1):
        cfg = validate(RunConfig.make(model="mlp", hidden=8, epochs=1, quick=True, seed=seed))
        run_id = other.create_run(cfg.to_dict(), name=cfg.label(), group=group)
        other.start(run_id, "cpu")
        other.finish(run_id, {"test_accuracy": 0.5 + seed / 10})
    sender = open_page(app, "app_pages/compare.py")  # the page writes what the sweep's runs are into its link
    sender.selectbox(key="sw_show").set_value(group.id).run()
    link = {"sw_show": group.id, SWEEP_KEY: str(sender.query_params[SWEEP_KEY]).strip("[]'")}
    assert sorted(decode_defs(link[SWEEP_KEY], SWEEP_KEY)) == [1, 2]

    monkeypatch.setenv("GRAPHCONV_DATA_DIR", str(tmp_path / "this-server"))  # the sweep's server is gone
    app.query_params.update(link)
    at = open_page(app, "app_pages/compare.py")
    no_errors(at)
    assert "This link's sweep (Sweep of random seed (seed) over 0, 1" in infos(at) and "2 runs)" in infos(at)
    at.button(key="sw_rebuild").click().run()
    no_errors(at)
    rebuilt = RunStore().runs()
    assert sorted(r.config["seed"] for r in rebuilt) == [0, 1] and len({r.group_id for r in rebuilt}) == 1
    assert str(at.query_params["sw_show"]).strip("[]'") == rebuilt[0].group_id != group.id
