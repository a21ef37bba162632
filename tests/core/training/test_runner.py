"""RunManager: background runs on quick-mode MNIST, the FIFO queue, stopping, and validation at submit."""

from __future__ import annotations

import threading
import time

import pytest

import core.training.runner as runner_mod
from core.errors import UserInputError
from core.models import MODELS
from core.training.runner import RunManager
from core.training.runs import RunConfig
from core.training.store import RunStore, load_checkpoint

TIMEOUT = 120.0


def wait_for(condition, timeout: float = TIMEOUT, what: str = "condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def manager(tmp_path, monkeypatch):
    """A one-slot manager whose runs wait at a gate before training until ``manager.release`` is set."""
    release = threading.Event()
    real_execute = runner_mod.execute

    def gated_execute(*args, **kwargs):
        assert release.wait(TIMEOUT), "gate never opened"
        return real_execute(*args, **kwargs)

    monkeypatch.setattr(runner_mod, "execute", gated_execute)
    m = RunManager(store=RunStore(tmp_path / "runner.db"), max_concurrent=1)
    m.release = release
    yield m
    release.set()  # let every worker end before the data folder goes away
    for run_id in list(m._runs):
        m.stop(run_id)
        m.wait(run_id, timeout=TIMEOUT)


def mlp(**kw) -> RunConfig:
    return RunConfig(**{"model": "mlp", "hidden": 16, "epochs": 1, "quick": True, "device": "cpu", **kw})


def shapes(state: dict) -> dict:
    return {k: tuple(v.shape) for k, v in state.items()}


def test_second_run_queues_then_both_finish_with_their_own_config(manager):
    first = mlp(seed=1, hidden=16, epochs=1)
    second = RunConfig(model="gcn", graph="grid", graph_params={"neighbours": 4}, hidden=4, layers=1, epochs=2,
                       seed=2, quick=True, device="cpu")
    a = manager.submit(first, session="alice")
    wait_for(lambda: manager.live(a)["state"] == "running", what="first run to start")
    b = manager.submit(second, session="bob")
    time.sleep(0.6)  # more than the worker's 0.5 s slot poll: b had its chance to (wrongly) start
    live_a, live_b = manager.live(a), manager.live(b)
    assert live_a["state"] == "running" and live_a["queue_position"] == 0
    assert live_b["state"] == "queued" and live_b["queue_position"] == 1 and live_b["epoch"] == 0
    assert manager.store.get_run(b)["status"] == "queued"
    assert sorted(manager.active()) == [a, b] and manager.active(session="bob") == [b]

    manager.release.set()
    assert manager.wait(a)["state"] == "finished"
    done_b = manager.wait(b)
    assert done_b["state"] == "finished" and done_b["progress"] == 1.0 and done_b["error"] is None
    assert manager.active() == []

    for run_id, cfg, session in ((a, first, "alice"), (b, second, "bob")):
        run = manager.store.get_run(run_id)
        assert run["status"] == "finished" and run["session"] == session
        assert run["config"] == cfg.to_dict() and run["name"] == cfg.label()
        assert [e["epoch"] for e in manager.store.epochs(run_id)] == list(range(1, cfg.epochs + 1))
        graph = None
        if cfg.uses_graph():
            from core.graphs import build_graph

            graph = build_graph(cfg.graph, **cfg.graph_params)
        expected = MODELS.get(cfg.model)(cfg.model_config(), graph).state_dict()
        assert shapes(load_checkpoint(run["checkpoint"])) == shapes(expected)
    assert manager.store.get_run(a)["name"] == "mlp" and manager.store.get_run(b)["name"].startswith("gcn on grid")


def test_stop_running_run_keeps_finished_epochs(manager):
    manager.release.set()
    run_id = manager.submit(mlp(epochs=300))
    wait_for(lambda: len(manager.store.epochs(run_id)) >= 1, what="a finished epoch")
    assert manager.stop(run_id) is True
    live = manager.wait(run_id)
    assert live["state"] == "stopped" and live["stop_requested"] and live["error"] is None
    run = manager.store.get_run(run_id)
    assert run["status"] == "stopped"
    epochs = manager.store.epochs(run_id)
    assert 1 <= len(epochs) < 300
    assert [e["epoch"] for e in epochs] == list(range(1, len(epochs) + 1))
    assert run["summary"]["status"] == "stopped" and len(load_checkpoint(run["checkpoint"])) > 0


def test_stop_queued_run_never_trains(manager):
    first = manager.submit(mlp(seed=1))
    wait_for(lambda: manager.live(first)["state"] == "running", what="first run to start")
    queued = manager.submit(mlp(seed=2))
    assert manager.live(queued)["state"] == "queued"
    assert manager.stop(queued) is True
    live = manager.wait(queued, timeout=10)
    assert live["state"] == "stopped" and live["epoch"] == 0 and live["queue_position"] == 0
    run = manager.store.get_run(queued)
    assert run["status"] == "stopped" and "before it started" in run["error"]
    assert manager.store.epochs(queued) == [] and run["checkpoint"] is None
    assert manager.live(first)["state"] == "running"  # the other run is untouched

    manager.release.set()
    assert manager.wait(first)["state"] == "finished"
    assert manager.store.get_run(first)["status"] == "finished"


def test_invalid_config_raises_at_submit_and_stores_nothing(manager):
    for bad, param in ((mlp(epochs=0), "epochs"), (RunConfig(model="cheb", graph="superpixels", graph_params={}),
                                                   "graph"), (mlp(lr=0.0), "lr")):
        with pytest.raises(UserInputError) as e:
            manager.submit(bad)
        assert e.value.param == param
    assert manager.store.list_runs() == [] and manager.active() == []


def test_unknown_run_ids(manager):
    assert manager.stop(12345) is False
    assert manager.live(12345) is None
