"""The contract every run store keeps (``core.training.store.base.AbstractStore``), as functions of a store.

``test_store_contract.py`` runs each on every store backend it can open (SQLite today); a second backend joins by
adding its name and factory there. Each function gets a fresh, empty store and uses only the interface's calls, so
it says nothing about how a backend keeps its rows.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import torch

from core.errors import RunNotFoundError, UserInputError
from core.training.runs import RunConfig
from core.training.store import (
    AbstractStore,
    Run,
    RunGroup,
    RunSummary,
    RunWriter,
    as_run,
    load_checkpoint,
    save_checkpoint,
    store_at,
)

CONFIG = RunConfig.make(model="mlp", hidden=16, epochs=2, quick=True, seed=3).to_dict()
SUMMARY = {"run_id": 0, "status": "finished", "test_accuracy": 0.75, "parameters": 12_730, "seconds": 1.5}


def _run(store: AbstractStore, **kw) -> int:
    return store.create_run(CONFIG, name="MLP", **kw)


def creates_and_reads_a_run(store: AbstractStore) -> None:
    """A new run reads back as a queued Run with its config, name and session; the dict forms are its to_dict."""
    run_id = _run(store, session="s1", device="cpu")
    run = store.require_run(run_id)
    assert isinstance(run, Run) and run.id == run_id and run.status == "queued" and run.active and not run.ended
    assert run.config == CONFIG and run.name == "MLP" and run.session == "s1" and run.device == "cpu"
    assert run.model == "mlp" and run.parent is None and run.group is None and run.group_id is None
    assert run.summary == RunSummary() and run.error is None and run.checkpoint is None
    assert run.created_at > 0 and run.updated_at >= run.created_at and run.heartbeat is not None
    assert run.versions["python"]  # library versions recorded with the run
    assert store.run(run_id) == run and store.get_run(run_id) == run.to_dict()


def the_typed_and_dict_forms_agree(store: AbstractStore) -> None:
    """get_run, list_runs and runs_with_weights are the dict forms of run and runs, for runs in every state."""
    group = RunGroup("sweep", "sweep:1:K", params=("K",))
    ids = [_run(store), _run(store, group=group), _run(store, session="s")]
    store.start(ids[1], "cpu")
    store.log_epoch(ids[1], 1, train_loss=0.5, test_accuracy=0.7)
    store.finish(ids[1], SUMMARY, checkpoint=save_checkpoint({}, store.data_folder / "checkpoints" / "a.pt"))
    store.fail(ids[2], "boom")
    for run_id in ids:
        run = store.require_run(run_id)
        assert store.get_run(run_id) == run.to_dict()
        assert Run.from_dict(run.to_dict(), run.group) == run  # the dict form holds everything but the group's fields
        assert as_run(run.to_dict()).to_dict() == run.to_dict() and as_run(run) is run
    assert store.list_runs() == [r.to_dict() for r in store.runs()]
    assert store.list_runs(group=group.id) == [r.to_dict() for r in store.runs(group=group)]
    assert store.runs_with_weights() == [store.require_run(ids[1]).to_dict()]


def the_summary_is_typed_and_kept_whole(store: AbstractStore) -> None:
    """A finished run's summary reads as typed fields, and to_dict gives back every key as stored."""
    run_id = _run(store)
    store.start(run_id, "cpu")
    summary = {**SUMMARY, "run_id": run_id, "evaluation_error": None, "label": "MLP"}
    store.finish(run_id, summary)
    run = store.require_run(run_id)
    assert run.status == "finished" and run.ended and not run.active
    assert run.summary.test_accuracy == 0.75 and run.summary.parameters == 12_730 and run.summary.seconds == 1.5
    assert run.summary.peak_mb is None and run.summary.early_stopped is False
    assert run.summary.to_dict() == summary and store.require_run(run_id).to_dict()["summary"] == summary


def lists_runs_newest_first_with_filters(store: AbstractStore) -> None:
    sweep = RunGroup("sweep", "sweep:2:lr", params=("lr",))
    a, b, c = _run(store, session="x"), _run(store, group=sweep), _run(store, session="x", kind="starter")
    store.start(b, "cpu")
    assert [r.id for r in store.runs()] == [c, b, a]
    assert [r.id for r in store.runs(limit=2)] == [c, b]
    assert [r.id for r in store.runs(status="running")] == [b]
    assert [r.id for r in store.runs(status=("queued", "running"))] == [c, b, a]
    assert [r.id for r in store.runs(session="x")] == [c, a]
    assert [r.id for r in store.runs(kind="starter")] == [c]
    assert [r.id for r in store.runs(group=sweep)] == [b] == [r.id for r in store.runs(group=sweep.id)]
    assert store.runs(status="failed") == []


def logs_epochs_in_order(store: AbstractStore) -> None:
    """Epochs come back in order with every metric column (None where not measured) and extras as keys; logging an
    epoch again replaces it."""
    run_id = _run(store)
    store.start(run_id, "cpu")
    store.log_epoch(run_id, 2, train_loss=0.25, test_accuracy=0.9, threads=2)
    store.log_epoch(run_id, 1, train_loss=1.0, train_accuracy=0.5, test_accuracy=0.6, seconds=3.0)
    store.log_epoch(run_id, 2, train_loss=0.2, test_accuracy=0.95, threads=1)
    epochs = store.epochs(run_id)
    assert [e["epoch"] for e in epochs] == [1, 2]
    assert epochs[0] == {
        "epoch": 1,
        "train_loss": 1.0,
        "train_accuracy": 0.5,
        "test_accuracy": 0.6,
        "seconds": 3.0,
        "images_per_second": None,
    }
    assert epochs[1]["test_accuracy"] == 0.95 and epochs[1]["threads"] == 1 and epochs[1]["train_accuracy"] is None
    assert store.epochs(run_id + 1) == []


def moves_through_its_statuses(store: AbstractStore) -> None:
    """queued -> running -> finished, failed or stopped; a status outside the schema is refused; the queue counts
    only queued runs, oldest first."""
    first, second, third = _run(store), _run(store), _run(store)
    assert [store.queue_position(i) for i in (first, second, third)] == [1, 2, 3]
    store.start(first, "cuda:0")
    assert store.require_run(first).status == "running" and store.require_run(first).device == "cuda:0"
    assert [store.queue_position(i) for i in (first, second, third)] == [0, 1, 2]
    store.finish(first, SUMMARY, status="stopped", error="asked to stop")
    stopped = store.require_run(first)
    assert stopped.status == "stopped" and stopped.error == "asked to stop"
    store.fail(second, "ValueError: bad")
    assert store.require_run(second).status == "failed" and store.require_run(second).error == "ValueError: bad"
    with pytest.raises(ValueError, match="status"):
        store.finish(third, SUMMARY, status="running")
    with pytest.raises(ValueError, match="status"):
        store.create_run(CONFIG, status="paused")
    assert store.require_run(third).status == "queued"


def recovers_runs_whose_worker_is_gone(store: AbstractStore) -> None:
    """recover_interrupted marks active runs whose heartbeat is stale as interrupted, with the reason; a heartbeat
    from a worker that was alive after all sets its run running again."""
    active, done = _run(store), _run(store)
    store.finish(done, SUMMARY)
    assert store.recover_interrupted(stale_after=3600) == []
    assert store.recover_interrupted(stale_after=-1) == [active]  # every heartbeat is "stale" now
    run = store.require_run(active)
    assert run.status == "interrupted" and run.error and "heartbeat" in run.error
    assert store.require_run(done).status == "finished"
    store.heartbeat(active)
    assert store.require_run(active).status == "running" and store.require_run(active).error is None


def carries_progress_and_stop_requests(store: AbstractStore) -> None:
    run_id = _run(store)
    assert store.progress(run_id) is None and not store.stop_requested(run_id)
    store.start(run_id, "cpu")
    store.log_progress(run_id, 1, 3, 10, 0.5, [(0.1, 0.9), (0.2, 0.7)])
    store.log_progress(run_id, 1, 4, 10, None, [(0.3, 0.6)])
    live = store.progress(run_id)
    assert live is not None and (live["epoch"], live["batch"], live["num_batches"], live["loss"]) == (1, 4, 10, None)
    assert live["points"] == [(0.1, 0.9), (0.2, 0.7), (0.3, 0.6)]
    assert store.request_stop(run_id) and store.stop_requested(run_id)
    asked_at = store.require_run(run_id).stop_requested_at
    assert asked_at is not None and store.request_stop(run_id)  # asking again keeps the first time
    assert store.require_run(run_id).stop_requested_at == asked_at
    store.finish(run_id, SUMMARY, status="stopped")
    assert not store.request_stop(run_id)  # an ended run cannot be asked to stop
    assert not store.request_stop(run_id + 100)


def keeps_artifacts(store: AbstractStore) -> None:
    """Bytes come back as bytes, anything else as its JSON; per epoch or for the whole run; saving replaces."""
    run_id = _run(store)
    store.save_artifact(run_id, "pca", {"xy": [[0.5, 1.0]]}, epoch=1)
    store.save_artifact(run_id, "pca", {"xy": [[2.0, 3.0]]}, epoch=2)
    store.save_artifact(run_id, "blob", b"\x00\x01")
    store.save_artifact(run_id, "blob", b"\x02")
    assert store.load_artifact(run_id, "pca", epoch=2) == {"xy": [[2.0, 3.0]]}
    assert store.load_artifact(run_id, "blob") == b"\x02" and store.load_artifact(run_id, "missing") is None
    assert store.list_artifacts(run_id) == [
        {"name": "blob", "epoch": None},
        {"name": "pca", "epoch": 1},
        {"name": "pca", "epoch": 2},
    ]
    assert store.list_artifacts(run_id, "pca") == [{"name": "pca", "epoch": 1}, {"name": "pca", "epoch": 2}]


def keeps_checkpoints_and_deletes_runs(store: AbstractStore) -> None:
    """finish records the weights file; a run read back names a local file holding those weights (SQLite: the file
    itself; PostgreSQL: a copy written from the database); runs_with_weights lists runs whose file exists;
    delete_run removes the run with its epochs, artifacts and (the store's own) weights file."""
    kept, gone = _run(store), _run(store)
    path = save_checkpoint({"w": torch.arange(4.0)}, store.data_folder / "checkpoints" / f"run-{kept}.pt")
    weights = path.read_bytes()
    store.finish(kept, SUMMARY, checkpoint=path)
    store.finish(gone, SUMMARY, checkpoint=store.data_folder / "checkpoints" / "never-written.pt")
    local = store.require_run(kept).checkpoint
    assert local is not None and Path(local).read_bytes() == weights
    assert torch.equal(load_checkpoint(local)["w"], torch.arange(4.0))
    assert [r["id"] for r in store.runs_with_weights()] == [kept]
    assert store.runs_with_weights(model="cheb") == []
    store.finish(kept, SUMMARY, status="stopped")  # no checkpoint given: the recorded one stays
    assert store.require_run(kept).checkpoint == local
    store.log_epoch(kept, 1, train_loss=1.0)
    store.save_artifact(kept, "pca", [1])
    assert store.delete_run(kept) and not path.exists() and not Path(local).exists()
    assert store.run(kept) is None and store.epochs(kept) == [] and store.list_artifacts(kept) == []
    assert not store.delete_run(kept)


def keeps_groups(store: AbstractStore) -> None:
    """A grouped run reads back with its group's fields; the first group saved under an id stays."""
    lesson = RunGroup("lesson", "lesson:karate:quick:1", lesson="karate", mode="quick", seed=4)
    run_id = _run(store, group=lesson)
    run = store.require_run(run_id)
    assert run.group is not None and run.group_id == lesson.id
    assert (run.group.type, run.group.lesson, run.group.mode, run.group.seed) == ("lesson", "karate", "quick", 4)
    assert run.group.created_at > 0 and run.kind == lesson.id  # the kind column keeps the id, as older versions wrote
    assert store.save_group(RunGroup("lesson", lesson.id, lesson="other")) == run.group
    search = store.save_group(RunGroup("search", "search:1:asha:lr", params=("lr",), early_stopping=True))
    assert store.get_group(search.id) == search and store.get_group("nope") is None and store.get_group(None) is None
    assert set(store.groups()) == {lesson.id, search.id} and list(store.groups("search")) == [search.id]


def reads_a_run_config(store: AbstractStore) -> None:
    """Run.run_config gives the run's RunConfig; a model this version lacks is one clear UserInputError."""
    run_id = _run(store)
    assert store.require_run(run_id).run_config() == RunConfig.from_dict(dict(CONFIG))
    foreign = store.create_run({**CONFIG, "model": "capsnet"})
    with pytest.raises(UserInputError, match=f"run {foreign} was trained with model 'capsnet'") as err:
        store.require_run(foreign).run_config()
    assert err.value.param == "model"


def unknown_ids_are_refused(store: AbstractStore) -> None:
    """Reading an unknown id gives None (run, get_run) or RunNotFoundError (require_run); every write to it raises
    RunNotFoundError, and nothing is created."""
    missing = _run(store) + 100
    assert store.run(missing) is None and store.get_run(missing) is None
    with pytest.raises(RunNotFoundError, match=f"run {missing} does not exist"):
        store.require_run(missing)
    writes = [
        lambda: store.start(missing, "cpu"),
        lambda: store.log_epoch(missing, 1, train_loss=1.0),
        lambda: store.finish(missing, SUMMARY),
        lambda: store.fail(missing, "x"),
        lambda: store.heartbeat(missing),
        lambda: store.log_progress(missing, 1, 1, 1, 0.5),
        lambda: store.save_artifact(missing, "a", 1),
    ]
    for write in writes:
        with pytest.raises(RunNotFoundError):
            write()
    assert len(store.runs()) == 1


def is_a_run_writer(store: AbstractStore) -> None:
    """A worker writes through any store (the RunWriter protocol)."""
    assert isinstance(store, RunWriter) and isinstance(store, AbstractStore)
    assert store.location and store.data_folder.is_dir()


# ---------------------------------------------------------------------------------------------------------------------
# Several servers on one store (issue 32): each function opens a second store object on the same database, as another
# app server would (``store_at(store.location)``), and races it against the first from threads.

CLAIMERS = 8  # threads racing to claim the same runs, half on each store object
CLAIMED_RUNS = 12


def _second_server(store: AbstractStore) -> AbstractStore:
    other = store_at(store.location)
    assert other is not store and other.location == store.location
    return other


def _race(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run ``calls`` at once (all threads wait at a barrier first); their results in order."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], Any]) -> Any:
        barrier.wait(timeout=30)
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def two_servers_claim_each_orphan_once(store: AbstractStore) -> None:
    """Two servers that read the same orphaned runs and race to claim every one of them: each run is claimed exactly
    once (its claim is a compare-and-set in one transaction), and ends queued, owned by the claimer."""
    other = _second_server(store)
    ids = [_run(store) for _ in range(CLAIMED_RUNS)]
    for run_id in ids[::2]:
        store.start(run_id, "cpu")  # running and queued orphans alike
    orphans = store.orphaned_runs(stale_after=-1)  # every heartbeat counts as stale: all of them are orphans
    assert sorted(r.id for r in orphans) == ids

    def claim_all(server: AbstractStore) -> list[int]:
        return [run.id for run in orphans if server.claim_orphan(run)]

    claimed = _race([partial(claim_all, store if i % 2 else other) for i in range(CLAIMERS)])
    flat = sorted(run_id for got in claimed for run_id in got)
    assert flat == ids  # every run once: never twice, never lost
    for run_id in ids:
        run = store.require_run(run_id)
        assert run.status == "queued" and run.error is None and run.heartbeat is not None
    assert not any(store.claim_orphan(run) or store.interrupt_orphan(run, "late") for run in orphans)  # stale reads


def two_servers_never_share_an_id(store: AbstractStore) -> None:
    """Runs created at once through two store objects get distinct ids from the database, each readable from both."""
    other = _second_server(store)

    def create_five(server: AbstractStore, i: int) -> list[int]:
        return [server.create_run(CONFIG, name=f"r{i}") for _ in range(5)]

    created = _race([partial(create_five, store if i % 2 else other, i) for i in range(CLAIMERS)])
    ids = [run_id for got in created for run_id in got]
    assert len(set(ids)) == len(ids) == CLAIMERS * 5
    assert {r.id for r in other.runs()} == set(ids) == {r.id for r in store.runs()}


def a_stop_request_reaches_the_other_server(store: AbstractStore) -> None:
    """A stop asked through one server is seen by the other, which trains the run; epochs it logs are seen back."""
    other = _second_server(store)
    run_id = _run(other)
    other.start(run_id, "cpu")
    assert store.request_stop(run_id) and other.stop_requested(run_id)
    other.log_epoch(run_id, 1, train_loss=0.5)
    other.finish(run_id, SUMMARY, status="stopped")
    assert store.require_run(run_id).status == "stopped" and [e["epoch"] for e in store.epochs(run_id)] == [1]


SEVERAL_SERVERS = [
    two_servers_claim_each_orphan_once,
    two_servers_never_share_an_id,
    a_stop_request_reaches_the_other_server,
]

CONTRACT = [
    creates_and_reads_a_run,
    the_typed_and_dict_forms_agree,
    the_summary_is_typed_and_kept_whole,
    lists_runs_newest_first_with_filters,
    logs_epochs_in_order,
    moves_through_its_statuses,
    recovers_runs_whose_worker_is_gone,
    carries_progress_and_stop_requests,
    keeps_artifacts,
    keeps_checkpoints_and_deletes_runs,
    keeps_groups,
    reads_a_run_config,
    unknown_ids_are_refused,
    is_a_run_writer,
    *SEVERAL_SERVERS,
]


# -- resume (issue 32, part 2): taking over a dead server's runs -----------------------------------------------------


def finds_orphans_but_never_live_or_ended_runs(store: AbstractStore) -> None:
    """orphaned_runs lists queued and running runs whose owner is dead, oldest first, and changes nothing: runs of
    this (live) process with fresh heartbeats are not orphans, ended runs never are."""
    queued, running, done = _run(store), _run(store), _run(store)
    store.start(running, "cpu")
    store.finish(done, SUMMARY)
    assert store.orphaned_runs(stale_after=3600) == []  # their owner is this process, their heartbeats fresh
    orphans = store.orphaned_runs(stale_after=-1)  # every heartbeat counts as stale
    assert [r.id for r in orphans] == [queued, running]
    assert orphans == [store.require_run(queued), store.require_run(running)]  # read as they are, unchanged
    assert [r.status for r in orphans] == ["queued", "running"]


def a_claimed_orphan_goes_on_from_its_epoch(store: AbstractStore) -> None:
    """claim_orphan queues the run again under its id, owned by this process with a fresh heartbeat, keeps epochs up
    to resume_from (rows, per-epoch artifacts, live points) and the run-level artifacts and stop request, drops what
    came after; a second claim of the same read, or a claim of a run that changed since, is refused."""
    import os

    run_id = _run(store)
    store.start(run_id, "cpu")
    for epoch in (1, 2, 3):
        store.log_epoch(run_id, epoch, train_loss=1.0 / epoch, test_accuracy=0.5)
        store.save_artifact(run_id, "pca", {"epoch": epoch}, epoch=epoch)
    store.save_artifact(run_id, "train_state", b"state after epoch 2")
    store.log_progress(run_id, 3, 4, 10, 0.3, [(1.5, 0.9), (2.0, 0.8), (2.5, 0.7), (3.4, 0.6)])
    assert store.request_stop(run_id)
    (orphan,) = store.orphaned_runs(stale_after=-1)
    assert store.claim_orphan(orphan, resume_from=2)
    run = store.require_run(run_id)
    assert (run.id, run.status, run.error, run.pid) == (run_id, "queued", None, os.getpid())
    assert run.heartbeat is not None and orphan.heartbeat is not None and run.heartbeat >= orphan.heartbeat
    assert run.stop_requested_at == orphan.stop_requested_at  # a stop asked before the restart still stands
    assert [e["epoch"] for e in store.epochs(run_id)] == [1, 2]
    assert store.list_artifacts(run_id) == [
        {"name": "pca", "epoch": 1},
        {"name": "pca", "epoch": 2},
        {"name": "train_state", "epoch": None},
    ]
    live = store.progress(run_id)
    assert live is not None and live["epoch"] == 2 and live["points"] == [(1.5, 0.9), (2.0, 0.8)]
    assert not store.claim_orphan(orphan, resume_from=2)  # the same read again: its heartbeat changed
    assert not store.interrupt_orphan(orphan, "late")
    (again,) = store.orphaned_runs(stale_after=-1)
    assert again.status == "queued" and store.claim_orphan(again)  # a fresh read claims it: from the start now
    assert store.epochs(run_id) == [] and store.progress(run_id) is None
    assert store.list_artifacts(run_id) == [{"name": "train_state", "epoch": None}]


def an_orphan_that_cannot_go_on_ends_interrupted(store: AbstractStore) -> None:
    """interrupt_orphan ends the run interrupted with the reason, its epochs and artifacts kept, once; a run that
    ended meanwhile is left as it is."""
    run_id, ended = _run(store), _run(store)
    store.start(run_id, "cpu")
    store.log_epoch(run_id, 1, train_loss=0.5)
    orphans = store.orphaned_runs(stale_after=-1)
    assert [r.id for r in orphans] == [run_id, ended]
    store.finish(ended, SUMMARY)  # its worker finished after all
    reason = "interrupted by a restart after epoch 1; cannot resume: it saved no training state"
    assert store.interrupt_orphan(orphans[0], reason)
    run = store.require_run(run_id)
    assert (run.status, run.error) == ("interrupted", reason) and [e["epoch"] for e in store.epochs(run_id)] == [1]
    assert not store.interrupt_orphan(orphans[0], reason) and not store.claim_orphan(orphans[0])
    assert not store.interrupt_orphan(orphans[1], reason) and not store.claim_orphan(orphans[1])
    assert store.require_run(ended).status == "finished" and store.orphaned_runs(stale_after=-1) == []


def a_heartbeat_after_the_read_keeps_the_run_with_its_owner(store: AbstractStore) -> None:
    """A worker that was alive after all (its heartbeat came after orphaned_runs read its run, the status unchanged)
    keeps its run: neither a claim nor an interrupt of that read takes it."""
    run_id = _run(store)
    store.start(run_id, "cpu")
    (orphan,) = store.orphaned_runs(stale_after=-1)
    store.heartbeat(run_id)
    assert store.require_run(run_id).heartbeat != orphan.heartbeat
    assert not store.claim_orphan(orphan) and not store.interrupt_orphan(orphan, "late")
    run = store.require_run(run_id)
    assert (run.status, run.error, run.pid) == ("running", None, orphan.pid)


RESUME = [
    finds_orphans_but_never_live_or_ended_runs,
    a_claimed_orphan_goes_on_from_its_epoch,
    an_orphan_that_cannot_go_on_ends_interrupted,
    a_heartbeat_after_the_read_keeps_the_run_with_its_owner,
]
CONTRACT += RESUME
