"""The Ray backend on a Ray started on this machine ('local'): runs train as Ray tasks and their
metrics come back through Ray to this process, which writes the store; runs look as if a local
worker had trained them."""

from __future__ import annotations

import json
import os
import time

import pytest

ray = pytest.importorskip("ray")

from core.cli import main
from core.training.runner import RunManager
from core.training.runs import RunConfig
from core.training.store import RunStore, load_checkpoint


@pytest.fixture(scope="module")
def ray_backend():
    from core.training.ray_backend import RayBackend

    backend = RayBackend("local")
    yield backend
    ray.shutdown()


def mlp(**kw) -> RunConfig:
    return RunConfig.make(
        **{"model": "mlp", "hidden": 16, "epochs": 2, "quick": True, "device": "cpu", "seed": 5, **kw}
    )


def test_a_ray_run_is_stored_like_a_worker_run(ray_backend, tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHCONV_CPUS", "1")  # the local worker trains with one thread, as the Ray task (1 CPU) does
    on_ray = RunManager(store=RunStore(tmp_path / "ray" / "runs.db"), max_concurrent=1, backend=ray_backend)
    local = RunManager(store=RunStore(tmp_path / "local" / "runs.db"), max_concurrent=1)
    try:
        a, b = on_ray.submit(mlp()), local.submit(mlp())
        assert on_ray.wait(a, timeout=300)["state"] == "finished"
        assert local.wait(b, timeout=300)["state"] == "finished"
    finally:
        on_ray.close()
        local.close()
    ray_run, local_run = on_ray.store.get_run(a), local.store.get_run(b)
    ray_epochs, local_epochs = on_ray.store.epochs(a), local.store.epochs(b)
    assert [e["train_loss"] for e in ray_epochs] == [e["train_loss"] for e in local_epochs]
    assert ray_run["summary"]["test_accuracy"] == local_run["summary"]["test_accuracy"]
    assert ray_run["pid"] == os.getpid()  # this process wrote the store for the Ray task
    state = load_checkpoint(ray_run["checkpoint"])  # the weights came back through Ray
    assert ray_run["checkpoint"].startswith(str(tmp_path / "ray"))
    assert {k: v.shape for k, v in state.items()} == {
        k: v.shape for k, v in load_checkpoint(local_run["checkpoint"]).items()
    }
    assert [x["epoch"] for x in on_ray.store.list_artifacts(a, "pca")] == [1, 2]  # the per-epoch snapshots too
    progress = on_ray.store.progress(a)
    assert progress["epoch"] == 2 and progress["batch"] == progress["num_batches"] > 0 and progress["points"]


def test_a_stop_request_in_the_store_reaches_the_ray_task(ray_backend, tmp_path):
    m = RunManager(store=RunStore(tmp_path / "runs.db"), max_concurrent=1, backend=ray_backend)
    try:
        run_id = m.submit(mlp(epochs=300))
        deadline = time.time() + 300
        while not m.store.epochs(run_id) and time.time() < deadline:
            time.sleep(0.1)
        assert m.store.request_stop(run_id)  # as `python -m core stop` does, from any process
        live = m.wait(run_id, timeout=60)
    finally:
        m.close()
    assert live["state"] == "stopped" and 1 <= len(m.store.epochs(run_id)) < 300
    assert load_checkpoint(m.store.get_run(run_id)["checkpoint"])  # the stopped run's weights are kept


def test_cli_trains_on_ray(ray_backend, capsys, isolated_data_dir, monkeypatch):
    monkeypatch.setenv("GRAPHCONV_RAY_ADDRESS", "local")  # the default backend when set
    capsys.readouterr()
    code = main(["train", "--model", "mlp", "--hidden", "16", "--epochs", "1", "--quick", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    summary = json.loads(out)
    assert summary["backend"] == "ray" and summary["status"] == "finished" and summary["test_accuracy"] > 0.3
    (run,) = RunStore().list_runs()
    assert run["status"] == "finished" and len(RunStore().epochs(run["id"])) == 1


@pytest.mark.parametrize(
    "contract_name", ["trains_a_run_to_its_end", "terminate_ends_a_job", "searches_only_with_early_stopping"]
)
def test_the_ray_backend_keeps_the_backend_contract(contract_name, ray_backend, tmp_path):
    """The same contract functions as worker processes (test_backend_contract.py), on this module's Ray."""
    from tests.core.training import backend_contract

    backend_contract.declares_itself(ray_backend)
    assert ray_backend.capacity() >= 2 and not ray_backend.early_stopping  # Tune's searches: TuneBackend
    getattr(backend_contract, contract_name)(ray_backend, tmp_path)
