"""The starter set: submitted once per store (also by concurrent callers), skipped for models that already have a
finished run with weights, its progress; and the real first-visit path: a fresh store, the starter trained by a
RunManager in quick mode, and the Playground's engine answering a real test digit with the CNN and the ChebNet."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from core.training.runs import RunConfig
from core.training.starter import (
    STARTER,
    STARTER_KIND,
    TRIES,
    ensure_starter,
    starter_enabled,
    starter_status,
    starter_training,
    status_text,
)
from core.training.store import RunStore

MODELS = [s.model for s in STARTER]


class RecordingManager:
    """Stores a submitted run as queued (as RunManager.submit does) and records the call; trains nothing."""

    def __init__(self, store: RunStore):
        self.store, self._lock = store, threading.Lock()
        self.calls: list[tuple[RunConfig, str | None, str]] = []  # (config, session, kind) of each submit

    def submit(self, cfg: RunConfig, session=None, kind="image") -> int:
        run_id = self.store.create_run(cfg.to_dict(), name=cfg.label(), session=session, status="queued", kind=kind)
        with self._lock:
            self.calls.append((cfg, session, kind))
        return run_id


@pytest.fixture
def store(tmp_path) -> RunStore:
    return RunStore(tmp_path / "data" / "runs.db")


def finish_with_weights(store: RunStore, run_id: int, tmp_path) -> None:
    """End ``run_id`` as finished with a checkpoint file (what a worker leaves)."""
    ckpt = tmp_path / f"run-{run_id}.pt"
    ckpt.write_bytes(b"weights")
    store.finish(run_id, {"run_id": run_id, "status": "finished", "test_accuracy": 0.9}, checkpoint=str(ckpt))


def test_the_three_configs_are_submitted_once_in_order_cnn_first(store, monkeypatch):
    monkeypatch.delenv("GRAPHCONV_STARTER", raising=False)
    assert starter_enabled()  # on by default
    m = RecordingManager(store)
    ids = ensure_starter(m, store)
    assert len(ids) == 3 and ids == sorted(ids)
    cfgs = [c for c, _, _ in m.calls]
    assert [c.model for c in cfgs] == ["cnn", "cheb", "escnn"]  # the CNN gets the first slot
    assert [c.data for c in cfgs] == ["mnist-5k", "mnist-5k", "mnist-rot"]
    assert cfgs[1].graph == "grid" and cfgs[1].graph_params == {"neighbours": 8}
    assert cfgs[2].value("group") == "C8"
    assert all(c.training.quick for c in cfgs)
    assert {(s, k) for _, s, k in m.calls} == {(None, STARTER_KIND)}  # no visitor's session, kind "starter"
    assert ensure_starter(m, store) == [] and len(m.calls) == 3  # a second call submits nothing
    assert [r["id"] for r in store.list_runs(kind=STARTER_KIND)] == sorted(ids, reverse=True)


def test_concurrent_callers_submit_the_set_once(store):
    m = RecordingManager(store)
    results, start = [], threading.Barrier(6)

    def visit():
        start.wait()
        results.append(ensure_starter(m, RunStore(store.path)))  # each session may hold its own store object

    threads = [threading.Thread(target=visit) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(len(r) for r in results) == [0, 0, 0, 0, 0, 3]
    assert len(m.calls) == 3 and len(store.list_runs()) == 3


def test_models_with_a_finished_run_with_weights_are_skipped(store, tmp_path):
    own = store.create_run(RunConfig.make(model="cheb", epochs=1, quick=True).to_dict(), status="running")
    finish_with_weights(store, own, tmp_path)
    failed = store.create_run(RunConfig.make(model="cnn", epochs=1, quick=True).to_dict(), status="running")
    store.fail(failed, "no weights: does not count")
    m = RecordingManager(store)
    ensure_starter(m, store)
    assert [c.model for c, _, _ in m.calls] == ["cnn", "escnn"]
    status = {row["model"]: row for row in starter_status(store)}
    assert status["cheb"]["run_id"] is None and status["cheb"]["state"] is None
    assert status_text(status["cheb"]) == "ChebNet: not needed"


def test_no_starter_when_switched_off(store, monkeypatch):
    monkeypatch.setenv("GRAPHCONV_STARTER", "0")
    m = RecordingManager(store)
    assert not starter_enabled() and ensure_starter(m, store) == [] and m.calls == []


def test_a_starter_run_that_ended_without_weights_is_retried_then_given_up(store):
    m = RecordingManager(store)
    for attempt in range(TRIES):
        ids = ensure_starter(m, store)
        assert len(ids) == 3, attempt
        for run_id in ids:
            store.fail(run_id, "the worker was killed")
    assert ensure_starter(m, store) == []  # tried TRIES times: the pages say why instead of looping
    assert [row["state"] for row in starter_status(store)] == ["failed"] * 3
    assert status_text(starter_status(store)[0]) == "CNN failed: the worker was killed"


def test_status_reports_queued_running_and_finished(store, tmp_path):
    m = RecordingManager(store)
    cnn, cheb, escnn = ensure_starter(m, store)
    status = starter_status(store)
    assert [row["run_id"] for row in status] == [cnn, cheb, escnn]
    assert [row["state"] for row in status] == ["queued"] * 3 and starter_training(status)
    assert status_text(status[2]) == "C8 steerable net waiting for a training slot"
    store.start(cnn, "cpu")
    store.log_progress(cnn, epoch=2, batch=8, num_batches=16, loss=0.5)  # 1.5 of 5 epochs
    finish_with_weights(store, cheb, tmp_path)
    status = starter_status(store)
    assert status[0]["state"] == "running" and status[0]["progress"] == pytest.approx(0.3)
    assert status_text(status[0]) == "CNN 30% (epoch 2/5)"
    assert (
        status[1]["state"] == "finished" and status[1]["progress"] == 1.0 and status_text(status[1]) == "ChebNet ready"
    )
    finish_with_weights(store, cnn, tmp_path)
    finish_with_weights(store, escnn, tmp_path)
    assert not starter_training(starter_status(store))


def test_first_visit_path_trains_the_starter_and_the_playground_answers_with_two_models(tmp_path, monkeypatch):
    """A fresh store, a real RunManager (worker processes) in quick mode: the CNN and the ChebNet finish, and the
    Playground's engine answers a real test digit with both."""
    from core.analysis.playground import default_runs, load_playground_model, probabilities
    from core.data.datasets import load_dataset
    from core.training.runner import RunManager

    monkeypatch.setenv("GRAPHCONV_QUICK", "1")
    store = RunStore(tmp_path / "data" / "runs.db")
    manager = RunManager(store=store, max_concurrent=2)
    try:
        cnn, cheb, escnn = ensure_starter(manager, store)
        assert ensure_starter(manager, store) == []
        for run_id in (cnn, cheb):
            assert manager.wait(run_id, timeout=300)["state"] == "finished"
        assert [row["state"] for row in starter_status(store)][:2] == ["finished", "finished"]
        runs = {int(r["id"]): r for r in store.runs_with_weights()}
        assert default_runs(runs)[:2] == [cnn, cheb]  # what the Playground picks
        ds = load_dataset("mnist-5k", quick=True)
        digit, label = ds.x_test[0].numpy(), int(ds.y_test[0])
        for run_id in (cnn, cheb):
            p = probabilities(load_playground_model(run_id, store), digit)
            assert p.shape == (10,) and np.isfinite(p).all() and abs(p.sum() - 1) < 1e-4
            assert int(p.argmax()) == label, (run_id, p)  # a trained net gets the first test digit right
    finally:
        manager.close()
    assert store.get_run(escnn)["status"] in ("finished", "stopped")  # close() ends a run still training


def test_the_playgrounds_button_queues_the_c8_net_once_per_server_and_reuses_one_training(store):
    """``queue_starter``: the starter's C8 net, once, whoever presses first (six sessions at once too); a steerable
    net a visitor has queued is reused instead; a C1 net (its answer turns with the digit) is not."""
    from core.errors import UserInputError
    from core.training.starter import active_run, queue_starter

    m = RecordingManager(store)
    visitor_c1 = store.create_run(
        RunConfig.make(model="escnn", group="C1", quick=True).to_dict(), session="v", status="queued"
    )
    results, start = [], threading.Barrier(6)

    def press():
        start.wait()
        results.append(queue_starter(m, "escnn", RunStore(store.path)))

    threads = [threading.Thread(target=press) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(m.calls) == 1 and m.calls[0][1:] == (None, STARTER_KIND)
    cfg = m.calls[0][0]
    assert (
        cfg.to_dict() == next(s for s in STARTER if s.model == "escnn").config().to_dict()
        and cfg.value("group") == "C8"
    )
    run_id = results[0][0]
    assert sorted(results, key=lambda r: r[1]) == [(run_id, False)] * 5 + [(run_id, True)] and run_id != visitor_c1
    assert starter_status(store)[2]["run_id"] == run_id  # the starter's own row: the pages show its progress

    store.fail(run_id, "the worker was killed")  # ended without weights: a press queues it again ...
    again, queued = queue_starter(m, "escnn", store)
    assert queued and again != run_id and len(m.calls) == 2
    store.fail(again, "stopped")
    theirs = store.create_run(
        RunConfig.make(model="escnn", group="D4", quick=True).to_dict(), session="v", status="queued"
    )
    assert active_run(store, "escnn")["id"] == theirs
    assert queue_starter(m, "escnn", store) == (theirs, False) and len(m.calls) == 2  # ... unless one is training
    with pytest.raises(UserInputError, match="no starter run for 'gat'"):
        queue_starter(m, "gat", store)


def test_the_starter_c8_net_passes_public_modes_cost_check():
    """The button's run goes through the same check as every run: within public mode's budget on this machine."""
    from core.config import limits
    from core.training.cost import check

    cfg = next(s for s in STARTER if s.model == "escnn").config()
    cost = check(cfg, public=True)  # raises BudgetError when over the budget
    assert cost.seconds <= limits(public=True).run_seconds and cost.peak_mb <= limits(public=True).run_mb
