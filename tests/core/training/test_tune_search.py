"""A search on Ray runs with Ray Tune and ASHA: weak trials stop early and are marked so; every trial is a
stored run. Ray here is started on this machine ('local'); tests/core/training/test_ray_cluster.py runs on a
real cluster."""

from __future__ import annotations

import pytest

ray = pytest.importorskip("ray")
pytest.importorskip("ray.tune")

from core.training.runner import RunManager
from core.training.runs import RunConfig
from core.training.search import new_search_group, parse_space, search_configs
from core.training.store import RunStore, load_checkpoint
from tests.core.training.polling import wait_for


@pytest.fixture(scope="module")
def ray_backend():
    from core.training.tune_search import TuneBackend

    backend = TuneBackend("local")  # what make_backend("ray") gives
    yield backend
    ray.shutdown()


def test_asha_stops_the_weak_trials_early_and_each_trial_is_a_stored_run(ray_backend, tmp_path):
    # Two learning rates that learn, then two that barely move the weights: on this 2-core machine the first two
    # reach epoch 1 before the others start, so ASHA's first rung has their accuracies to compare against.
    space = parse_space(["lr=0.003,0.001,0.000001,0.0000011"])
    base = RunConfig.make(model="mlp", hidden=32, epochs=4, quick=True, device="cpu", seed=0)
    configs = search_configs(base, space, sampler="grid")
    manager = RunManager(store=RunStore(tmp_path / "runs.db"), backend=ray_backend)
    try:
        group = new_search_group(space, True)
        ids, early = manager.submit_search(configs, group=group)
        assert early and len(ids) == 4
        assert [manager.store.get_run(i)["config"]["lr"] for i in ids] == [0.003, 0.001, 1e-6, 1.1e-6]
        ended = {i: manager.wait(i, timeout=600) for i in ids}
    finally:
        manager.close()
    store = manager.store
    for weak in ids[2:]:
        run = ended[weak]["run"]
        assert run["status"] == "stopped", run
        assert run["error"].startswith("stopped early by ASHA after epoch 1 of 4")
        assert run["summary"]["early_stopped"] is True and run["summary"]["epochs_done"] == 1
        assert [e["epoch"] for e in store.epochs(weak)] == [1]  # the epoch it reached is kept
    strong = [ended[i]["run"] for i in ids[:2]]
    assert any(r["status"] == "finished" for r in strong)
    for run in strong:
        epochs = store.epochs(run["id"])
        if run["status"] == "finished":  # trained to the end: every epoch and its weights came back through Ray
            assert [e["epoch"] for e in epochs] == [1, 2, 3, 4]
            assert load_checkpoint(run["checkpoint"])
            assert run["summary"]["test_accuracy"] == epochs[-1]["test_accuracy"] > 0.5
        else:  # the slower of the two may be stopped at a rung too, but only with a reason
            assert run["status"] == "stopped" and "ASHA" in run["error"]
    assert all(store.get_run(i)["group_id"] == group.id for i in ids) and store.get_group(group.id).early_stopping


def test_without_ray_the_same_search_trains_every_trial_to_the_end(tmp_path):
    space = parse_space(["lr=0.003,0.000001"])
    configs = search_configs(
        RunConfig.make(model="mlp", hidden=16, epochs=2, quick=True, device="cpu"), space, sampler="grid"
    )
    manager = RunManager(store=RunStore(tmp_path / "runs.db"))  # worker processes: no early stopping
    try:
        ids, early = manager.submit_search(configs, group=new_search_group(space, False))
        assert early is False
        states = [manager.wait(i, timeout=300) for i in ids]
    finally:
        manager.close()
    assert [s["state"] for s in states] == ["finished", "finished"]
    assert [len(manager.store.epochs(i)) for i in ids] == [2, 2]  # the weak trial trained to its last epoch too


def test_a_stop_request_reaches_a_trial_and_closing_the_launcher_ends_the_search(ray_backend, tmp_path):
    # Two trials that train identically (one seed, one thread each): their accuracies tie at every rung, and ASHA
    # stops a trial only below the cutoff, so here only the stop request and the launcher end them.
    space = parse_space(["epochs=500,499"])
    configs = search_configs(
        RunConfig.make(model="mlp", hidden=16, quick=True, device="cpu", seed=1), space, sampler="grid"
    )
    manager = RunManager(store=RunStore(tmp_path / "runs.db"), backend=ray_backend)
    ids, _ = manager.submit_search(configs, group=new_search_group(space, True))
    search = manager._searching[0].control

    def trains(run_id: int) -> None:
        wait_for(lambda: manager.store.epochs(run_id), 300, f"run {run_id} to train")

    try:
        trains(ids[0])
        assert manager.stop(ids[0]) is True
        asked = manager.wait(ids[0], timeout=120)["run"]
        assert asked["status"] == "stopped" and not asked["summary"].get("early_stopped")  # stopped by its request
        assert 1 <= len(manager.store.epochs(ids[0])) < 499
        trains(ids[1])  # it may have waited for the first one's CPU
    finally:
        manager.close()  # the launcher goes: Tune ends the other trial and the search
        search._thread.join(120)
    assert not search._thread.is_alive()
    other = manager.store.get_run(ids[1])
    assert other["status"] == "stopped" and 1 <= len(manager.store.epochs(ids[1])) < 499
