"""A run's result depends only on its config and seed in exact mode, whatever runs train beside it.

The cause of two identical lesson runs parting (ChebNet 92.5% then 91.0%, the losses apart from epoch 1): torch
splits a matrix product's and a sum's work by its thread count, so the same batch gives different last bits with 1
and 2 threads (1.3843920870 against 1.3843920689 here), and a run's CPU share (``core.training.cpu_share``)
changes as other runs start and end. In exact mode (public mode, or ``GRAPHCONV_EXACT=1``) every run trains with
``EXACT_THREADS`` threads from its first batch to its last, so shares no longer reach its numbers.
"""

from __future__ import annotations

import pytest
import torch

from core.training.cpu_share import Lease, lease_dir
from core.training.runner import RunManager
from core.training.runs import RunConfig
from core.training.store import RunStore
from core.training.worker import EXACT_THREADS, exact_mode, execute_reporting

TIMEOUT = 300.0  # a loaded 2-core machine


def cheb(**kw) -> RunConfig:
    """A small ChebNet on the 8-neighbour grid (the lesson's layer and graph), 2 quick epochs: a batch of 64 images
    is 50,176 node rows, past torch's grain of 32,768, so its sums and products split by the thread count."""
    return RunConfig.make(
        **{
            "model": "cheb",
            "graph": "grid",
            "graph_params": {"neighbours": 8},
            "K": 2,
            "layers": 1,
            "hidden": 8,
            "epochs": 2,
            "quick": True,
            "device": "cpu",
            "seed": 3,
            **kw,
        }
    )


def figures(store: RunStore, run_id: int) -> list[tuple[float | None, float | None, float | None]]:
    """(train loss, train accuracy, test accuracy) of every stored epoch: what a lesson's table and curves show."""
    return [(e["train_loss"], e["train_accuracy"], e["test_accuracy"]) for e in store.epochs(run_id)]


def train(store: RunStore, cfg: RunConfig, **kw) -> int:
    run_id = store.create_run(cfg.to_dict(), status="queued")
    assert execute_reporting(cfg, store, run_id, **kw)["status"] == "finished"
    return run_id


def test_the_thread_count_changes_a_runs_numbers(tmp_path):
    """The cause, shown: the same config and seed with 1 and with 2 threads part at the first epoch."""
    store = RunStore(tmp_path / "runs.db")
    one, two = train(store, cheb(), threads=1), train(store, cheb(), threads=2)
    assert figures(store, one) != figures(store, two)
    assert figures(store, one)[0][0] == pytest.approx(figures(store, two)[0][0], rel=1e-5)  # only the last bits


def test_exact_mode_is_public_modes_unless_graphconv_exact_says(monkeypatch):
    monkeypatch.delenv("GRAPHCONV_EXACT", raising=False)
    assert not exact_mode()  # a local checkout keeps the dynamic shares: faster alone
    monkeypatch.setenv("GRAPHCONV_PUBLIC", "1")
    assert exact_mode()
    monkeypatch.setenv("GRAPHCONV_EXACT", "0")
    assert not exact_mode()
    monkeypatch.delenv("GRAPHCONV_PUBLIC")
    monkeypatch.setenv("GRAPHCONV_EXACT", "1")
    assert exact_mode()


def test_in_exact_mode_a_run_trains_with_the_same_threads_alone_or_beside_others(tmp_path, monkeypatch):
    """In one process: alone on 2 CPUs (a dynamic share of 2), and with another run's lease held and torch set to 2
    threads beforehand (a dynamic share of 1). Exact mode trains both with EXACT_THREADS: identical epochs, and the
    other runs still count this one (it holds a lease while it trains)."""
    monkeypatch.setenv("GRAPHCONV_CPUS", "2")
    monkeypatch.setenv("GRAPHCONV_EXACT", "1")
    store = RunStore(tmp_path / "runs.db")
    before = torch.get_num_threads()
    seen: list[int] = []
    alone = train(store, cheb(), on_epoch=lambda row: seen.append(torch.get_num_threads()))
    other = Lease(lease_dir())  # a run training beside it
    try:
        torch.set_num_threads(2)
        beside = train(store, cheb(), on_epoch=lambda row: seen.append(len(list(lease_dir().glob("*.lease")))))
    finally:
        other.release()
        torch.set_num_threads(before)
    assert seen[:2] == [EXACT_THREADS] * 2 and seen[2:] == [2, 2]  # its threads; its lease beside the other's
    assert figures(store, alone) == figures(store, beside)
    assert {e["threads"]["max"] for e in store.epochs(alone) + store.epochs(beside)} == {EXACT_THREADS}


def test_through_the_manager_a_run_alone_and_two_side_by_side_give_identical_epochs(tmp_path, monkeypatch):
    """Worker processes, as the app trains: one run alone, then two copies at once on 2 CPUs (each would get one
    thread of a dynamic share, and the lone one two). Exact mode: all three identical, epoch by epoch."""
    monkeypatch.setenv("GRAPHCONV_CPUS", "2")
    monkeypatch.setenv("GRAPHCONV_EXACT", "1")
    manager = RunManager(store=RunStore(tmp_path / "data" / "runs.db"), max_concurrent=2)
    try:
        alone = manager.submit(cheb())
        assert manager.wait(alone, timeout=TIMEOUT)["state"] == "finished"
        pair = manager.submit_many([cheb(), cheb()])
        for run_id in pair:
            assert manager.wait(run_id, timeout=TIMEOUT)["state"] == "finished"
    finally:
        manager.close()
    store = manager.store
    first = figures(store, alone)
    assert len(first) == 2 and all(figures(store, run_id) == first for run_id in pair)
