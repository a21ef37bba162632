"""Runs resume after a crash or restart (issue 32, part 2): a worker saves a resume point after every epoch, and a
starting server takes over the runs of a dead one: it queues them again under their ids, trains them on from their
last finished epoch (ending where an uninterrupted run ends), and ends ``interrupted`` only those that cannot go on.

The real thing is ``test_a_killed_server_s_runs_resume_and_equal_uninterrupted_ones``: a server in its own process,
killed with SIGKILL (its workers with it) in the middle of two runs, and a new server on the same store."""

from __future__ import annotations

import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest
import torch

from core.config import REPO_ROOT
from core.training.resume import (
    RESUMED_ARTIFACT,
    TRAIN_STATE_ARTIFACT,
    continuable,
    load_resume_point,
    plan_takeover,
    resume_note,
)
from core.training.runner import RunManager, progress_text
from core.training.runs import RunConfig
from core.training.store import RunStore, load_checkpoint
from core.training.store.liveness import _pid_alive
from core.training.worker import execute_reporting
from tests.core.training.polling import wait_for

TIMEOUT = 240.0


def quick(**kw) -> RunConfig:
    """A quick MLP with dropout on the CPU (its training draws dropout masks, so the random streams matter)."""
    return RunConfig.make(
        **{"model": "mlp", "quick": True, "hidden": 16, "dropout": 0.5, "device": "cpu", "seed": 3, "epochs": 3, **kw}
    )


class Crash(Exception):
    """Stands for the process dying: raised from inside the training loop, after an epoch's row was stored."""


def crashed_after(store: RunStore, cfg: RunConfig, epochs: int) -> int:
    """A stored run of ``cfg`` that trained ``epochs`` epochs, then "died" in the next one and was left ``running``
    by a dead process, as a killed server leaves it (its resume point: epoch ``epochs``)."""
    run_id = store.create_run(cfg.to_dict(), name=cfg.label())

    def die(row: dict) -> None:
        if row["epoch"] > epochs:  # the next epoch's row is stored, its resume point is not
            raise Crash

    with pytest.raises(Crash):
        execute_reporting(cfg, store, run_id, on_epoch=die, exact=True)
    orphan(store, run_id)
    return run_id


def dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def set_row(store: RunStore, run_id: int, **fields: object) -> None:
    """Write a run's columns directly (a dead owner, another host), as only a crash could leave them."""
    assignments = ", ".join(f"{key} = ?" for key in fields)
    with closing(sqlite3.connect(store.path)) as conn, conn:
        conn.execute(f"UPDATE runs SET {assignments} WHERE id = ?", (*fields.values(), run_id))


def orphan(store: RunStore, run_id: int, status: str = "running") -> None:
    """Leave run ``run_id`` active, owned by a process that no longer exists."""
    set_row(store, run_id, status=status, pid=dead_pid(), error=None, summary="{}", checkpoint=None)


def weights(store: RunStore, run_id: int) -> dict[str, torch.Tensor]:
    checkpoint = store.require_run(run_id).checkpoint
    assert checkpoint is not None, f"run {run_id} saved no weights"
    return load_checkpoint(checkpoint)


def assert_same_training(store: RunStore, a: int, b: int) -> None:
    """Runs ``a`` and ``b`` trained the same epochs to the same numbers and weights."""
    rows_a, rows_b = store.epochs(a), store.epochs(b)
    assert [r["epoch"] for r in rows_a] == [r["epoch"] for r in rows_b]
    for x, y in zip(rows_a, rows_b, strict=True):
        for key in ("train_loss", "train_accuracy", "test_accuracy"):
            assert x[key] == pytest.approx(y[key], abs=1e-6), (x["epoch"], key)
    wa, wb = weights(store, a), weights(store, b)
    assert wa.keys() == wb.keys()
    assert max(float((wa[k].float() - wb[k].float()).abs().max()) for k in wa) <= 1e-6


# -- the resume point --------------------------------------------------------------------------------------------


def test_every_epoch_overwrites_the_one_resume_point():
    """While a run trains it keeps one resume point, its last finished epoch's (weights and training state), written
    after that epoch's row; its end leaves the plain training state beside the checkpoint, as continuing reads it."""
    store = RunStore()
    cfg = quick(epochs=3, schedule="plateau")
    run_id = store.create_run(cfg.to_dict())
    seen = []

    def look(row: dict) -> None:  # called as an epoch ends, before its own point is written
        point = load_resume_point(store, run_id)
        seen.append(None if point is None else point["epoch"])
        assert len(store.list_artifacts(run_id, TRAIN_STATE_ARTIFACT)) == (row["epoch"] > 1)
        if point is not None:
            assert point["weights"] and all(isinstance(v, torch.Tensor) for v in point["weights"].values())
            assert point["step"] == point["epoch"] * point["batches_per_epoch"] and point["optimizer"]["state"]

    out = execute_reporting(cfg, store, run_id, on_epoch=look, exact=True)
    assert out["status"] == "finished" and seen == [None, 1, 2]
    assert store.list_artifacts(run_id, TRAIN_STATE_ARTIFACT) == [{"name": TRAIN_STATE_ARTIFACT, "epoch": None}]
    final = torch.load(io.BytesIO(store.load_artifact(run_id, TRAIN_STATE_ARTIFACT)), weights_only=True)
    assert final["epoch"] == 3 and "weights" not in final  # the weights are in the checkpoint file
    assert continuable(store, store.get_run(run_id)) == ""


@pytest.mark.parametrize(
    "settings",
    [{"schedule": "constant"}, {"schedule": "plateau"}, {"schedule": "cosine", "augment": "rotate"}],
    ids=["constant", "plateau", "cosine-rotate"],
)
def test_a_crashed_run_goes_on_from_its_point_and_ends_as_if_never_stopped(settings):
    """Killed in epoch 3 of 4 (its epoch-3 row stored, its point not), the run is claimed back from epoch 2: its
    epoch 3 row is dropped and retrained, and it ends with exactly an uninterrupted run's numbers and weights."""
    store = RunStore()
    cfg = quick(epochs=4, **settings)
    whole = store.create_run(cfg.to_dict())
    execute_reporting(cfg, store, whole, exact=True)
    run_id = crashed_after(store, cfg, 2)
    kept = store.epochs(run_id)[:2]
    assert [r["epoch"] for r in store.epochs(run_id)] == [1, 2, 3]

    (run,) = store.orphaned_runs()
    plan = plan_takeover(store, run)
    assert (plan.action, plan.resume_from) == ("queue", 2)
    assert store.claim_orphan(run, resume_from=2)
    out = execute_reporting(cfg, store, run_id, exact=True)  # what the new server's worker does

    assert out["status"] == "finished" and [r["epoch"] for r in out["epochs"]] == [3, 4]
    assert store.epochs(run_id)[:2] == kept  # the finished epochs were kept, not trained again
    assert_same_training(store, whole, run_id)


def test_ctrl_c_ends_a_run_stopped_so_no_server_takes_it_over():
    store = RunStore()
    cfg = quick(epochs=3)
    run_id = store.create_run(cfg.to_dict())

    def press(row: dict) -> None:
        if row["epoch"] == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        execute_reporting(cfg, store, run_id, on_epoch=press, exact=True)
    run = store.require_run(run_id)
    assert (run.status, run.summary.epochs_done) == ("stopped", 2) and "Ctrl-C" in (run.error or "")
    assert store.orphaned_runs(stale_after=-1) == []


# -- what a starting server does with each run ----------------------------------------------------------------------


def test_a_starting_server_ends_what_cannot_go_on_with_the_reason():
    """Finished epochs without a point, an unreadable point, settings this version refuses: interrupted, saying why,
    epochs kept; a run killed while its end was recorded is completed from its point, a run asked to stop ends
    stopped from its point (both open and continue like any run); live runs and other hosts' fresh runs are left."""
    store = RunStore()
    no_state = crashed_after(store, quick(epochs=3), 1)
    with closing(sqlite3.connect(store.path)) as conn, conn:
        conn.execute("DELETE FROM artifacts WHERE run_id = ? AND name = ?", (no_state, TRAIN_STATE_ARTIFACT))
    garbled = crashed_after(store, quick(epochs=3, seed=4), 1)
    store.save_artifact(garbled, TRAIN_STATE_ARTIFACT, b"not a torch file")
    refused = crashed_after(store, quick(epochs=3, seed=5), 1)
    set_row(store, refused, config=json.dumps({**quick().to_dict(), "model": "capsnet"}))
    asked = crashed_after(store, quick(epochs=3, seed=6), 1)
    store.request_stop(asked)
    ending = store.create_run(quick(epochs=2).to_dict())  # killed during its final test pass: all epochs trained,
    execute_reporting(quick(epochs=2), store, ending, exact=True)  # its end state and checkpoint file written
    orphan(store, ending)
    live = store.create_run(quick().to_dict())  # this process's own queued run: alive
    elsewhere = store.create_run(quick().to_dict())  # a dead pid, but of another host: only its heartbeat counts
    set_row(store, elsewhere, pid=dead_pid(), host="another-machine/boot/1")

    manager = RunManager(store, max_concurrent=1)
    try:
        assert manager.taken_over == []
        for run_id, words in (
            (no_state, "saved no training state"),
            (garbled, "unreadable"),
            (refused, "settings are refused"),
        ):
            run = store.require_run(run_id)
            assert run.status == "interrupted" and "cannot resume" in (run.error or "") and words in run.error
            assert run.error.startswith("interrupted by a restart") and len(store.epochs(run_id)) == 2
        stopped, finished = store.require_run(asked), store.require_run(ending)
        assert (stopped.status, [e["epoch"] for e in store.epochs(asked)]) == ("stopped", [1])
        assert (finished.status, finished.error) == ("finished", None)
        assert finished.summary.test_accuracy == store.epochs(ending)[-1]["test_accuracy"]
        for run_id in (asked, ending):
            assert (
                load_checkpoint(store.require_run(run_id).checkpoint)
                and continuable(store, store.get_run(run_id)) == ""
            )
        assert resume_note(store, ending) == "resumed from epoch 2 after a restart"
        assert store.require_run(live).status == "queued" and store.require_run(elsewhere).status == "queued"
    finally:
        manager.close()


def test_a_run_queued_again_and_stopped_before_it_goes_on_keeps_its_epochs_and_weights():
    store = RunStore()
    ahead = store.create_run(quick(epochs=300).to_dict())  # older: takes the only slot first
    orphan(store, ahead, status="queued")
    run_id = crashed_after(store, quick(epochs=3), 1)
    manager = RunManager(store, max_concurrent=1, stop_grace_s=1.0)
    try:
        assert manager.taken_over == [ahead, run_id]
        assert manager.stop(run_id)
        snap = manager.wait(run_id, timeout=TIMEOUT)
        assert snap is not None and snap["state"] == "stopped" and "after a restart" in snap["error"]
        assert [e["epoch"] for e in store.epochs(run_id)] == [1] and load_checkpoint(
            store.require_run(run_id).checkpoint
        )
        assert manager.stop(ahead) and manager.wait(ahead, timeout=TIMEOUT)["state"] == "stopped"
    finally:
        manager.close()


def test_the_ray_backend_does_not_resume_a_run_that_trained_epochs():
    store = RunStore()
    run_id = crashed_after(store, quick(epochs=3), 1)
    plan = plan_takeover(store, store.require_run(run_id), backend="ray")
    assert plan.action == "interrupt" and "Ray backend keeps no training state" in plan.reason
    fresh = store.create_run(quick().to_dict())  # no epoch yet: it starts afresh there too
    assert plan_takeover(store, store.require_run(fresh), backend="ray").action == "queue"


def test_the_status_line_says_a_run_was_resumed():
    live = {"num_batches": 16, "epoch": 3, "epochs": 4, "batch": 2, "loss": 0.5, "resumed": ""}
    assert progress_text(live) == "epoch 3/4, batch 2/16, loss 0.5000"
    live["resumed"] = "resumed from epoch 2 after a restart"
    assert progress_text(live) == "epoch 3/4, batch 2/16, loss 0.5000 · resumed from epoch 2 after a restart"


# -- the real thing: kill -9 of a server ----------------------------------------------------------------------------

SERVER = """
import json, sys, time
from core.training.runner import RunManager
from core.training.runs import RunConfig
from core.training.store import RunStore
manager = RunManager(RunStore(sys.argv[1]), max_concurrent=1)
print(*manager.taken_over, "|", *[manager.submit(RunConfig.from_dict(json.loads(c))) for c in sys.argv[2:]], flush=True)
time.sleep(600)
"""


def serve(db: Path, *configs: RunConfig) -> tuple[subprocess.Popen, list[int], list[int]]:
    """A server in its own process on the store at ``db``, one run training at a time, that submits ``configs``:
    (its process, the ids it took over as it started, the ids of ``configs``)."""
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(db), *(json.dumps(c.to_dict()) for c in configs)],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: the server, its forkserver and workers die together
    )
    line = server.stdout.readline() if server.stdout else ""
    taken, _, submitted = line.partition("|")
    return server, [int(x) for x in taken.split()], [int(x) for x in submitted.split()]


def kill_past_epoch_2(server: subprocess.Popen, store: RunStore, run_id: int) -> list:
    """SIGKILL ``server`` with its forkserver and workers once run ``run_id`` is past epoch 2 (epoch 3 began and the
    point of epoch 2 is stored); the run's epoch rows as the kill left them."""

    def past_epoch_2() -> bool:
        if (store.progress(run_id) or {}).get("epoch", 0) < 3:
            return False
        point = load_resume_point(store, run_id)  # epoch 2's is written beside epoch 3, by the worker's writer thread
        if point is None or point["epoch"] < 2:
            return False
        os.killpg(server.pid, signal.SIGSTOP)  # frozen at once: on a fast machine the run had ended before the kill
        return True

    try:
        wait_for(past_epoch_2, timeout=TIMEOUT, what=f"run {run_id}", every=0.01)
        worker = store.require_run(run_id).pid
    finally:
        os.killpg(server.pid, signal.SIGKILL)  # kill -9 of the server, its forkserver and its workers
        server.wait(timeout=30)
        if server.stdout:
            server.stdout.close()
    wait_for(lambda: not (worker and _pid_alive(worker)), what="the worker to die")
    assert store.require_run(run_id).status == "running"
    return store.epochs(run_id)


def test_a_killed_server_s_runs_resume_and_equal_uninterrupted_ones(isolated_data_dir, monkeypatch):
    """A server trains a constant-schedule run, with a plateau run and a one-epoch run queued behind it, and is killed
    with SIGKILL (its worker with it) once the first is past epoch 2 of 8. A second server on the same store resumes
    it under its id from its last finished epoch, its finished epoch rows kept, and queues the others again; it is
    killed in turn once the plateau run is past epoch 2. A third resumes that one. Each resumed run ends with exactly
    the numbers and weights of an uninterrupted run of its config (exact mode: one thread per run, as on a public
    server), and the queued run trains once."""
    monkeypatch.setenv("GRAPHCONV_EXACT", "1")
    db = isolated_data_dir / "runs.db"
    store = RunStore(db)
    configs = [quick(epochs=8, schedule="constant"), quick(epochs=8, schedule="plateau"), quick(epochs=1, seed=9)]
    first, taken, (constant, plateau, queued) = serve(db, *configs)
    assert taken == []
    before = {constant: kill_past_epoch_2(first, store, constant)}
    second, taken, _ = serve(db)
    assert taken == [constant, plateau, queued]
    before[plateau] = kill_past_epoch_2(second, store, plateau)
    assert store.require_run(constant).status == "finished" and store.require_run(queued).status == "queued"

    manager = RunManager(store, max_concurrent=2)
    try:
        assert manager.taken_over == [plateau, queued]
        references = [manager.submit(cfg) for cfg in configs[:2]]  # the same runs, never interrupted
        for run_id in (plateau, queued, *references):
            snap = manager.wait(run_id, timeout=TIMEOUT)
            assert snap is not None and snap["state"] == "finished", snap
    finally:
        manager.close()

    for run_id, reference in zip((constant, plateau), references, strict=True):
        assert 2 <= len(before[run_id]) < 8, before[run_id]
        (resumed,) = [entry["epoch"] for entry in store.load_artifact(run_id, RESUMED_ARTIFACT)]
        assert 2 <= resumed <= len(before[run_id])
        assert store.epochs(run_id)[:resumed] == before[run_id][:resumed]  # kept as they were, not trained again
        assert resume_note(store, run_id) == f"resumed from epoch {resumed} after a restart"
        assert_same_training(store, reference, run_id)
    assert [e["epoch"] for e in store.epochs(queued)] == [1] and resume_note(store, queued) == ""
