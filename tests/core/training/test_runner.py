"""RunManager: runs train in worker processes on quick-mode MNIST; the queue, stopping, ownership,
a frozen or killed worker, and validation at submit. Everything is read back through the store."""

from __future__ import annotations

import contextlib
import os
import signal
import time

import pytest

from core.errors import UserInputError
from core.models import MODELS
from core.training.process_backend import exit_reason
from core.training.runner import Job, QueueFullError, RunManager, fair_order
from core.training.runs import RunConfig
from core.training.store import RunStore, load_checkpoint
from tests.core.training.polling import wait_for

TIMEOUT = 120.0


@pytest.fixture
def manager(tmp_path):
    """A one-slot manager on its own store; closed (every worker ended) after the test."""
    m = RunManager(store=RunStore(tmp_path / "data" / "runs.db"), max_concurrent=1, stop_grace_s=1.0)
    yield m
    m.close()


def mlp(**kw) -> RunConfig:
    return RunConfig.make(**{"model": "mlp", "hidden": 16, "epochs": 1, "quick": True, "device": "cpu", **kw})


def shapes(state: dict) -> dict:
    return {k: tuple(v.shape) for k, v in state.items()}


def running_with_an_epoch(m: RunManager, run_id: int) -> None:
    def training() -> bool:
        live = m.live(run_id)
        return live is not None and live["state"] == "running" and bool(m.store.epochs(run_id))

    wait_for(training, what=f"run {run_id} to train")


def test_runs_train_in_another_process_and_queue_in_order(manager):
    first = mlp(seed=1, epochs=300)  # long: holds the only slot until stopped
    second = RunConfig.make(
        model="gcn",
        graph="grid",
        graph_params={"neighbours": 4},
        hidden=4,
        layers=1,
        epochs=2,
        seed=2,
        quick=True,
        device="cpu",
    )
    a = manager.submit(first, session="alice")
    running_with_an_epoch(manager, a)
    b = manager.submit(second, session="bob")
    time.sleep(3 * 0.2)  # a few dispatcher ticks: b had its chance to (wrongly) start
    live_a, live_b = manager.live(a), manager.live(b)
    assert live_a["state"] == "running" and live_a["queue_position"] == 0 and live_a["num_batches"] > 0
    assert live_a["losses"] and all(x > 0 for x, _ in live_a["losses"])  # the live curve came through the store
    assert live_b["state"] == "queued" and live_b["queue_position"] == 1 and live_b["epoch"] == 0
    assert sorted(manager.active()) == [a, b] and manager.active(session="bob") == [b]
    worker_pid = manager.store.get_run(a)["pid"]
    assert worker_pid != os.getpid()  # trained elsewhere, not in a thread of this process

    assert manager.stop(a) is True
    done_a = manager.wait(a)
    assert done_a["state"] == "stopped" and done_a["stop_requested"]
    done_b = manager.wait(b)
    assert done_b["state"] == "finished" and done_b["progress"] == 1.0 and done_b["error"] is None
    assert manager.active() == []

    for run_id, cfg, session in ((a, first, "alice"), (b, second, "bob")):
        run = manager.store.get_run(run_id)
        assert run["session"] == session and run["config"] == cfg.to_dict() and run["name"] == cfg.label()
        epochs = [e["epoch"] for e in manager.store.epochs(run_id)]
        assert epochs == list(range(1, len(epochs) + 1)) and len(epochs) >= 1
        graph = None
        if cfg.uses_graph():
            from core.graphs import build_graph

            graph = build_graph(cfg.graph, **cfg.graph_params)
        expected = MODELS.get(cfg.model)(cfg.model_config(), graph).state_dict()
        assert shapes(load_checkpoint(run["checkpoint"])) == shapes(expected)
    assert len(manager.store.epochs(b)) == 2 and manager.store.get_run(b)["status"] == "finished"


def test_a_run_in_a_worker_equals_the_same_run_in_process(manager, tmp_path):
    """The process boundary changes nothing a seed decides: same losses, same accuracy as execute() here."""
    from core.training.runs import execute

    cfg = mlp(seed=7, epochs=2)
    worker = manager.submit(cfg)
    assert manager.wait(worker)["state"] == "finished"
    here = execute(cfg, manager.store)  # in this process, same store
    there = manager.store.epochs(worker)
    assert [e["train_loss"] for e in there] == [e["train_loss"] for e in here["epochs"]]
    assert [e["test_accuracy"] for e in there] == [e["test_accuracy"] for e in here["epochs"]]


def test_stop_queued_run_never_trains(manager):
    first = manager.submit(mlp(seed=1, epochs=300))
    running_with_an_epoch(manager, first)
    queued = manager.submit(mlp(seed=2))
    assert manager.live(queued)["state"] == "queued"
    assert manager.stop(queued) is True
    live = manager.wait(queued, timeout=10)
    assert live["state"] == "stopped" and live["epoch"] == 0 and live["queue_position"] == 0
    run = manager.store.get_run(queued)
    assert "before it started" in run["error"] and manager.store.epochs(queued) == [] and run["checkpoint"] is None
    assert manager.live(first)["state"] == "running"  # the other run is untouched


def test_only_the_owner_or_a_sessionless_caller_may_stop(manager):
    run_id = manager.submit(mlp(epochs=300), session="alice")
    running_with_an_epoch(manager, run_id)
    with pytest.raises(UserInputError, match="another session") as e:
        manager.stop(run_id, session="mallory")
    assert e.value.param == "run"
    time.sleep(0.5)
    assert manager.live(run_id)["state"] == "running" and not manager.live(run_id)["stop_requested"]
    assert manager.stop(run_id, session="alice") is True
    assert manager.wait(run_id)["state"] == "stopped"
    assert manager.stop(run_id, session="alice") is False  # already ended


def test_a_frozen_worker_is_ended_after_the_grace_period_and_keeps_its_epochs(manager):
    run_id = manager.submit(mlp(epochs=300))
    running_with_an_epoch(manager, run_id)
    pid = manager.store.get_run(run_id)["pid"]
    os.kill(pid, signal.SIGSTOP)  # it can no longer read its stop request
    try:
        kept = len(manager.store.epochs(run_id))
        asked = time.time()
        assert manager.stop(run_id) is True
        live = manager.wait(run_id, timeout=30)
        took = time.time() - asked
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    assert live["state"] == "stopped" and "did not stop within 1 s" in live["error"]
    assert 1.0 <= took < 15.0
    run = manager.store.get_run(run_id)
    assert len(manager.store.epochs(run_id)) == kept and run["summary"]["epochs_done"] == kept


def test_a_killed_worker_fails_its_run_and_the_other_run_carries_on(tmp_path):
    m = RunManager(store=RunStore(tmp_path / "two.db"), max_concurrent=2)
    try:
        victim = m.submit(mlp(seed=1, epochs=300))
        survivor = m.submit(mlp(seed=2, epochs=3))
        running_with_an_epoch(m, victim)
        os.kill(m.store.get_run(victim)["pid"], signal.SIGKILL)
        killed_at = time.time()
        live = m.wait(victim, timeout=30)
        assert time.time() - killed_at < 5.0
        assert live["state"] == "failed" and "killed by SIGKILL" in live["error"] and "are kept" in live["error"]
        assert m.store.epochs(victim)  # what it had logged stays
        assert m.wait(survivor)["state"] == "finished" and len(m.store.epochs(survivor)) == 3
    finally:
        m.close()


def test_a_session_may_have_only_so_many_runs_at_once(tmp_path):
    m = RunManager(store=RunStore(tmp_path / "cap.db"), max_concurrent=1, session_limit=2)
    try:
        ids = [m.submit(mlp(epochs=300), session="alice") for _ in range(2)]
        with pytest.raises(QueueFullError, match="at most 2") as e:
            m.submit(mlp(), session="alice")
        assert e.value.param == "run" and len(m.store.list_runs()) == 2  # the refused run was not stored
        other = m.submit(mlp(), session="bob")  # another session is not affected
        cli = m.submit(mlp())  # nor is a caller without a session
        assert sorted(m.active()) == sorted([*ids, other, cli])
    finally:
        m.close()
    assert all(r["status"] == "stopped" for r in m.store.list_runs())  # close() ended them all


def test_fair_order_gives_the_next_slot_to_the_session_with_fewest_runs():
    def job(run_id, session):
        return Job(run_id, session, {}, {})

    sweep = [job(i, "alice") for i in (2, 3, 4)]
    running = [job(1, "alice")]
    order = fair_order([*sweep, job(5, "bob")], running)
    assert [j.run_id for j in order] == [5, 2, 3, 4]  # bob's one run does not wait for alice's sweep
    order = fair_order([job(5, "bob"), job(6, "bob"), job(2, "alice")], [job(1, "carol")])
    assert [j.run_id for j in order] == [2, 5, 6]  # equal counts: oldest first, then alternate
    assert fair_order([], running) == []


def test_exit_reasons_name_the_signal():
    assert "SIGKILL" in exit_reason(-9) and "out of memory" in exit_reason(-9)
    assert "SIGSEGV" in exit_reason(-11)
    assert "code 1" in exit_reason(1)


def test_invalid_config_raises_at_submit_and_stores_nothing(manager):
    for bad, param in (
        (mlp(epochs=0), "epochs"),
        (RunConfig.make(model="cheb", graph="superpixels", graph_params={}), "graph"),
        (mlp(lr=0.0), "lr"),
    ):
        with pytest.raises(UserInputError) as e:
            manager.submit(bad)
        assert e.value.param == param
    assert manager.store.list_runs() == [] and manager.active() == []


def test_unknown_run_ids(manager):
    assert manager.stop(12345) is False
    assert manager.live(12345) is None


def test_identical_runs_are_found_by_their_whole_config_seed_included(tmp_path):
    """The reuse lookup on a real store: a finished run stands for a new one with the same config and seed; another
    seed, another setting or a failed / stopped run does not; a queued or training one does when none finished."""
    from core.training.runner import find_identical, identical_runs

    store = RunStore(tmp_path / "runs.db")
    a, b = mlp(seed=1), mlp(seed=2)
    failed = store.create_run(a.to_dict(), status="queued")
    store.fail(failed, "killed")
    stopped = store.create_run(a.to_dict(), status="queued")
    store.finish(stopped, {"status": "stopped"}, status="stopped")
    assert find_identical(store, a) is None  # a failed or stopped run is no result to reuse
    queued = store.create_run(a.to_dict(), status="queued")
    assert find_identical(store, a)["id"] == queued
    done = store.create_run(a.to_dict(), status="queued")
    store.start(done, "cpu")
    store.finish(done, {"status": "finished", "test_accuracy": 0.5})
    later = store.create_run(a.to_dict(), status="queued")
    store.start(later, "cpu")
    store.finish(later, {"status": "finished", "test_accuracy": 0.5})
    assert find_identical(store, a)["id"] == done  # finished first; of those, the oldest
    assert find_identical(store, a.to_dict())["id"] == done  # a stored run's config dict works the same
    assert find_identical(store, b) is None and find_identical(store, mlp(seed=1, hidden=17)) is None
    running = store.create_run(b.to_dict(), status="queued")
    store.start(running, "cpu")
    assert [r and r["id"] for r in identical_runs(store, [b, mlp(seed=3), a])] == [running, None, done]


def test_identical_runs_read_a_stored_config_as_written(manager):
    """Through the manager: a submitted config, stored and read back as JSON, is found by the same RunConfig."""
    from core.training.runner import find_identical

    cfg = RunConfig.make(
        model="cheb", graph="grid", graph_params={"neighbours": 8}, K=2, hidden=8, epochs=1, quick=True
    )
    run_id = manager.submit(cfg)
    assert find_identical(manager.store, cfg)["id"] == run_id
    assert manager.wait(run_id, timeout=TIMEOUT)["state"] == "finished"
    assert find_identical(manager.store, RunConfig.from_dict(manager.store.get_run(run_id)["config"]))["id"] == run_id
