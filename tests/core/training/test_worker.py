"""The worker's reporter: progress written at a modest rate, stop requests read at a modest rate."""

from __future__ import annotations

from core.training.store import RunStore
from core.training.worker import StoreReporter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def batch(epoch: int, b: int, n: int = 10, loss: float = 1.0) -> dict:
    return {"epoch": epoch, "batch": b, "num_batches": n, "loss": loss}


def test_progress_is_written_at_most_every_interval_and_at_each_epoch_end(tmp_path):
    store = RunStore(tmp_path / "runs.db")
    run_id = store.create_run({}, status="running")
    clock = Clock()
    reporter = StoreReporter(store, run_id, every_s=0.5, clock=clock)
    writes = []
    real = store.log_progress
    store.log_progress = lambda *a, **k: (writes.append(a), real(*a, **k))
    for b in range(1, 11):  # ten batches in 0.9 s: writes at t=0 (first), t=0.5, and the epoch's last batch
        clock.now = (b - 1) * 0.1
        reporter.on_batch(batch(1, b, loss=1.0 / b))
    assert [w[2] for w in writes] == [1, 6, 10]
    got = store.progress(run_id)
    assert (got["epoch"], got["batch"], got["num_batches"]) == (1, 10, 10) and got["loss"] == 0.1
    assert [round(x, 2) for x, _ in got["points"]] == [round(b / 10, 2) for b in range(1, 11)]  # none lost


def test_stop_request_is_read_at_most_every_interval(tmp_path):
    store = RunStore(tmp_path / "runs.db")
    run_id = store.create_run({}, status="running")
    clock = Clock()
    reporter = StoreReporter(store, run_id, every_s=0.5, clock=clock)
    assert reporter.should_stop() is False
    store.request_stop(run_id)
    clock.now = 0.2
    assert reporter.should_stop() is False  # not read again yet
    clock.now = 0.6
    assert reporter.should_stop() is True
    clock.now = 0.7
    assert reporter.should_stop() is True  # stays stopped
