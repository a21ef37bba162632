"""Hard limits on training workers (public mode, issue 29), with real worker processes: a run over its memory
limit fails alone with the reason, a run over its wall-clock limit ends ``stopped`` with its epochs kept, a
stuck worker is ended by its watchdog, and every worker is the kernel's first pick when memory runs out."""

from __future__ import annotations

import multiprocessing as mp
import os
import resource
import time

import pytest
import torch

from core.training.process_backend import exit_reason
from core.training.runner import ENV_KEYS, RunManager
from core.training.runs import RunConfig
from core.training.store import RunStore, load_checkpoint
from core.training.worker import (
    ENDED_BY_WATCHDOG,
    OOM_SCORE_ADJ,
    StoreReporter,
    memory_message,
    start_watchdog,
    time_limit_reason,
)
from tests.core.training.polling import wait_for

TIMEOUT = 120.0
pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/oom_score_adj"), reason="needs Linux's /proc")


@pytest.fixture
def manager_with(tmp_path, monkeypatch):
    """``manager_with(**env)``: a two-slot manager whose workers get ``env`` (quick mode on); closed after the test."""
    made = []

    def make(**env: str) -> RunManager:
        monkeypatch.setenv("GRAPHCONV_QUICK", "1")
        for key in ("GRAPHCONV_WORKER_MB", "GRAPHCONV_RUN_WALL_S", "GRAPHCONV_PUBLIC"):
            monkeypatch.delenv(key, raising=False)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        made.append(RunManager(store=RunStore(tmp_path / "data" / "runs.db"), max_concurrent=2, stop_grace_s=1.0))
        return made[-1]

    yield make
    for m in made:
        m.close()


def mlp(**kw) -> RunConfig:
    return RunConfig.make(**{"model": "mlp", "hidden": 16, "epochs": 1, "quick": True, "device": "cpu", **kw})


def proc_value(pid: int, name: str) -> str:
    with open(f"/proc/{pid}/{name}") as f:
        return f.read()


def address_space_limit(pid: int) -> str:
    """The soft ``Max address space`` of a process, as /proc/<pid>/limits writes it (bytes or 'unlimited')."""
    line = next(x for x in proc_value(pid, "limits").splitlines() if x.startswith("Max address space"))
    return line.split()[3]


def vm_size_mb(pid: int) -> float:
    line = next(x for x in proc_value(pid, "status").splitlines() if x.startswith("VmSize:"))
    return int(line.split()[1]) / 1024


def test_the_limits_reach_the_workers():
    """A worker's environment is the forkserver's, so the limits must travel with each run's settings."""
    assert {"GRAPHCONV_PUBLIC", "GRAPHCONV_WORKER_MB", "GRAPHCONV_RUN_WALL_S"} <= set(ENV_KEYS)


def test_a_run_over_its_memory_limit_fails_alone_with_the_reason(manager_with):
    m = manager_with(GRAPHCONV_WORKER_MB="300")
    limit_before = resource.getrlimit(resource.RLIMIT_AS)
    # one batch of 1,000 quick-mode digits through 256 5x5 filters: its first activation alone is 803 MB
    big = m.submit(RunConfig.make(model="cnn", hidden=256, batch_size=1024, epochs=1, quick=True, device="cpu"))
    small = m.submit(mlp(epochs=2, seed=1))  # trains beside it, in the other slot, in well under 300 MB
    done_big, done_small = m.wait(big, TIMEOUT), m.wait(small, TIMEOUT)

    assert done_big["state"] == "failed"
    assert done_big["error"] == memory_message(300)  # the worker's words, not "killed by SIGKILL"
    assert "300 MB" in done_big["error"] and "GRAPHCONV_WORKER_MB" in done_big["error"]
    assert done_big["run"]["pid"] not in (None, os.getpid())
    assert done_small["state"] == "finished" and done_small["error"] is None
    assert [e["epoch"] for e in m.store.epochs(small)] == [1, 2]
    assert load_checkpoint(m.store.get_run(small)["checkpoint"])  # its weights were saved as usual

    # the server's process is unaffected: no limit of its own, and it can still take what the worker could not
    assert resource.getrlimit(resource.RLIMIT_AS) == limit_before
    x = torch.empty(1000 * 256 * 28 * 28)
    x.fill_(1.0)
    assert float(x[-1]) == 1.0
    del x
    after = m.submit(mlp(seed=2))  # and the manager goes on starting runs
    assert m.wait(after, TIMEOUT)["state"] == "finished"


def test_a_run_over_its_time_limit_ends_stopped_with_its_epochs_kept(manager_with):
    m = manager_with(GRAPHCONV_RUN_WALL_S="4")
    t0 = time.monotonic()
    run_id = m.submit(mlp(epochs=500))  # far longer than 4 s (500 is the most validate allows)
    done = m.wait(run_id, TIMEOUT)
    took = time.monotonic() - t0

    assert done["state"] == "stopped"
    assert done["error"] == time_limit_reason(4) == "stopped: reached the time limit of 4 s (GRAPHCONV_RUN_WALL_S)"
    assert not done["stop_requested"]  # nobody asked: the worker stopped itself
    epochs = [e["epoch"] for e in m.store.epochs(run_id)]
    assert 1 <= len(epochs) < 500 and epochs == list(range(1, len(epochs) + 1))
    run = m.store.get_run(run_id)
    assert run["summary"]["status"] == "stopped" and run["summary"]["error"] == done["error"]
    assert load_checkpoint(run["checkpoint"])  # a stopped run keeps its weights, as after a stop request
    assert took < 4 + 40  # the deadline ended it, not the test's timeout (a loaded 2-core machine starts slowly)


def test_a_worker_is_the_kernels_first_pick_and_holds_its_address_space_limit(manager_with):
    m = manager_with(GRAPHCONV_WORKER_MB="1200")
    own_score = proc_value(os.getpid(), "oom_score_adj").strip()
    run_id = m.submit(mlp(epochs=500))
    pid = wait_for(
        lambda: m.live(run_id)["state"] == "running" and m.store.epochs(run_id) and m.store.get_run(run_id)["pid"],
        timeout=TIMEOUT,
        what="the run to train",
    )
    try:
        score, limit, size = proc_value(pid, "oom_score_adj").strip(), address_space_limit(pid), vm_size_mb(pid)
    finally:
        m.stop(run_id)
    assert score == str(OOM_SCORE_ADJ) == "1000"
    assert proc_value(os.getpid(), "oom_score_adj").strip() == own_score  # the server's own is left alone
    start_mb = int(limit) / 2**20 - 1200  # the limit: the worker's address space when it started, plus 1,200 MB
    assert 500 < start_mb <= size < start_mb + 1200
    assert m.wait(run_id, TIMEOUT)["state"] == "stopped"


def stuck_worker(db_path: str, run_id: int, finish_first: bool) -> None:
    """A worker with one finished epoch whose next batch never returns (a sleep: native code, no GIL held), under
    a 1 s time limit and a 1 s grace; or (``finish_first``) one whose run ended before its deadline."""
    store = RunStore(db_path)
    store.start(run_id, "cpu")
    store.log_epoch(run_id, 1, train_loss=1.0, train_accuracy=0.5, test_accuracy=0.25, seconds=0.1)
    start_watchdog(store, run_id, wall_s=1.0, grace_s=1.0)
    if finish_first:
        store.finish(run_id, {"run_id": run_id, "status": "finished"})
        time.sleep(3.0)  # tidying up past the deadline: the watchdog leaves it alone
        return
    time.sleep(600)


def test_the_watchdog_ends_a_worker_stuck_past_its_deadline(tmp_path):
    store = RunStore(tmp_path / "data" / "runs.db")
    stuck, finished = store.create_run({}, status="queued"), store.create_run({}, status="queued")
    ctx = mp.get_context("forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn")
    procs = [
        ctx.Process(target=stuck_worker, args=(str(store.path), run_id, run_id == finished), daemon=True)
        for run_id in (stuck, finished)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [ENDED_BY_WATCHDOG, 0]

    run = store.get_run(stuck)
    assert run["status"] == "stopped"
    assert run["error"] == (time_limit_reason(1) + "; the worker did not stop within 1 s after it and was ended")
    assert run["summary"]["epochs_done"] == 1 and run["summary"]["test_accuracy"] == 0.25
    assert [e["epoch"] for e in store.epochs(stuck)] == [1]
    assert store.get_run(finished)["status"] == "finished" and store.get_run(finished)["error"] is None
    # had it not been able to record the run, the manager would say why the worker went
    assert "time limit" in exit_reason(ENDED_BY_WATCHDOG) and "GRAPHCONV_RUN_WALL_S" in exit_reason(ENDED_BY_WATCHDOG)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_reporter_stops_a_run_at_its_deadline_with_the_reason(tmp_path):
    store = RunStore(tmp_path / "runs.db")
    run_id = store.create_run({}, status="running")
    clock = Clock()
    timed = StoreReporter(store, run_id, every_s=0.5, clock=clock, wall_s=900)
    untimed = StoreReporter(store, run_id, every_s=0.5, clock=clock)
    clock.now += 899.9
    assert timed.should_stop() is False and untimed.should_stop() is False
    clock.now += 0.1
    assert timed.should_stop() == "stopped: reached the time limit of 900 s (GRAPHCONV_RUN_WALL_S)"
    assert untimed.should_stop() is False
    store.request_stop(run_id)
    clock.now += 1.0
    assert untimed.should_stop() is True  # a stop request is still plain True (no reason to record)
    assert timed.should_stop() == time_limit_reason(900)  # stays stopped, for the first reason
