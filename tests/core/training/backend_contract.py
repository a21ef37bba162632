"""The contract every training backend keeps (``core.training.backend.Backend``), as functions of a backend.

``test_backend_contract.py`` runs them on worker processes; ``test_ray_backend.py`` runs the same functions on the
Ray its module already starts (no second cluster). Each trains a real quick-mode run and reads it back from the store.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.training.backend import Backend, JobControl
from core.training.runner import ENV_KEYS
from core.training.runs import RunConfig
from core.training.store import RunStore
from tests.core.training.polling import wait_for


def mlp(**kw) -> RunConfig:
    return RunConfig.make(
        **{"model": "mlp", "hidden": 16, "epochs": 1, "quick": True, "device": "cpu", "seed": 3, **kw}
    )


def _started(backend: Backend, tmp_path: Path, cfg: RunConfig):
    store = RunStore(tmp_path / "runs.db")
    run_id = store.create_run(cfg.to_dict(), name=cfg.label())
    env = {k: os.environ.get(k) for k in ENV_KEYS}
    return store, run_id, backend.start(str(store.path), env, run_id, cfg.to_dict())


def declares_itself(backend: Backend) -> None:
    """A Backend by its class, with a name, and slots it sizes itself or leaves to this machine."""
    assert isinstance(backend, Backend) and isinstance(backend, JobControl)
    assert isinstance(type(backend).name, str) and backend.name
    capacity = backend.capacity()
    assert capacity is None or (isinstance(capacity, int) and capacity >= 1)


def trains_a_run_to_its_end(backend: Backend, tmp_path: Path) -> None:
    """start, then poll until the job ends by itself (0): the run is finished in the store, its epoch logged."""
    store, run_id, handle = _started(backend, tmp_path, mlp())
    code = wait_for(
        lambda: (lambda c: ("ended", c) if c is not None else None)(backend.poll(handle)),
        timeout=300,
        what="the job to end",
    )[1]
    assert code == 0, backend.describe_exit(handle)
    run = store.get_run(run_id)
    assert run["status"] == "finished" and run["summary"]["test_accuracy"] > 0.3
    assert [e["epoch"] for e in store.epochs(run_id)] == [1]
    assert backend.poll(handle) == 0  # an ended job stays ended


def terminate_ends_a_job(backend: Backend, tmp_path: Path) -> None:
    """terminate ends a job that would train for minutes; poll then says so and describe_exit says why in words."""
    store, run_id, handle = _started(backend, tmp_path, mlp(epochs=200))
    backend.terminate(handle)
    code = wait_for(
        lambda: (lambda c: ("ended", c) if c is not None else None)(backend.poll(handle)),
        timeout=120,
        what="the terminated job to end",
    )[1]
    assert code != 0
    reason = backend.describe_exit(handle)
    assert isinstance(reason, str) and reason.strip()
    assert store.get_run(run_id)["status"] in ("queued", "running")  # the manager settles it, not the backend


def searches_only_with_early_stopping(backend: Backend, tmp_path: Path) -> None:
    """A backend without early stopping refuses to start a search (the manager queues its trials as runs)."""
    if backend.early_stopping:
        pytest.skip("this backend runs searches (a Ray Tune search is tested in test_tune_search.py)")
    with pytest.raises(NotImplementedError, match=backend.name):
        backend.start_search(str(tmp_path / "runs.db"), {}, [(1, mlp().to_dict())])


CONTRACT = (trains_a_run_to_its_end, terminate_ends_a_job, searches_only_with_early_stopping)
