"""AppTest smoke tests of the Results and Compare pages: no runs, one quick run, a broken checkpoint."""

from pathlib import Path

import pytest
from ui_helpers import no_errors, open_page

RESULTS = "app_pages/results.py"
COMPARE = "app_pages/compare.py"


def _quick_runs(n: int = 1, **overrides) -> list[int]:
    from core.training.runs import RunConfig, execute

    return [execute(RunConfig(model="mlp", epochs=1, quick=True, seed=seed, **overrides))["run_id"]
            for seed in range(n)]


@pytest.mark.parametrize("page", [RESULTS, COMPARE])
def test_pages_without_runs_say_how_to_train_one(app, page):
    at = open_page(app, page)
    no_errors(at)
    assert any("Train" in i.value for i in at.info), [i.value for i in at.info]


def test_results_page_shows_a_quick_run(app):
    (run_id,) = _quick_runs()
    from core.training.store import RunStore

    summary = RunStore().get_run(run_id)["summary"]
    at = open_page(app, RESULTS)
    no_errors(at)
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

    at.button(key="tsne_button").click().run()  # t-SNE on demand (200 points in quick mode)
    no_errors(at)
    assert any("t-SNE (perplexity 30" in (c.proto.spec or "") for c in at.get("plotly_chart"))


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
    at = open_page(app, RESULTS)
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.error) == 1 and "checkpoint" in at.error[0].value and "corrupt" in at.error[0].value
    metrics = {m.label: m.value for m in at.metric}
    assert "Test accuracy (stored)" in metrics and "Test accuracy (checkpoint)" not in metrics
    labels = {b.proto.label: b.proto.disabled for b in at.get("download_button")}
    assert labels["Config (JSON)"] is False and labels["Metrics (CSV)"] is False


def test_compare_page_selects_runs_and_diffs_settings(app):
    first, second = _quick_runs(2)  # differ only in seed
    from core.training.runs import RunConfig
    from core.training.store import RunStore

    RunStore().create_run(RunConfig(model="cheb").to_dict(), name="queued cheb")  # newest: row 0
    at = open_page(app, COMPARE)
    no_errors(at)
    assert len(at.dataframe) == 1 and len(at.dataframe[0].value) == 3
    assert not at.get("plotly_chart")
    at.session_state["runs_table"] = {"selection": {"rows": [1, 2], "columns": [], "cells": []}}
    at.run()
    no_errors(at)
    assert len(at.dataframe) == 2
    diff = at.dataframe[1].value
    assert list(diff.index) == ["seed"] and set(diff.columns) == {f"#{first}", f"#{second}"}
    assert len(at.get("plotly_chart")) == 1  # both test-accuracy curves in one figure
    assert len(at.get("plotly_chart")[0].proto.spec) > 0
    at.multiselect(key="f_model").set_value(["mlp"]).run()
    no_errors(at)
    assert any("2 of 3 runs" in c.value for c in at.caption)
    at.multiselect(key="f_model").set_value([]).run()
    at.multiselect(key="f_status").set_value(["queued"]).run()
    no_errors(at)
    assert any("1 of 3 runs" in c.value for c in at.caption)
    assert any(s.value == "Sweeps" for s in at.subheader)
