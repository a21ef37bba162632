"""AppTest smoke tests of the Results and Compare pages: no runs, one quick run, a broken checkpoint."""

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.ui.ui_helpers import APP, no_errors, open_page
from ui.url_state import shown_link_value

RESULTS = "app_pages/results.py"
COMPARE = "app_pages/compare.py"


def _quick_runs(n: int = 1, **overrides) -> list[int]:
    from core.training.runs import RunConfig, execute

    return [
        execute(RunConfig.make(model="mlp", epochs=1, quick=True, seed=seed, **overrides))["run_id"]
        for seed in range(n)
    ]


@pytest.mark.parametrize("page", [RESULTS, COMPARE])
def test_pages_without_runs_say_how_to_train_one(app, page):
    at = open_page(app, page)
    no_errors(at)
    assert any("Train" in i.value for i in at.info), [i.value for i in at.info]


def test_results_page_names_runs_from_their_config_and_links_a_graph_net_to_one_node(app):
    """The run picker reads "Run 2 · ChebNet K=5 on the 8-neighbour grid · …" (not the stored short name), and a
    graph net's run links to One node's arithmetic for that run; an MLP's does not."""
    from core.training.runs import RunConfig, execute
    from core.training.store import RunStore

    (mlp,) = _quick_runs()
    cheb = execute(RunConfig.make(model="cheb", hidden=8, epochs=1, quick=True))["run_id"]
    import sqlite3

    from core.config import data_dir

    with sqlite3.connect(data_dir() / "runs.db") as db:  # stored as runs were named before names were readable
        db.execute("UPDATE runs SET name = ? WHERE id = ?", ("cheb K=5 on grid(neighbours=8)", cheb))
    assert RunStore().get_run(cheb)["name"] == "cheb K=5 on grid(neighbours=8)"
    at = open_page(app, RESULTS)
    no_errors(at)
    picker = at.selectbox(key="run")
    assert picker.value == cheb  # the newest
    assert any(o.startswith(f"Run {cheb} · ChebNet K=5 on the 8-neighbour grid · ") for o in picker.options), (
        picker.options
    )
    links = {link.proto.label: link.proto.query_string for link in at.get("page_link")}
    query = dict(part.split("=", 1) for part in links["One node's arithmetic"].split("&"))
    assert query.keys() == {"nd_run", "run_defs"} and query["nd_run"] == str(cheb)  # and what the run is (issue 32)
    from core.training.linked_runs import decode_defs

    assert decode_defs(query["run_defs"])[cheb].config == RunStore().require_run(cheb).config
    at.selectbox(key="run").set_value(mlp).run()
    no_errors(at)
    assert "One node's arithmetic" not in {link.proto.label for link in at.get("page_link")}


def test_results_page_shows_a_quick_run(app):
    (run_id,) = _quick_runs()
    from core.analysis import results
    from core.training.store import RunStore

    summary = RunStore().get_run(run_id)["summary"]
    evaluated, started = results.evaluations_in_this_process(), results.evaluation_pool().counts["started"]
    at = open_page(app, RESULTS)
    no_errors(at)
    # the worker stored the run's evaluation as it ended: the page only reads it, evaluating nothing anywhere
    assert results.evaluations_in_this_process() == evaluated
    assert results.evaluation_pool().counts["started"] == started
    assert at.selectbox(key="run").value == run_id
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Test accuracy (stored)"] == f"{summary['test_accuracy']:.2%}"
    assert metrics["Test accuracy (checkpoint)"] == f"{summary['test_accuracy']:.2%}"
    assert metrics["Misclassified"].endswith("of 200")
    assert at.query_params["run"] == [str(run_id)] or at.query_params["run"] == str(run_id)
    # curves, confusion matrix, per class, mistakes, PCA embedding, PCA over epochs
    assert len(at.get("plotly_chart")) >= 6
    labels = [b.proto.label for b in at.get("download_button")]
    assert {"Config (JSON)", "Metrics (CSV)", "Checkpoint (.pt)", "vectors.tsv", "metadata.tsv"} <= set(labels)
    assert all(not b.proto.disabled for b in at.get("download_button"))

    at.button(key="tsne_button").click().run()  # t-SNE on demand (200 points in quick mode), in a worker
    no_errors(at)
    assert any("t-SNE on 200 points" in i.value and "worker process" in i.value for i in at.info)
    deadline = time.monotonic() + 300  # seconds alone; minutes on a loaded 2-core machine
    while not any("t-SNE (perplexity 30" in (c.proto.spec or "") for c in at.get("plotly_chart")):
        assert time.monotonic() < deadline, [i.value for i in at.info]
        time.sleep(0.5)
        at.run()  # as the page's polling fragment reruns it
    no_errors(at)
    assert results.evaluation_pool().counts["started"] == started + 1  # the t-SNE job, nothing else
    assert len(RunStore().load_artifact(run_id, "tsne-30")["xy"]) == 200  # stored with the run: shown at once later
    again = open_page(AppTest.from_file(APP, default_timeout=180), RESULTS)
    assert any("t-SNE (perplexity 30" in (c.proto.spec or "") for c in again.get("plotly_chart"))
    assert results.evaluation_pool().counts["started"] == started + 1


def test_results_link_opens_the_named_run(app):
    first, second = _quick_runs(2)
    app.query_params["run"] = str(first)
    at = open_page(app, RESULTS)
    at.query_params["run"] = str(first)
    at.run()
    no_errors(at)
    assert at.selectbox(key="run").value == first
    at.selectbox(key="run").set_value(second).run()
    no_errors(at)
    assert str(at.query_params["run"]).strip("[]'") == str(second)


def test_results_page_with_a_corrupt_checkpoint_still_shows_the_storedmetrics(app):
    (run_id,) = _quick_runs()
    from core.training.store import RunStore

    Path(RunStore().get_run(run_id)["checkpoint"]).write_bytes(b"garbage" * 100)
    at = open_page(app, RESULTS)  # a checkpoint that is not the one evaluated: evaluated again, in a worker
    assert not at.exception, [e.value for e in at.exception]
    at = evaluated(at, run_id)
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.error) == 1 and "checkpoint" in at.error[0].value and "corrupt" in at.error[0].value
    metrics = {m.label: m.value for m in at.metric}
    assert "Test accuracy (stored)" in metrics and "Test accuracy (checkpoint)" not in metrics
    labels = {b.proto.label: b.proto.disabled for b in at.get("download_button")}
    assert labels["Config (JSON)"] is False and labels["Metrics (CSV)"] is False


def evaluated(at, run_id: int):
    """The page after the job evaluating ``run_id`` ended (as its polling fragment would rerun it)."""
    from core.analysis.results import wait_for_evaluation

    if any("no stored evaluation yet" in i.value for i in at.info):
        wait_for_evaluation(run_id, timeout=120)
        at.run()
    return at


def _old_run() -> int:
    """A finished MLP run stored as runs were before they stored their evaluation: a checkpoint, no artifacts."""
    import torch

    from core.models import MODELS
    from core.training.runs import RunConfig
    from core.training.store import RunStore, checkpoint_path, save_checkpoint

    cfg, store = RunConfig.make(model="mlp", epochs=1, quick=True), RunStore()
    run_id = store.create_run(cfg.to_dict(), name=cfg.label())
    torch.manual_seed(0)
    path = save_checkpoint(MODELS.get("mlp")(cfg.model_config(), None).state_dict(), checkpoint_path(run_id))
    store.finish(run_id, {"test_accuracy": 0.1}, checkpoint=path)
    return run_id


def test_results_page_evaluates_an_old_run_once_in_a_worker(app):
    run_id = _old_run()
    from core.analysis import results
    from core.training.store import RunStore

    evaluated_here, started = results.evaluations_in_this_process(), results.evaluation_pool().counts["started"]
    at = open_page(app, RESULTS)
    no_errors(at)
    assert any("no stored evaluation yet" in i.value and "in a worker process" in i.value for i in at.info)
    assert "Test accuracy (checkpoint)" not in {m.label for m in at.metric}
    at = evaluated(at, run_id)
    no_errors(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Misclassified"].endswith("of 200") and "Test accuracy (checkpoint)" in metrics
    blob = RunStore().load_artifact(run_id, "evaluation")
    assert blob and results.evaluation_pool().counts["started"] == started + 1
    results.evaluation_pool().forget()  # the pool's memory gone too: a new visitor reads the stored evaluation
    again = open_page(AppTest.from_file(APP, default_timeout=180), RESULTS)
    no_errors(again)
    assert {m.label: m.value for m in again.metric}["Misclassified"] == metrics["Misclassified"]
    assert results.evaluation_pool().counts["started"] == started + 1
    assert results.evaluations_in_this_process() == evaluated_here  # never in the server's process
    assert RunStore().load_artifact(run_id, "evaluation") == blob


def test_compare_page_selects_runs_and_diffs_settings(app):
    first, second = _quick_runs(2)  # differ only in seed
    from core.training.runs import RunConfig
    from core.training.store import RunStore

    queued = RunStore().create_run(RunConfig.make(model="cheb").to_dict(), name="queued cheb")  # newest: row 0
    at = open_page(app, COMPARE)
    no_errors(at)
    assert len(at.dataframe) == 1 and len(at.dataframe[0].value) == 3
    table = at.dataframe[0]
    assert table.proto.placeholder == "—"  # a queued run's missing numbers read "—", not st.dataframe's "None"
    row = table.value.set_index("run").loc[queued]
    assert "None" not in [str(v) for v in row.values] and row["device"] == "—"
    assert not at.get("plotly_chart")
    at.session_state["runs_table"] = {"selection": {"rows": [1, 2], "columns": [], "cells": []}}
    at.run()
    no_errors(at)
    assert len(at.dataframe) == 2
    diff = at.dataframe[1].value
    assert list(diff["setting"]) == ["Random seed (seed)"]  # the full, readable name (it was cut to "graph_pa")
    assert set(diff.columns) == {"setting", f"#{first}", f"#{second}"}
    assert _link(at, "cmp_runs") == f"{second},{first}"  # the ticked runs, in table order (newest first)
    assert len(at.get("plotly_chart")) == 1  # both test-accuracy curves in one figure
    assert len(at.get("plotly_chart")[0].proto.spec) > 0
    at.multiselect(key="f_model").set_value(["mlp"]).run()
    no_errors(at)
    assert any("2 of 3 runs" in c.value for c in at.caption)
    assert at.session_state["runs_table"]["selection"]["rows"] == [0, 1]  # the same runs, now the top rows
    assert "2 selected runs" in [s.value for s in at.subheader] and _link(at, "cmp_runs") == f"{second},{first}"
    at.multiselect(key="f_model").set_value([]).run()
    at.multiselect(key="f_status").set_value(["queued"]).run()
    no_errors(at)
    assert any("1 of 3 runs" in c.value for c in at.caption)
    assert "cmp_runs" not in at.query_params  # the filter hides the ticked runs: nothing is compared
    assert any(s.value == "Sweeps" for s in at.subheader)


def _link(at, key: str):
    value = at.query_params.get(key)
    return value[0] if isinstance(value, list) and len(value) == 1 else value


def test_a_compare_link_reopens_the_ticked_runs_and_filters(app):
    """``/compare?cmp_runs=…&f_model=…`` ticks those runs under those filters; a run the link names that is not
    in the (filtered) table is dropped with a notice, and the link is rewritten without it."""
    first, second = _quick_runs(2)
    from core.training.runs import RunConfig
    from core.training.store import RunStore

    cheb = RunStore().create_run(RunConfig.make(model="cheb").to_dict(), name="queued cheb")
    app.run()
    app.switch_page(COMPARE)
    app.query_params.update({"cmp_runs": str(first), "f_model": "mlp"})
    at = app.run()
    no_errors(at)
    assert not at.warning
    assert at.multiselect(key="f_model").value == ["mlp"]
    assert "1 selected run" in [s.value for s in at.subheader]
    assert list(at.dataframe[1].value.columns) == ["setting", f"#{first}"]
    assert _link(at, "cmp_runs") == str(first)

    for forged in (f"{second},{cheb},999", "1;2", "x" * 5000):  # filtered out / unknown / not a list of ids
        at = AppTest.from_file(APP, default_timeout=180).run()  # a link opens a new session
        at.switch_page(COMPARE)
        at.query_params.update({"cmp_runs": forged, "f_model": "mlp"})
        at.run()
        no_errors(at)
        notes = " ".join(w.value for w in at.warning)
        assert f"cmp_runs={shown_link_value(forged)} (" in notes and "ids of runs in the table" in notes, notes
        assert len(notes) < 1000  # a forged value is quoted short
        ticked = [second] if forged.startswith(str(second)) else []
        assert _link(at, "cmp_runs") == (",".join(map(str, ticked)) or None)
        assert at.subheader[0].value == ("1 selected run" if ticked else "Sweeps")


def test_a_compare_link_with_an_unknown_filter_value_says_so(app):
    _quick_runs(1)
    app.run()
    app.switch_page(COMPARE)
    app.query_params.update({"f_model": "nosuchmodel", "f_status": "finished"})
    at = app.run()
    no_errors(at)
    notes = " ".join(w.value for w in at.warning)
    assert "f_model=nosuchmodel (" in notes and "choose from mlp" in notes
    assert at.multiselect(key="f_model").value == [] and at.multiselect(key="f_status").value == ["finished"]


def test_compare_without_runs_links_to_the_train_page(app):
    at = open_page(app, COMPARE)
    no_errors(at)
    assert [(e.proto.label, e.proto.page) for e in at.get("page_link")] == [("Train", "train")]
