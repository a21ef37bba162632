"""The PostgreSQL store beyond the shared contract (``store_contract.py`` runs on it too), on a real server.

What only a server-backed store must do: be chosen by ``GRAPHCONV_STORE_URL``; keep a run's weights in the database so
that a machine whose disk was wiped opens the run as it was; be opened by a worker process from ``store.location``;
create its schema once when two servers open a fresh database together; refuse a database of a newer version; get
over a connection the server dropped; and say what is wrong in one line that never holds the password.
"""

from __future__ import annotations

import multiprocessing
import shutil
import threading
from pathlib import Path

import pytest
import torch

from core.errors import StoreError
from core.training.runs import RunConfig, execute
from core.training.store import RunStore, load_checkpoint, open_store, save_checkpoint, store_at
from core.training.store.postgres import PostgresStore
from core.training.store.postgres_database import PG_SCHEMA_VERSION, SCHEMA


@pytest.fixture
def pg(postgres_url, tmp_path):
    store = PostgresStore(postgres_url, data_folder=tmp_path / "data")
    yield store
    store.close()


def test_the_setting_chooses_the_store(postgres_url, tmp_path, monkeypatch):
    """No GRAPHCONV_STORE_URL: SQLite in the data folder. A postgresql:// URL: one PostgresStore per process (its
    connections shared), which a worker reopens from its location. sqlite:/// URLs and paths open SQLite."""
    default = open_store()
    assert isinstance(default, RunStore) and default.path == tmp_path / "data" / "runs.db"
    monkeypatch.setenv("GRAPHCONV_STORE_URL", postgres_url)
    store = open_store()
    assert isinstance(store, PostgresStore) and store.location == postgres_url and open_store() is store
    assert store_at(store.location) is store and store.data_folder == tmp_path / "data"
    assert isinstance(store_at(f"sqlite:///{tmp_path}/other.db"), RunStore)
    assert store_at(str(tmp_path / "x.db")).location == str(tmp_path / "x.db")
    with pytest.raises(StoreError, match="scheme 'mysql' is not supported"):
        store_at("mysql://user:pw@host/db")


def test_a_bad_address_is_one_line_without_the_password(postgres_server):
    """A wrong password and a port where no server listens: one StoreError line naming the database and the
    server, never the password."""
    secret = "not-the-password-123"
    wrong = postgres_server.url("postgres").replace(postgres_server.password, secret)
    with pytest.raises(StoreError) as err:
        PostgresStore(wrong, timeout=5)
    text = str(err.value)
    assert "\n" not in text and secret not in text and postgres_server.password not in text
    assert 'PostgreSQL database "postgres" on 127.0.0.1' in text and "password authentication failed" in text
    with pytest.raises(StoreError, match="cannot use the PostgreSQL database") as err:
        PostgresStore(f"postgresql://u:{secret}@127.0.0.1:1/none", timeout=2)
    assert secret not in str(err.value) and "\n" not in str(err.value)


def test_a_trained_run_survives_a_wiped_disk(postgres_url, tmp_path, monkeypatch):
    """A real run trained into PostgreSQL; the machine's data folder is then deleted (a sleeping Community Cloud
    app wakes on a fresh one). A store opened on a new, empty folder reads the run whole: its epochs, artifacts
    and weights, which load into the model its settings build and give the accuracy it recorded."""
    first = tmp_path / "first"
    monkeypatch.setenv("GRAPHCONV_DATA_DIR", str(first))
    store = PostgresStore(postgres_url)
    summary = execute(RunConfig.make(model="mlp", hidden=16, epochs=2, quick=True, seed=5), store)
    run_id = summary["run_id"]
    weights = Path(store.require_run(run_id).checkpoint or "").read_bytes()
    assert not list((first / "checkpoints").glob("run-*.pt"))  # the worker's file became the cache's
    artifacts = store.list_artifacts(run_id)
    store.close()
    shutil.rmtree(first)

    fresh = tmp_path / "fresh"
    monkeypatch.setenv("GRAPHCONV_DATA_DIR", str(fresh))
    again = PostgresStore(postgres_url)
    run = again.require_run(run_id)
    assert run.status == "finished" and run.summary.test_accuracy == summary["test_accuracy"]
    assert [e["epoch"] for e in again.epochs(run_id)] == [1, 2] and again.list_artifacts(run_id) == artifacts
    assert run.checkpoint is not None and Path(run.checkpoint).parent == fresh / "checkpoint-cache"
    assert Path(run.checkpoint).read_bytes() == weights
    assert [r["id"] for r in again.runs_with_weights()] == [run_id]

    from core.analysis.results import evaluate_run

    evaluation = evaluate_run(run_id, again)  # the weights from the database, in the model the settings build
    assert evaluation.accuracy == pytest.approx(summary["test_accuracy"], abs=1e-6)
    again.close()


def test_identical_weights_are_stored_once_and_go_with_their_last_run(pg):
    """Two runs with byte-identical weights share one blob; it leaves the database with the last run using it."""
    ids = [pg.create_run({"model": "mlp"}) for _ in range(2)]
    for run_id in ids:
        path = save_checkpoint({"w": torch.ones(2)}, pg.data_folder / "checkpoints" / f"run-{run_id}.pt")
        path.write_bytes((pg.data_folder / "checkpoints" / f"run-{run_id}.pt").read_bytes())
        pg.finish(run_id, {}, checkpoint=path)
    first, second = (pg.require_run(i).checkpoint for i in ids)
    assert first == second and torch.equal(load_checkpoint(first or "")["w"], torch.ones(2))

    def blobs() -> int:
        with pg._read() as conn:
            row = conn.execute(f"SELECT COUNT(*) AS n FROM {SCHEMA}.blobs").fetchone()
        return int(row["n"]) if row else -1

    assert blobs() == 1
    pg.delete_run(ids[0])
    assert blobs() == 1 and Path(second or "").is_file()
    pg.delete_run(ids[1])
    assert blobs() == 0 and not Path(second or "").exists()


def _worker(location: str, run_id: int, folder: str) -> None:
    """A separate process, as a training worker is: opens the store from its location and trains "a run"."""
    import os

    os.environ["GRAPHCONV_DATA_DIR"] = folder
    from core.training.store import save_checkpoint as save
    from core.training.store import store_at as open_at

    store = open_at(location)
    store.start(run_id, "cpu")
    store.log_epoch(run_id, 1, train_loss=0.5, test_accuracy=0.8)
    store.log_progress(run_id, 1, 2, 2, 0.5, [(1.0, 0.5)])
    path = save({"w": torch.zeros(3)}, Path(folder) / "checkpoints" / f"run-{run_id}.pt")
    store.finish(run_id, {"run_id": run_id, "test_accuracy": 0.8}, checkpoint=path)


def test_a_worker_process_writes_through_the_store_location(pg, tmp_path):
    """A process started fresh (spawn, as the forkserver starts workers) opens the store from ``location``; its
    epochs, progress and weights reach the app's store object."""
    run_id = pg.create_run({"model": "mlp"})
    pg.runs()  # the app's pool holds a connection while the worker runs
    ctx = multiprocessing.get_context("spawn")
    worker = ctx.Process(target=_worker, args=(pg.location, run_id, str(tmp_path / "worker")))
    worker.start()
    worker.join(120)
    assert worker.exitcode == 0
    run = pg.require_run(run_id)
    assert run.status == "finished" and run.summary.test_accuracy == 0.8 and pg.epochs(run_id)[0]["train_loss"] == 0.5
    assert torch.equal(load_checkpoint(run.checkpoint or "")["w"], torch.zeros(3))


def test_two_servers_opening_a_fresh_database_make_its_schema_once(postgres_url, tmp_path):
    """Eight stores opened at once on an empty database: one creates the schema (under an advisory lock), the others
    wait and find it; all of them then see the same runs."""
    stores: list[PostgresStore] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def open_one() -> None:
        barrier.wait(timeout=30)
        try:
            stores.append(PostgresStore(postgres_url, data_folder=tmp_path))
        except BaseException as err:  # noqa: BLE001 - collected and asserted below
            errors.append(err)

    threads = [threading.Thread(target=open_one) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == [] and len(stores) == 8
    run_id = stores[0].create_run({"model": "mlp"})
    assert all(s.require_run(run_id).id == run_id for s in stores)
    for s in stores:
        s.close()


def test_a_database_of_a_newer_version_is_refused_untouched(pg, postgres_url):
    run_id = pg.create_run({"model": "mlp"})
    with pg._write() as conn:
        conn.execute(f"UPDATE {SCHEMA}.meta SET value = %s WHERE key = 'schema_version'", (str(PG_SCHEMA_VERSION + 1),))
    with pytest.raises(StoreError, match="newer than this GraphConv Lab understands") as err:
        PostgresStore(postgres_url)
    assert "\n" not in str(err.value)
    assert pg.require_run(run_id).id == run_id  # nothing was changed


def test_a_connection_the_server_dropped_is_replaced(pg, postgres_server):
    """The server ends every connection of the store (a restart, an idle timeout): the next call opens a new one."""
    import psycopg

    run_id = pg.create_run({"model": "mlp"})
    with psycopg.connect(postgres_server.url(), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'graphconv-lab'")
    assert pg.require_run(run_id).id == run_id
    pg.log_epoch(run_id, 1, train_loss=1.0)
    assert len(pg.epochs(run_id)) == 1
