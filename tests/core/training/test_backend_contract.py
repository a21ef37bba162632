"""Every backend that can run here keeps ``Backend``'s contract (``backend_contract.py``): worker processes for
real; Ray runs the same functions in ``test_ray_backend.py``, on the Ray that module starts."""

from __future__ import annotations

import inspect

import pytest

from core.training.backend import Backend, JobControl, Search
from core.training.process_backend import ProcessBackend
from core.training.runner import RunManager
from core.training.store import RunStore
from tests.core.training.backend_contract import CONTRACT, declares_itself


@pytest.fixture(scope="module")
def process_backend():
    return ProcessBackend()


def test_worker_processes_declare_themselves(process_backend):
    declares_itself(process_backend)
    assert process_backend.capacity() is None and not process_backend.early_stopping


@pytest.mark.parametrize("contract", CONTRACT, ids=lambda f: f.__name__)
def test_worker_processes_keep_the_contract(contract, process_backend, tmp_path):
    contract(process_backend, tmp_path)


def test_the_contract_is_abstract_and_every_backend_fills_it():
    """A class that leaves out a call of the contract cannot be made: the manager never meets half a backend."""
    assert {n for n, v in vars(JobControl).items() if getattr(v, "__isabstractmethod__", False)} == {
        "poll",
        "describe_exit",
        "terminate",
    }
    assert Backend.__abstractmethods__ == {"start", "poll", "describe_exit", "terminate"}

    class Half(Backend):
        name = "half"

        def start(self, db_path, env, run_id, config):  # pragma: no cover - never made
            return None

    with pytest.raises(TypeError, match="abstract"):
        Half()
    assert not inspect.isabstract(ProcessBackend)
    from core.training import ray_backend, tune_search  # importable without starting Ray

    assert issubclass(ray_backend.RayBackend, Backend) and not inspect.isabstract(ray_backend.RayBackend)
    assert not ray_backend.RayBackend.early_stopping and tune_search.TuneBackend.early_stopping
    assert issubclass(tune_search.TuneBackend, ray_backend.RayBackend)
    assert issubclass(tune_search.TuneSearch, Search) and not inspect.isabstract(tune_search.TuneSearch)


def test_the_manager_sizes_its_slots_from_the_backend(tmp_path, monkeypatch):
    """A backend that sizes its own slots (Ray: the cluster's CPUs) sets the manager's; worker processes leave it
    to this machine. A real backend whose capacity is fixed, not a mock: worker processes, four slots."""
    monkeypatch.delenv("GRAPHCONV_MAX_RUNS", raising=False)

    class FourSlots(ProcessBackend):
        def capacity(self) -> int:
            return 4

    store = RunStore(tmp_path / "runs.db")
    sized, local = RunManager(store=store, backend=FourSlots()), RunManager(store=store, backend=ProcessBackend())
    try:
        assert sized.max_concurrent == 4
        from core.training.cpu_share import default_max_runs

        assert local.max_concurrent == default_max_runs()
        assert not local.early_stopping
    finally:
        sized.close()
        local.close()
