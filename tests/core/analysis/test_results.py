"""Results: re-evaluating a stored run, checkpoint errors, exports, comparing settings."""

import csv
import io
import json

import numpy as np
import pytest
import torch

from core.analysis import results
from core.analysis.results import (
    config_json,
    confusion_matrix,
    evaluate_run,
    load_run_model,
    metrics_csv,
    projector_bundle,
    runs_table,
    settings_diff,
)
from core.training.runs import RunConfig, execute
from core.training.store import METRIC_COLUMNS, CheckpointError, RunNotFoundError, RunStore


@pytest.fixture
def quick_run():
    """A real 1-epoch MLP run in quick mode (1,000 train / 200 test images) in this test's data folder."""
    results.clear_cache()
    store = RunStore()
    summary = execute(RunConfig.make(model="mlp", epochs=1, quick=True), store)
    return store, summary


def test_evaluate_run_matches_the_stored_accuracy(quick_run):
    store, summary = quick_run
    ev = evaluate_run(summary["run_id"], store)
    n = summary["test_images"]
    assert n == 200
    assert ev.confusion.shape == (10, 10) and ev.confusion.sum() == n
    assert np.trace(ev.confusion) / ev.confusion.sum() == pytest.approx(summary["test_accuracy"], abs=1e-6)
    assert ev.accuracy == pytest.approx(store.get_run(summary["run_id"])["summary"]["test_accuracy"], abs=1e-6)
    assert ev.logits.shape == (n, 10) and ev.preds.shape == ev.labels.shape == (n,)
    assert np.array_equal(ev.misclassified, np.flatnonzero(ev.preds != ev.labels))
    per_class = np.diag(ev.confusion) / ev.confusion.sum(1)
    assert np.allclose(ev.per_class_accuracy, per_class)
    assert ev.features.shape[0] == n and ev.images.shape == (n, 28, 28)
    again = evaluate_run(summary["run_id"], store)  # read back from the run's stored evaluation
    assert np.array_equal(again.logits, ev.logits) and np.array_equal(again.features, ev.features)


def test_the_run_stored_a_pca_snapshot_per_epoch(quick_run):
    store, summary = quick_run
    assert store.list_artifacts(summary["run_id"], name="pca") == [{"name": "pca", "epoch": 1}]
    snap = store.load_artifact(summary["run_id"], "pca", epoch=1)
    assert len(snap["xy"]) == len(snap["labels"]) == 200 and all(len(p) == 2 for p in snap["xy"])
    ev = evaluate_run(summary["run_id"], store)
    assert snap["labels"] == ev.labels[:200].tolist()
    from core.analysis.embeddings import pca_2d

    assert np.allclose(snap["xy"], pca_2d(ev.features[:200]), atol=1e-3)  # the same features, taken in fit


def test_load_run_model_rebuilds_the_weights(quick_run):
    store, summary = quick_run
    model, cfg, ds = load_run_model(summary["run_id"], store)
    assert cfg.model == "mlp" and not model.training
    saved = torch.load(store.get_run(summary["run_id"])["checkpoint"], weights_only=True)
    for k, v in model.state_dict().items():
        assert torch.equal(v, saved[k])
    assert len(ds.y_test) == 200


def test_corrupt_checkpoint_gives_a_clear_error(quick_run):
    store, summary = quick_run
    path = store.get_run(summary["run_id"])["checkpoint"]
    with open(path, "wb") as handle:
        handle.write(b"this is not a checkpoint" * 10)
    with pytest.raises(CheckpointError, match="corrupt"):
        evaluate_run(summary["run_id"], store)
    with pytest.raises(CheckpointError, match="corrupt"):
        load_run_model(summary["run_id"], store)


def test_missing_checkpoint_and_unknown_run(quick_run):
    store, summary = quick_run
    import os

    os.remove(store.get_run(summary["run_id"])["checkpoint"])
    with pytest.raises(CheckpointError, match="does not exist"):
        evaluate_run(summary["run_id"], store)
    with pytest.raises(RunNotFoundError):
        evaluate_run(9999, store)
    queued = store.create_run({"model": "mlp"}, name="never ran")
    with pytest.raises(CheckpointError, match="has no checkpoint"):
        evaluate_run(queued, store)


def test_checkpoint_of_another_architecture_is_refused(quick_run):
    store, summary = quick_run
    from core.training.store import save_checkpoint

    save_checkpoint({"body.1.weight": torch.zeros(3, 3)}, store.get_run(summary["run_id"])["checkpoint"])
    with pytest.raises(CheckpointError, match="does not fit"):
        evaluate_run(summary["run_id"], store)


def test_confusion_matrix_counts():
    cm = confusion_matrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 2, 0], num_classes=3)
    assert cm.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]


def test_metrics_csv_columns():
    text = metrics_csv(
        [
            {
                "epoch": 1,
                "train_loss": 0.5,
                "train_accuracy": 0.8,
                "test_accuracy": 0.75,
                "seconds": 1.5,
                "images_per_second": None,
                "lr": 0.003,
            },
            {
                "epoch": 2,
                "train_loss": 0.3,
                "train_accuracy": 0.9,
                "test_accuracy": 0.85,
                "seconds": 1.4,
                "images_per_second": 700.0,
            },
        ]
    )
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["epoch", *METRIC_COLUMNS, "lr"]
    assert len(rows) == 3
    assert rows[1][0] == "1" and rows[1][rows[0].index("images_per_second")] == "" and rows[2][-1] == ""
    assert float(rows[2][rows[0].index("test_accuracy")]) == 0.85
    assert metrics_csv([]).strip() == ",".join(["epoch", *METRIC_COLUMNS])


def test_projector_bundle_format():
    feats = np.arange(12, dtype=np.float32).reshape(4, 3) / 3
    vectors, metadata = projector_bundle(feats, [3, 1, 4, 1])
    vlines = vectors.splitlines()
    assert len(vlines) == 4 and vectors.endswith("\n")
    assert all(len(line.split("\t")) == 3 for line in vlines)  # no header, tab separated
    assert np.allclose(np.array([[float(v) for v in line.split("\t")] for line in vlines]), feats, atol=1e-5)
    mlines = metadata.splitlines()
    assert mlines[0] == "label\tindex"  # several columns: the Projector expects a header row
    assert len(mlines) == 1 + 4 and mlines[1:] == ["3\t0", "1\t1", "4\t2", "1\t3"]
    _, meta2 = projector_bundle(feats, [3, 1, 4, 1], preds=[3, 2, 4, 1], indices=[10, 11, 12, 13])
    assert meta2.splitlines()[0] == "label\tindex\tpred\tcorrect"
    assert meta2.splitlines()[2] == "1\t11\t2\tno"
    with pytest.raises(ValueError):
        projector_bundle(feats, [1, 2])


def test_config_json_round_trips_the_settings(quick_run):
    store, summary = quick_run
    doc = json.loads(config_json(store.get_run(summary["run_id"])))
    assert doc["run_id"] == summary["run_id"] and doc["status"] == "finished"
    assert RunConfig.from_dict(doc["config"]) == RunConfig.make(model="mlp", epochs=1, quick=True)
    assert doc["summary"]["test_accuracy"] == pytest.approx(summary["test_accuracy"])


def test_runs_table_rows_from_stored_runs(quick_run):
    store, summary = quick_run
    cheb = store.create_run(RunConfig.make(model="cheb", graph="knn", graph_params={"k": 6}).to_dict())
    rows = {r["run"]: r for r in runs_table(store.list_runs())}
    mlp = rows[summary["run_id"]]
    assert (mlp["model"], mlp["graph"], mlp["status"], mlp["epochs"]) == ("mlp", "—", "finished", 1)  # no graph
    assert mlp["test accuracy"] == pytest.approx(summary["test_accuracy"]) and mlp["images/s"] > 0
    assert mlp["parameters"] == summary["parameters"] and mlp["label"] == "MLP"
    assert (rows[cheb]["graph"], rows[cheb]["status"], rows[cheb]["test accuracy"]) == ("knn", "queued", None)


def test_runs_table_never_shows_the_text_none_for_a_queued_run(quick_run):
    """A queued run has no accuracy, size, speed or device yet: its text cells read "—" and its number cells are
    missing (NaN in the table, which st.dataframe shows as its placeholder, MISSING), never the text "None"."""
    import pandas as pd

    store, _ = quick_run
    queued = store.create_run(RunConfig.make(model="cheb").to_dict(), name="queued cheb")
    rows = {r["run"]: r for r in runs_table(store.list_runs())}
    row = rows[queued]
    assert row["device"] == results.MISSING and row["status"] == "queued" and row["label"] == "queued cheb"
    assert all(row[k] is None for k in ("test accuracy", "parameters", "images/s"))
    assert all(v is not None for k, v in row.items() if k not in ("test accuracy", "parameters", "images/s"))
    assert "None" not in {str(v) for v in row.values() if v is not None}
    table = pd.DataFrame(runs_table(store.list_runs()))
    for column in ("test accuracy", "parameters", "images/s"):  # numeric columns, so NumberColumn formats them
        assert pd.api.types.is_numeric_dtype(table[column]), column
        assert table[column].isna().tolist() == [r == queued for r in table["run"]]
    assert not table.drop(columns=["test accuracy", "parameters", "images/s"]).isna().any().any()
    assert (
        runs_table([{"id": 1, "status": "finished", "summary": {"test_accuracy": "junk", "parameters": True}}])[0][
            "test accuracy"
        ]
        is None
    )  # a number cell holds numbers only


def test_settings_diff_keeps_only_what_differs():
    a = {"id": 1, "config": RunConfig.make(model="cheb", K=5).to_dict()}
    b = {"id": 2, "config": RunConfig.make(model="cheb", K=3, graph_params={"neighbours": 4}).to_dict()}
    c = {"id": 3, "config": RunConfig.make(model="mlp").to_dict()}
    rows = {r["setting"]: r for r in settings_diff([a, b])}
    assert set(rows) == {"Chebyshev order (K)", "Graph parameter: Grid neighbours (neighbours)"}
    assert rows["Chebyshev order (K)"]["#1"] == "5" and rows["Chebyshev order (K)"]["#2"] == "3"
    rows = {r["setting"]: r for r in settings_diff([a, c])}
    assert rows["Layer type (model)"]["#3"] == "mlp" and rows["Graph (graph)"]["#3"] == "—"
    assert rows["Graph parameter: Grid neighbours (neighbours)"]["#3"] == "—"
    assert settings_diff([a, dict(a, id=9)]) == []
    assert len(settings_diff([a])) > 5  # a single run lists all its settings


def test_settings_diff_names_every_setting_in_full():
    """Every setting a run can have gets a readable name that keeps its key (no cut-off 'graph_pa'), k and K
    read differently, and no two settings share a name."""
    from core.analysis.results import setting_label
    from core.graphs import GRAPH_PARAMS

    knn = {
        "id": 1,
        "config": RunConfig.make(model="cheb", graph="knn", graph_params={"k": 6, "sigma": 0.1}, K=3).to_dict(),
    }
    other = {"id": 2, "config": RunConfig.make(model="cheb", graph="knn", graph_params={"k": 8}, K=5).to_dict()}
    names = [r["setting"] for r in settings_diff([knn, other])]
    assert names == [
        "Graph parameter: k-NN neighbours (k)",
        "Graph parameter: Gaussian width σ (sigma)",
        "Chebyshev order (K)",
    ]
    keys = [name for name in RunConfig.flat_names() if name != "graph_params"]
    keys += sorted({f"graph_params.{p}" for spec in GRAPH_PARAMS.values() for p in spec})
    labels = [setting_label(k) for k in keys]
    assert len(set(labels)) == len(labels)
    for key, label in zip(keys, labels, strict=True):
        assert key.split(".")[-1] in label and label != key, (key, label)  # readable, and the key is in it


# ----------------------------------------------------------------------------- the stored evaluation


def _old_run(store) -> int:
    """A finished MLP run stored as runs were before they stored their evaluation: a checkpoint, no artifacts."""
    from core.models import MODELS
    from core.training.store import checkpoint_path, save_checkpoint

    cfg = RunConfig.make(model="mlp", epochs=1, quick=True)
    run_id = store.create_run(cfg.to_dict(), name=cfg.label())
    torch.manual_seed(0)
    path = save_checkpoint(MODELS.get("mlp")(cfg.model_config(), None).state_dict(), checkpoint_path(run_id))
    store.finish(run_id, {"test_accuracy": 0.1}, checkpoint=path)
    return run_id


def test_a_finished_run_is_read_without_evaluating(quick_run):
    """The worker stored the run's evaluation as it ended: the Results page's reads evaluate nothing."""
    store, summary = quick_run
    before = results.evaluations_in_this_process()
    ev = results.stored_evaluation(summary["run_id"], store)
    assert ev is not None and ev.accuracy == pytest.approx(summary["test_accuracy"], abs=1e-6)
    assert ev.features.shape == (200, 128) and ev.images.shape == (200, 28, 28)
    assert results.evaluate_run(summary["run_id"], store).accuracy == ev.accuracy
    assert results.evaluations_in_this_process() == before
    assert len(store.load_artifact(summary["run_id"], "evaluation")) < 150_000  # 200 x (10 logits + 128 features)


def test_an_old_run_is_evaluated_once_in_a_worker_and_keeps_it():
    store = RunStore()
    run_id = _old_run(store)
    assert store.list_artifacts(run_id) == [] and results.stored_evaluation(run_id, store) is None
    pool, before = results.evaluation_pool(), results.evaluations_in_this_process()
    started = pool.counts["started"]
    job = results.request_evaluation(run_id, store, owner="visitor")
    assert job.state in ("waiting", "running")
    assert results.request_evaluation(run_id, store, owner="another").pending  # joins the same job
    done = results.wait_for_evaluation(run_id, store, timeout=120)
    assert done.state == "done", done.error
    assert pool.counts["started"] == started + 1  # one worker for both visitors
    assert results.evaluations_in_this_process() == before  # computed in the worker, not here
    blob = store.load_artifact(run_id, "evaluation")
    ev = results.stored_evaluation(run_id, store)
    assert ev is not None and ev.num_test == 200 and len(blob) == done.result
    pool.forget()  # even with the pool's memory gone, the stored evaluation is found: nothing runs again
    assert results.stored_evaluation(run_id, store) is not None and pool.counts["started"] == started + 1
    assert store.load_artifact(run_id, "evaluation") == blob


def test_a_replaced_checkpoint_is_evaluated_afresh(quick_run):
    store, summary = quick_run
    from core.training.store import save_checkpoint

    run = store.get_run(summary["run_id"])
    first = results.stored_evaluation(summary["run_id"], store)
    state = torch.load(run["checkpoint"], weights_only=True)
    save_checkpoint({k: torch.zeros_like(v) for k, v in state.items()}, run["checkpoint"])  # all-zero weights
    assert results.stored_evaluation(summary["run_id"], store) is None  # stored for the old checkpoint
    before = results.evaluations_in_this_process()
    ev = evaluate_run(summary["run_id"], store)
    assert results.evaluations_in_this_process() == before + 1
    assert not np.array_equal(ev.logits, first.logits) and np.allclose(ev.logits, ev.logits[0])
    assert results.stored_evaluation(summary["run_id"], store) is not None
