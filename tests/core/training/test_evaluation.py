"""A run's evaluation, stored by the worker as the run ends (artifact "evaluation", keyed by its checkpoint)."""

import io

import numpy as np
import pytest

from core.training.evaluation import (
    EVALUATION_ARTIFACT,
    checkpoint_file_version,
    evaluation_bytes,
    load_evaluation,
    read_evaluation,
)
from core.training.runs import RunConfig, execute
from core.training.store import RunStore


def test_a_finished_run_stores_its_evaluation_for_its_checkpoint():
    store = RunStore()
    summary = execute(RunConfig.make(model="mlp", epochs=1, quick=True), store)
    run = store.get_run(summary["run_id"])
    assert "evaluation_error" not in summary
    assert store.list_artifacts(run["id"], name=EVALUATION_ARTIFACT) == [{"name": EVALUATION_ARTIFACT, "epoch": None}]
    blob = store.load_artifact(run["id"], EVALUATION_ARTIFACT)
    assert isinstance(blob, bytes) and len(blob) < 150_000  # 200 test images: 10 logits, 128 features each
    ev = load_evaluation(store, run["id"])
    assert ev.version == checkpoint_file_version(run["checkpoint"])
    assert ev.logits.shape == (200, 10) and ev.labels.shape == (200,) and ev.features.shape == (200, 128)
    assert float((ev.preds == ev.labels).mean()) == pytest.approx(summary["test_accuracy"], abs=1e-6)
    assert (ev.data, ev.quick, ev.model_kind, len(ev.classes)) == ("mnist-5k", True, "image", 10)
    again = read_evaluation(evaluation_bytes(ev))  # a round trip keeps every number
    assert all(np.array_equal(getattr(again, k), getattr(ev, k)) for k in ("logits", "labels", "features"))
    assert (again.version, again.classes) == (ev.version, ev.classes)


def test_a_stopped_run_stores_none():
    """A stop request wants the worker gone: Results evaluates a stopped run on first view instead."""
    store = RunStore()
    summary = execute(RunConfig.make(model="mlp", epochs=2, quick=True), store, should_stop=lambda: True)
    assert summary["status"] == "stopped" and store.get_run(summary["run_id"])["checkpoint"]
    assert store.list_artifacts(summary["run_id"], name=EVALUATION_ARTIFACT) == []


def test_what_is_not_a_stored_evaluation_reads_as_none():
    assert read_evaluation(None) is None and read_evaluation({"version": "x"}) is None
    assert read_evaluation(b"not an npz") is None
    buf = io.BytesIO()
    np.savez(buf, meta=np.array([object()], dtype=object))  # a pickle inside: never loaded
    assert read_evaluation(buf.getvalue()) is None
    buf = io.BytesIO()
    np.savez(buf, meta=np.array('{"format": 99}'))  # another format
    assert read_evaluation(buf.getvalue()) is None
