"""A run a starting server took over and resumed says so on the Results and Train pages (core/training/resume.py)."""

from __future__ import annotations

from core.training.resume import RESUMED_ARTIFACT
from core.training.runs import RunConfig, validate
from core.training.store import RunStore
from tests.ui.ui_helpers import open_page


def resumed_run() -> int:
    store = RunStore()
    cfg = validate(RunConfig.make(model="mlp", epochs=3, quick=True))
    run_id = store.create_run(cfg.to_dict(), name=cfg.label())
    store.start(run_id, "cpu")
    store.save_artifact(run_id, RESUMED_ARTIFACT, [{"epoch": 2}])  # as RunManager.take_over records it
    store.finish(run_id, {"test_accuracy": 0.8})
    return run_id


def test_results_and_train_say_a_run_resumed_after_a_restart(app):
    run_id = resumed_run()
    app.query_params["run"] = str(run_id)
    at = open_page(app, "app_pages/results.py")
    assert not at.exception  # (no weights were saved for this hand-made run: the page says so in one line)
    assert any("resumed from epoch 2 after a restart" in c.value for c in at.caption)
    train = open_page(app, "app_pages/train.py")
    assert any(c.value == "Resumed from epoch 2 after a restart." for c in train.caption)
