"""Fair CPU shares: the share arithmetic, the machine-wide lease registry (in one process, and with a
holder that is killed), a run's stored thread counts, and two runs of the real RunManager giving each
other room: a run trains with 4 threads alone, 2 while a second run trains, and 4 again after it."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from core.errors import UserInputError
from core.training import cpu_share
from core.training.cpu_share import CpuShare, Lease, default_max_runs, describe, live_leases, share_of, usable_cpus
from core.training.runner import RunManager
from core.training.runs import RunConfig
from core.training.store import RunStore
from core.training.worker import execute_reporting
from tests.core.training.polling import wait_for

REPO = Path(__file__).resolve().parents[3]
TIMEOUT = 180.0  # generous: a loaded 2-core machine


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def cpus4(tmp_path, monkeypatch) -> Path:
    """4 usable CPUs and a registry folder of this test's own, so no figure depends on this machine."""
    folder = tmp_path / "cpu"
    monkeypatch.setenv("GRAPHCONV_CPUS", "4")
    monkeypatch.setenv("GRAPHCONV_CPU_DIR", str(folder))
    return folder


def test_shares_split_the_cpus_oldest_runs_first():
    assert share_of(0, 1, 4) == 4
    assert [share_of(r, 2, 4) for r in range(2)] == [2, 2]
    assert [share_of(r, 2, 5) for r in range(2)] == [3, 2]
    assert [share_of(r, 3, 7) for r in range(3)] == [3, 2, 2]
    assert [share_of(r, 5, 16) for r in range(5)] == [4, 3, 3, 3, 3]
    assert [share_of(r, 3, 2) for r in range(3)] == [1, 1, 1]  # more runs than CPUs: each still gets one
    assert share_of(0, 0, 3) == 3  # no runs counted (cannot happen while one holds a lease): all of them
    for cpus in range(1, 9):  # never more threads than CPUs while there are at most as many runs as CPUs
        for runs in range(1, cpus + 1):
            assert sum(share_of(r, runs, cpus) for r in range(runs)) == cpus


def test_usable_cpus_reads_graphconv_cpus_and_refuses_bad_values(monkeypatch):
    monkeypatch.delenv("GRAPHCONV_CPUS", raising=False)
    assert usable_cpus() == len(os.sched_getaffinity(0))
    monkeypatch.setenv("GRAPHCONV_CPUS", " 3 ")
    assert usable_cpus() == 3
    for bad in ("0", "-2", "two", "1.5"):
        monkeypatch.setenv("GRAPHCONV_CPUS", bad)
        with pytest.raises(UserInputError, match="GRAPHCONV_CPUS: must be a positive whole number"):
            usable_cpus()


def test_max_runs_default_follows_cpus_and_memory(monkeypatch, tmp_path):
    monkeypatch.setattr(cpu_share, "memory_mb", lambda: 6000)  # half of it holds 10 workers of 300 MB
    for cpus, expected in (("1", 2), ("4", 4), ("64", 10)):
        monkeypatch.setenv("GRAPHCONV_CPUS", cpus)
        assert default_max_runs() == expected
    monkeypatch.setattr(cpu_share, "memory_mb", lambda: 1000)  # room for one: still 2
    assert default_max_runs() == 2
    monkeypatch.setenv("GRAPHCONV_CPUS", "many")
    with pytest.raises(UserInputError, match="GRAPHCONV_CPUS"):  # the manager refuses it before any run is stored
        RunManager(store=RunStore(tmp_path / "runs.db"))


def test_leases_in_one_process_share_and_give_back(cpus4):
    clock, applied_a, applied_b = Clock(), [], []
    with CpuShare(clock=clock, apply=applied_a.append) as a:
        assert (a.threads, a.runs, applied_a) == (4, 1, [4])
        with CpuShare(clock=clock, apply=applied_b.append) as b:
            assert (b.threads, b.runs) == (2, 2)
            assert len(live_leases(cpus4)) == 2
            assert a.refresh() == 4  # looked less than 0.5 s ago: not again yet
            clock.now = 0.6
            assert a.refresh() == 2 and a.runs == 2
        assert a.refresh() == 2  # rate-limited
        clock.now = 1.2
        assert a.refresh() == 4 and a.runs == 1
        assert applied_a == [4, 2, 4]  # changed only when the share changed
        assert a.epoch_threads() == {"min": 2, "max": 4, "cpus": 4, "runs": 1}
        assert a.epoch_threads() == {"min": 4, "max": 4, "cpus": 4, "runs": 1}  # the next epoch starts afresh
    assert applied_b == [2]
    assert list(cpus4.iterdir()) == []  # both leases gone


def test_uneven_shares_favour_the_older_run(cpus4, monkeypatch):
    monkeypatch.setenv("GRAPHCONV_CPUS", "5")
    with CpuShare(apply=lambda n: None) as old, CpuShare(apply=lambda n: None) as new:
        assert (old.share(), new.share()) == (3, 2)


def test_a_killed_holder_no_longer_counts(cpus4):
    cpus4.mkdir(parents=True)
    code = (
        "import sys, time; from pathlib import Path; from core.training.cpu_share import Lease; "
        "Lease(Path(sys.argv[1])); print('ready', flush=True); time.sleep(600)"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code, str(cpus4)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        clock = Clock()
        with CpuShare(clock=clock, apply=lambda n: None) as mine:
            assert (mine.threads, mine.runs) == (2, 2)  # the holder is older: 2 each
            holder.send_signal(signal.SIGKILL)
            holder.wait(30)
            clock.now = 1.0
            assert (mine.refresh(), mine.runs) == (4, 1)
            assert [p.name for p in cpus4.iterdir()] == [mine.lease.name]  # the stale lease was removed
    finally:
        holder.kill()
        holder.wait(30)


def test_a_lease_taken_later_ranks_after(cpus4):
    cpus4.mkdir(parents=True)
    first, second = Lease(cpus4), Lease(cpus4)
    try:
        assert live_leases(cpus4) == [first.name, second.name]
    finally:
        second.release()
        first.release()
    assert live_leases(cpus4) == [] and not first.held()


def test_a_lost_or_unusable_registry_never_ends_a_run(cpus4, tmp_path, monkeypatch):
    clock = Clock()
    with CpuShare(clock=clock, apply=lambda n: None) as mine, CpuShare(clock=clock, apply=lambda n: None):
        clock.now = 0.6
        assert mine.refresh() == 2
        shutil.rmtree(cpus4)  # a cleaner of the temp folder took the registry, leases and all
        clock.now = 1.2
        assert (mine.refresh(), mine.runs) == (4, 1)  # a new lease, new folder (the other's comes when it looks)
        assert live_leases(cpus4) == [mine.lease.name]
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("GRAPHCONV_CPU_DIR", str(blocked))
    with CpuShare(apply=lambda n: None) as alone:
        assert (alone.threads, alone.runs, alone.lease) == (4, None, None)  # no registry: all usable CPUs


def test_describe_puts_a_record_in_words():
    assert describe({"min": 1, "max": 1, "cpus": 2, "runs": 2}) == "1 of 2 cores (2 runs training)"
    assert describe({"min": 2, "max": 4, "cpus": 4, "runs": 1}) == "2–4 of 4 cores (1 run training)"
    assert describe({"min": 1, "max": 1, "cpus": 1, "runs": None}) == "1 thread"
    assert describe(None) == "" and describe({}) == ""


def mlp(**kw) -> RunConfig:
    return RunConfig.make(**{"model": "mlp", "hidden": 16, "epochs": 2, "quick": True, "device": "cpu", **kw})


def test_an_in_process_run_stores_its_threads_and_leaves_torch_as_it_was(cpus4, tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHCONV_CPUS", "3")
    store = RunStore(tmp_path / "runs.db")
    before, seen = torch.get_num_threads(), []
    run_id = store.create_run(mlp().to_dict(), status="queued")  # as the CLI does before training in its process
    out = execute_reporting(mlp(), store, run_id, on_epoch=lambda row: seen.append(torch.get_num_threads()))
    assert out["status"] == "finished" and seen == [3, 3]
    assert [e["threads"] for e in store.epochs(run_id)] == [{"min": 3, "max": 3, "cpus": 3, "runs": 1}] * 2
    assert torch.get_num_threads() == before and list(cpus4.iterdir()) == []

    fixed = store.create_run(mlp(epochs=1).to_dict(), status="queued")  # a fixed count (as on Ray): no lease
    execute_reporting(mlp(epochs=1), store, fixed, threads=1)
    assert store.epochs(fixed)[0]["threads"] == {"min": 1, "max": 1, "cpus": 1, "runs": None}

    monkeypatch.setenv("GRAPHCONV_CPUS", "0")
    bad = store.create_run(mlp().to_dict(), status="queued")
    with pytest.raises(UserInputError):
        execute_reporting(mlp(), store, bad)
    assert store.get_run(bad)["status"] == "failed" and "GRAPHCONV_CPUS" in store.get_run(bad)["error"]


def threads(store: RunStore, run_id: int) -> list[tuple[int, int, int]]:
    """(min, max, runs) of each stored epoch of a run."""
    return [(e["threads"]["min"], e["threads"]["max"], e["threads"]["runs"]) for e in store.epochs(run_id)]


def test_a_run_gives_half_its_threads_to_a_second_run_and_takes_them_back(cpus4, tmp_path):
    """Through the real RunManager and worker processes: run A trains alone (4 threads), B starts (2 each),
    B ends (A back to 4). Phases end on what the store shows, not on timing, so a slow machine only waits longer."""
    manager = RunManager(store=RunStore(tmp_path / "data" / "runs.db"), max_concurrent=2, stop_grace_s=5.0)
    store = manager.store
    try:
        a = manager.submit(mlp(epochs=500, seed=1))
        wait_for(lambda: len(threads(store, a)) >= 2, TIMEOUT, "run A to train alone")
        b = manager.submit(mlp(epochs=500, seed=2))
        wait_for(
            lambda: (2, 2, 2) in threads(store, a) and threads(store, b), TIMEOUT, "A to train on half while B trains"
        )
        manager.stop(b)
        assert manager.wait(b, timeout=TIMEOUT)["state"] == "stopped"
        after_b = len(threads(store, a))
        wait_for(lambda: (4, 4, 1) in threads(store, a)[after_b:], TIMEOUT, "A to take all 4 threads back")
        manager.stop(a)
        assert manager.wait(a, timeout=TIMEOUT)["state"] == "stopped"
    finally:
        manager.close()
    rows_a, rows_b = threads(store, a), threads(store, b)
    first_half, last_half = rows_a.index((2, 2, 2)), len(rows_a) - 1 - rows_a[::-1].index((2, 2, 2))
    assert rows_a[0] == (4, 4, 1) and set(rows_a[:first_half]) <= {(4, 4, 1), (2, 4, 2)}  # alone, then B came
    assert (4, 4, 1) in rows_a[last_half:] and all(row[1] == 4 for row in rows_a[last_half + 1 :])  # B gone: 4 again
    assert set(rows_a[first_half : last_half + 1]) == {(2, 2, 2)}  # every epoch while B trained: 2 threads
    assert rows_b and set(rows_b) == {(2, 2, 2)}  # B, the younger run, had 2 of 4 all along
    # both workers gave their leases back: no lease is held once their processes are gone (a stopped worker's
    # process may still be exiting as close() returns; its file, if left, is unlocked: stale, and removed here)
    wait_for(lambda: live_leases(cpus4) == [], 60, "the workers' leases to be free")
    assert list(cpus4.iterdir()) == []
