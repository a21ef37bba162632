"""Tests for the run store: life cycle, durability across a killed worker, recovery, errors."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from contextlib import closing
from pathlib import Path

import pytest

from core.config import REPO_ROOT
from core.training.store import (
    SCHEMA_VERSION,
    CheckpointError,
    RunNotFoundError,
    RunStore,
    StoreError,
    checkpoint_path,
    library_versions,
    load_checkpoint,
    save_checkpoint,
)


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private data folder for each test."""
    folder = tmp_path / "data"
    monkeypatch.setenv("GRAPHCONV_DATA_DIR", str(folder))
    return folder


@pytest.fixture
def store(data: Path) -> RunStore:
    return RunStore()


def _set_row(store: RunStore, run_id: int, **fields: object) -> None:
    """Poke a run row directly (to fake a stale heartbeat or a dead pid)."""
    assignments = ", ".join(f"{key} = ?" for key in fields)
    with closing(sqlite3.connect(store.path)) as conn, conn:
        conn.execute(f"UPDATE runs SET {assignments} WHERE id = ?", (*fields.values(), run_id))


def _dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


class Opaque:
    """Not a tensor or plain container: weights_only loading must refuse it."""

    def __init__(self) -> None:
        self.payload = 42


# ----------------------------------------------------------------------------- basics


def test_default_path_and_wal_mode(store: RunStore, data: Path) -> None:
    assert store.path == data / "runs.db"
    with closing(sqlite3.connect(store.path)) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_round_trip_create_start_log_finish(store: RunStore) -> None:
    config = {"model": "cnn", "epochs": 2, "lr": 1e-3}
    run_id = store.create_run(config, name="cnn baseline", session="s1")
    run = store.get_run(run_id)
    assert run is not None
    assert (run["status"], run["kind"], run["name"], run["session"]) == (
        "queued",
        "image",
        "cnn baseline",
        "s1",
    )
    assert run["config"] == config and run["summary"] == {}
    assert run["versions"]["python"] and "torch" in run["versions"]

    store.start(run_id, "cpu")
    running = store.get_run(run_id)
    assert running is not None
    assert (running["status"], running["device"], running["pid"]) == ("running", "cpu", os.getpid())

    store.log_epoch(
        run_id,
        1,
        train_loss=0.5,
        train_accuracy=0.8,
        test_accuracy=0.85,
        seconds=1.5,
        images_per_second=1000.0,
        lr=1e-3,
    )
    store.log_epoch(run_id, 2, train_loss=0.3, test_accuracy=0.9)
    ckpt = checkpoint_path(run_id)
    store.finish(run_id, {"test_accuracy": 0.9, "images_per_second": 990.0}, checkpoint=ckpt)

    done = store.get_run(run_id)
    assert done is not None
    assert done["status"] == "finished" and done["error"] is None
    assert done["summary"] == {"test_accuracy": 0.9, "images_per_second": 990.0}
    assert done["checkpoint"] == str(ckpt)
    assert done["updated_at"] >= done["created_at"]
    first, second = store.epochs(run_id)
    assert first == {
        "epoch": 1,
        "train_loss": 0.5,
        "train_accuracy": 0.8,
        "test_accuracy": 0.85,
        "seconds": 1.5,
        "images_per_second": 1000.0,
        "lr": 1e-3,
    }
    assert second["epoch"] == 2 and second["train_accuracy"] is None


def test_run_row_keys(store: RunStore) -> None:
    run = store.get_run(store.create_run({}))
    assert run is not None
    expected = {
        "id",
        "status",
        "name",
        "kind",
        "config",
        "summary",
        "device",
        "versions",
        "created_at",
        "updated_at",
        "error",
        "checkpoint",
        "session",
    }
    assert expected <= set(run)


def test_fail_records_error(store: RunStore) -> None:
    run_id = store.create_run({})
    store.start(run_id, "cpu")
    store.fail(run_id, "CUDA out of memory")
    run = store.get_run(run_id)
    assert run is not None and (run["status"], run["error"]) == ("failed", "CUDA out of memory")


def test_invalid_status_and_unknown_run(store: RunStore) -> None:
    with pytest.raises(ValueError):
        store.create_run({}, status="bogus")
    run_id = store.create_run({})
    with pytest.raises(ValueError):
        store.finish(run_id, {}, status="running")
    with pytest.raises(RunNotFoundError):
        store.log_epoch(999, 1, train_loss=1.0)
    with pytest.raises(RunNotFoundError):
        store.start(999, "cpu")
    assert store.get_run(999) is None


def test_list_runs_newest_first_and_filters(store: RunStore) -> None:
    a = store.create_run({}, kind="image", session="alice")
    b = store.create_run({}, kind="karate")
    c = store.create_run({}, kind="image", session="alice")
    store.finish(a, {})
    assert [r["id"] for r in store.list_runs()] == [c, b, a]
    assert [r["id"] for r in store.list_runs(limit=2)] == [c, b]
    assert [r["id"] for r in store.list_runs(kind="image")] == [c, a]
    assert [r["id"] for r in store.list_runs(status="finished")] == [a]
    assert [r["id"] for r in store.list_runs(status=["queued", "finished"], kind="image")] == [c, a]
    assert [r["id"] for r in store.list_runs(session="alice", status="queued")] == [c]


def test_epochs_persist_across_instances_and_relog_replaces(store: RunStore, data: Path) -> None:
    run_id = store.create_run({})
    for epoch in (3, 1, 2):
        store.log_epoch(run_id, epoch, train_loss=float(epoch))
    store.log_epoch(run_id, 2, train_loss=0.25)
    reopened = RunStore(data / "runs.db")
    assert [(e["epoch"], e["train_loss"]) for e in reopened.epochs(run_id)] == [
        (1, 1.0),
        (2, 0.25),
        (3, 3.0),
    ]


def test_artifacts_json_and_bytes(store: RunStore) -> None:
    run_id = store.create_run({})
    store.save_artifact(run_id, "pca", {"points": [[0.0, 1.0]], "labels": [7]}, epoch=1)
    store.save_artifact(run_id, "pca", {"points": [], "labels": []}, epoch=2)
    store.save_artifact(run_id, "confusion.png", b"\x89PNG\x00raw")
    assert store.load_artifact(run_id, "pca", epoch=1) == {"points": [[0.0, 1.0]], "labels": [7]}
    assert store.load_artifact(run_id, "confusion.png") == b"\x89PNG\x00raw"
    assert store.load_artifact(run_id, "pca", epoch=9) is None
    assert store.list_artifacts(run_id) == [
        {"name": "confusion.png", "epoch": None},
        {"name": "pca", "epoch": 1},
        {"name": "pca", "epoch": 2},
    ]
    assert [a["epoch"] for a in store.list_artifacts(run_id, name="pca")] == [1, 2]
    with pytest.raises(RunNotFoundError):
        store.save_artifact(999, "pca", {})


def test_delete_run_removes_rows_and_owned_checkpoint(store: RunStore, tmp_path: Path) -> None:
    run_id = store.create_run({})
    store.log_epoch(run_id, 1, train_loss=1.0)
    store.save_artifact(run_id, "pca", [1, 2], epoch=1)
    owned = save_checkpoint({"w": [1.0]}, checkpoint_path(run_id))
    store.finish(run_id, {}, checkpoint=owned)
    other = store.create_run({})
    foreign = tmp_path / "mine.pt"
    foreign.write_bytes(b"keep me")
    store.finish(other, {}, checkpoint=foreign)

    assert store.delete_run(run_id) is True
    assert store.get_run(run_id) is None
    assert store.epochs(run_id) == [] and store.list_artifacts(run_id) == []
    assert not owned.exists()
    assert store.delete_run(run_id) is False
    assert store.delete_run(other) is True
    assert foreign.read_bytes() == b"keep me"


def test_library_versions_reads_metadata_only() -> None:
    versions = library_versions()
    assert set(versions) == {"python", "torch", "torch_geometric", "escnn", "numpy"}
    assert versions["python"] == ".".join(map(str, sys.version_info[:3]))
    assert versions["numpy"]


# ----------------------------------------------------------------------------- recovery


WORKER = textwrap.dedent(
    """
    import time
    from core.training.store import RunStore
    store = RunStore()
    run_id = store.create_run({"model": "mlp"}, name="doomed")
    store.start(run_id, "cpu")
    store.log_epoch(run_id, 1, train_loss=0.9, test_accuracy=0.7)
    store.log_epoch(run_id, 2, train_loss=0.6, test_accuracy=0.8)
    print(run_id, flush=True)
    time.sleep(120)
    """
)


def test_store_survives_a_killed_worker(store: RunStore, data: Path) -> None:
    env = {**os.environ, "GRAPHCONV_DATA_DIR": str(data)}
    proc = subprocess.Popen(
        [sys.executable, "-c", WORKER],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert line.strip(), proc.stderr.read() if proc.stderr else "worker printed nothing"
        run_id = int(line)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        for stream in (proc.stdout, proc.stderr):
            if stream:
                stream.close()
    assert proc.returncode == -signal.SIGKILL

    assert [e["epoch"] for e in store.epochs(run_id)] == [1, 2]
    assert store.epochs(run_id)[1]["test_accuracy"] == 0.8
    assert store.recover_interrupted() == [run_id]
    run = store.get_run(run_id)
    assert run is not None and run["status"] == "interrupted"
    assert str(proc.pid) in run["error"]
    assert store.recover_interrupted() == []


def test_live_pid_with_stale_heartbeat_is_interrupted(store: RunStore) -> None:
    fresh = store.create_run({})
    store.start(fresh, "cpu")
    stale = store.create_run({})
    store.start(stale, "cpu")
    _set_row(store, stale, heartbeat=time.time() - 600)
    assert store.recover_interrupted(stale_after=60.0) == [stale]
    statuses = {r["id"]: r["status"] for r in store.list_runs()}
    assert statuses == {fresh: "running", stale: "interrupted"}
    store.heartbeat(fresh)


def test_live_worker_undoes_a_wrong_interrupted_mark(store: RunStore) -> None:
    run_id = store.create_run({})
    store.start(run_id, "cpu")
    _set_row(store, run_id, heartbeat=time.time() - 600)  # e.g. a slow graph build
    assert store.recover_interrupted() == [run_id]
    store.log_epoch(run_id, 1, train_loss=0.5)
    run = store.get_run(run_id)
    assert run is not None and (run["status"], run["error"]) == ("running", None)
    store.finish(run_id, {"test_accuracy": 0.9})
    store.heartbeat(run_id)  # a late heartbeat never reopens a finished run
    run = store.get_run(run_id)
    assert run is not None and run["status"] == "finished"


def test_queued_run_of_dead_process_is_interrupted(store: RunStore) -> None:
    run_id = store.create_run({})
    _set_row(store, run_id, pid=_dead_pid())
    assert store.recover_interrupted() == [run_id]


def test_terminal_runs_are_never_touched(store: RunStore) -> None:
    dead = _dead_pid()
    expected = {}
    for status in ("finished", "failed", "stopped", "interrupted"):
        run_id = store.create_run({})
        store.finish(run_id, {"test_accuracy": 0.5}, status=status)
        _set_row(store, run_id, pid=dead, heartbeat=0.0)
        expected[run_id] = store.get_run(run_id)
    assert store.recover_interrupted(stale_after=0.0) == []
    assert {run_id: store.get_run(run_id) for run_id in expected} == expected


# ----------------------------------------------------------------------------- failures


def test_corrupt_database_is_reported_and_left_untouched(data: Path) -> None:
    data.mkdir(parents=True)
    path = data / "runs.db"
    garbage = b"this is definitely not an sqlite database\x00\xff" * 200
    path.write_bytes(garbage)
    with pytest.raises(StoreError, match="corrupt") as info:
        RunStore(path)
    assert "move it away" in str(info.value) and "\n" not in str(info.value)
    assert "run database runs.db is corrupt" in str(info.value)  # named in the data folder: the message can
    assert str(data) not in str(info.value) and "/" not in str(info.value)  # reach a browser, the server's paths not
    assert path.read_bytes() == garbage
    with pytest.raises(StoreError, match="corrupt"):
        RunStore()
    assert path.read_bytes() == garbage


def test_newer_schema_is_refused(data: Path) -> None:
    path = data / "runs.db"
    RunStore(path)
    with closing(sqlite3.connect(path)) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match="newer") as info:
        RunStore(path)
    assert "run database runs.db has schema version" in str(info.value) and str(data) not in str(info.value)


def test_locked_database_raises_store_error(data: Path) -> None:
    path = data / "runs.db"
    store = RunStore(path, timeout=0.2)
    run_id = store.create_run({})
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        started = time.monotonic()
        with pytest.raises(StoreError, match=r"locked|busy") as info:
            store.log_epoch(run_id, 1, train_loss=1.0)
        assert time.monotonic() - started >= 0.15
        assert "\n" not in str(info.value)
        assert "run database runs.db is locked" in str(info.value) and str(data) not in str(info.value)
        assert store.get_run(run_id) is not None  # WAL: readers are not blocked
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    store.log_epoch(run_id, 1, train_loss=1.0)
    assert len(store.epochs(run_id)) == 1


def test_briefly_locked_database_waits(data: Path) -> None:
    path = data / "runs.db"
    store = RunStore(path, timeout=5.0)
    run_id = store.create_run({})
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")
    releaser = threading.Timer(0.3, lambda: holder.execute("COMMIT"))
    releaser.start()
    try:
        store.log_epoch(run_id, 1, train_loss=1.0)
    finally:
        releaser.join()
        holder.close()
    assert len(store.epochs(run_id)) == 1


def test_concurrent_writers_from_threads(store: RunStore) -> None:
    run_ids = [store.create_run({"worker": i}) for i in range(4)]
    errors: list[BaseException] = []

    def work(run_id: int) -> None:
        try:
            shared = RunStore(store.path)
            shared.start(run_id, "cpu")
            for epoch in range(1, 26):
                store.log_epoch(run_id, epoch, train_loss=1.0 / epoch, step=epoch)
                shared.heartbeat(run_id)
            store.finish(run_id, {"epochs": 25})
        except BaseException as exc:  # noqa: BLE001 - a thread's failure of any kind is kept and raised below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(run_id,)) for run_id in run_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    for run_id in run_ids:
        epochs = store.epochs(run_id)
        assert [e["epoch"] for e in epochs] == list(range(1, 26))
        assert dict(epochs[-1])["step"] == 25  # an extra metric: one more key, which Epoch does not declare
        run = store.get_run(run_id)
        assert run is not None and run["status"] == "finished"


# ----------------------------------------------------------------------------- checkpoints


def test_checkpoint_round_trip(data: Path) -> None:
    torch = pytest.importorskip("torch")
    state = {
        "layer.weight": torch.arange(6.0).reshape(2, 3),
        "layer.bias": torch.zeros(2),
        "meta": {"epoch": 3, "classes": [0, 1]},
    }
    path = checkpoint_path(7)
    assert path == data / "checkpoints" / "run-7.pt"
    assert save_checkpoint(state, path) == path
    assert [p.name for p in path.parent.iterdir()] == ["run-7.pt"]  # no temp file left
    loaded = load_checkpoint(path)
    assert torch.equal(loaded["layer.weight"], state["layer.weight"])
    assert loaded["layer.weight"].device.type == "cpu"
    assert loaded["meta"] == {"epoch": 3, "classes": [0, 1]}
    save_checkpoint({"layer.bias": torch.ones(2)}, path)  # overwrite atomically
    assert torch.equal(load_checkpoint(path)["layer.bias"], torch.ones(2))


def test_corrupt_and_truncated_checkpoints(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    good = save_checkpoint({"w": torch.ones(64, 64)}, tmp_path / "good.pt")
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint at all" * 10)
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    for path in (truncated, garbage, empty):
        with pytest.raises(CheckpointError, match="corrupt, truncated or not a checkpoint") as info:
            load_checkpoint(path)
        assert f"checkpoint {path.name} is" in str(info.value) and str(tmp_path) not in str(info.value)
    with pytest.raises(CheckpointError, match="does not exist") as info:
        load_checkpoint(tmp_path / "missing.pt")
    assert str(info.value) == "checkpoint missing.pt does not exist"  # outside the data folder: its name only
    inside = checkpoint_path(7)  # in the data folder: named relative to it
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(inside)
    assert str(info.value) == "checkpoint checkpoints/run-7.pt does not exist"


def test_checkpoint_with_arbitrary_object_is_refused(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    path = tmp_path / "evil.pt"
    torch.save({"w": torch.ones(2), "payload": Opaque()}, path)
    with pytest.raises(CheckpointError, match="weights_only") as info:
        load_checkpoint(path)
    assert "Opaque" in str(info.value) and "\n" not in str(info.value)


def test_moved_data_folder_keeps_its_checkpoints(tmp_path: Path) -> None:
    """Checkpoints are recorded relative to the data folder, so moving the folder keeps the weights."""
    old = tmp_path / "old"
    store = RunStore(old / "runs.db")
    run_id = store.create_run({})
    ckpt = save_checkpoint({"w": [1.0, 2.0]}, old / "checkpoints" / f"run-{run_id}.pt")
    store.finish(run_id, {}, checkpoint=ckpt)
    assert store.require_run(run_id).checkpoint == str(ckpt)
    with closing(sqlite3.connect(old / "runs.db")) as conn:
        assert (
            conn.execute("SELECT checkpoint FROM runs WHERE id = ?", (run_id,)).fetchone()[0]
            == f"checkpoints/run-{run_id}.pt"
        )
    # a run recorded by an older version, with an absolute path
    legacy = store.create_run({})
    save_checkpoint({"w": [3.0]}, old / "checkpoints" / f"run-{legacy}.pt")
    _set_row(store, legacy, checkpoint=str(old / "checkpoints" / f"run-{legacy}.pt"))

    new = tmp_path / "new"
    old.rename(new)
    moved = RunStore(new / "runs.db")
    for rid, w in ((run_id, [1.0, 2.0]), (legacy, [3.0])):
        path = moved.require_run(rid).checkpoint
        assert path is not None
        assert Path(path).parent == new / "checkpoints"
        assert load_checkpoint(path) == {"w": w}
    assert {r["checkpoint"] for r in moved.list_runs()} == {
        str(new / "checkpoints" / f"run-{i}.pt") for i in (run_id, legacy)
    }
    assert moved.delete_run(run_id) and not (new / "checkpoints" / f"run-{run_id}.pt").exists()


# ----------------------------------------------------------------------------- live progress and stop requests


def test_progress_round_trip_thins_points_and_beats(store: RunStore) -> None:
    from core.training.store import MAX_PROGRESS_POINTS

    run_id = store.create_run({}, status="running")
    assert store.progress(run_id) is None
    _set_row(store, run_id, heartbeat=0.0)
    store.log_progress(run_id, 1, 3, 10, 2.25, [(0.1, 2.5), (0.2, 2.4), (0.3, 2.25)])
    got = store.progress(run_id)
    assert got is not None
    assert (got["epoch"], got["batch"], got["num_batches"], got["loss"]) == (1, 3, 10, 2.25)
    assert got["points"] == [(0.1, 2.5), (0.2, 2.4), (0.3, 2.25)]
    assert (store.require_run(run_id).heartbeat or 0.0) > 1.0  # progress counts as a heartbeat
    store.log_progress(run_id, 2, 1, 10, 1.0, [(1.0 + i / 1e4, 1.0) for i in range(MAX_PROGRESS_POINTS)])
    progress = store.progress(run_id)
    assert progress is not None
    points = progress["points"]
    assert MAX_PROGRESS_POINTS // 2 <= len(points) <= MAX_PROGRESS_POINTS
    assert points[0] == (0.1, 2.5) and points == sorted(points)  # thinned evenly, still in order
    store.delete_run(run_id)
    assert store.progress(run_id) is None


def test_stop_requests_reach_only_active_runs(store: RunStore) -> None:
    queued = store.create_run({}, status="queued")
    done = store.create_run({})
    store.finish(done, {})
    assert store.stop_requested(queued) is False
    assert store.request_stop(queued) is True and store.stop_requested(queued) is True
    first = store.require_run(queued).stop_requested_at
    assert store.request_stop(queued) is True and store.require_run(queued).stop_requested_at == first  # kept
    assert store.request_stop(done) is False and store.stop_requested(done) is False
    assert store.request_stop(999) is False


def test_queue_position_counts_older_queued_runs(store: RunStore) -> None:
    a, b, c = (store.create_run({}, status="queued") for _ in range(3))
    assert [store.queue_position(r) for r in (a, b, c)] == [1, 2, 3]
    store.start(a, "cpu")
    assert [store.queue_position(r) for r in (a, b, c)] == [0, 1, 2]


def test_a_version_1_database_is_migrated_and_keeps_its_runs(data: Path) -> None:
    """A run database written before worker processes (schema 1) opens, gains the new columns, loses nothing."""
    from core.training.store import MIGRATIONS

    data.mkdir(parents=True)
    path = data / "runs.db"
    with closing(sqlite3.connect(path)) as conn, conn:
        for statement in MIGRATIONS[1]:
            conn.execute(statement)
        conn.execute("PRAGMA user_version = 1")
        conn.execute("INSERT INTO runs (created_at, updated_at, status, name) VALUES (1, 1, 'finished', 'old run')")
    store = RunStore(path)
    run = store.require_run(1)
    assert run.name == "old run" and run.status == "finished" and run.stop_requested_at is None
    assert run.group_id is None and run.kind == "image"  # a plain run joins no group
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4
    new = store.create_run({}, status="running")
    store.log_progress(new, 1, 1, 1, 0.5)
    progress = store.progress(new)
    assert progress is not None and progress["loss"] == 0.5
