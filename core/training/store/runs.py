"""The run store: every training run, its per-epoch metrics and artifacts, in one SQLite file.

The database lives at ``data_dir()/"runs.db"`` and runs in WAL mode, so the Streamlit app,
its background training threads and the CLI can read and write it at the same time. Each
call opens its own short-lived connection (safe from any thread, any process); writes take
the write lock up front (``BEGIN IMMEDIATE``) and wait up to ``timeout`` seconds for it.
Every write commits before the call returns, so a killed worker loses nothing it logged.

Failures surface as :class:`StoreError` with a one-line message: a database still locked
after the timeout, a corrupt file (which is never deleted or overwritten), a schema newer
than this code. Checkpoints are separate ``.pt`` files written atomically and read back with
``torch.load(weights_only=True)``; problems there raise :class:`CheckpointError`.
"""

from __future__ import annotations

import json
import operator
import os
import pickle
import platform
import sqlite3
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

from core.config import data_dir

SCHEMA_VERSION = 2
STATUSES: tuple[str, ...] = ("queued", "running", "finished", "failed", "stopped", "interrupted")
ACTIVE_STATUSES: tuple[str, ...] = ("queued", "running")
TERMINAL_STATUSES: tuple[str, ...] = ("finished", "failed", "stopped", "interrupted")
METRIC_COLUMNS: tuple[str, ...] = (
    "train_loss",
    "train_accuracy",
    "test_accuracy",
    "seconds",
    "images_per_second",
)
RUN_COLUMNS: tuple[str, ...] = (
    "id", "status", "name", "kind", "config", "summary", "device", "versions",
    "created_at", "updated_at", "error", "checkpoint", "session", "pid", "heartbeat", "stop_requested",
)
MAX_PROGRESS_POINTS = 1000  # batch-loss points kept per run for the live curve (older ones are thinned)
_JSON_RUN_COLUMNS = ("config", "summary", "versions")
_RUN_LEVEL_EPOCH = -1  # artifacts saved without an epoch are stored under this key
_VERSIONED_PACKAGES = ("torch", "torch_geometric", "escnn", "numpy")

_MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        """CREATE TABLE IF NOT EXISTS runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            status TEXT NOT NULL,
            kind TEXT NOT NULL DEFAULT 'image',
            name TEXT NOT NULL DEFAULT '',
            config TEXT NOT NULL DEFAULT '{}',
            device TEXT NOT NULL DEFAULT '',
            versions TEXT NOT NULL DEFAULT '{}',
            summary TEXT NOT NULL DEFAULT '{}',
            error TEXT,
            pid INTEGER,
            heartbeat REAL,
            session TEXT,
            checkpoint TEXT
        )""",
        "CREATE INDEX IF NOT EXISTS runs_status ON runs(status)",
        "CREATE INDEX IF NOT EXISTS runs_kind ON runs(kind)",
        "CREATE INDEX IF NOT EXISTS runs_session ON runs(session)",
        """CREATE TABLE IF NOT EXISTS metrics (
            run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            epoch INTEGER NOT NULL,
            train_loss REAL,
            train_accuracy REAL,
            test_accuracy REAL,
            seconds REAL,
            images_per_second REAL,
            extra TEXT NOT NULL DEFAULT '{}',
            PRIMARY KEY (run_id, epoch)
        )""",
        """CREATE TABLE IF NOT EXISTS artifacts (
            run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            epoch INTEGER NOT NULL DEFAULT -1,
            data BLOB,
            PRIMARY KEY (run_id, name, epoch)
        )""",
    ),
    2: (  # runs train in worker processes: stop requests and live progress travel through the store
        "ALTER TABLE runs ADD COLUMN stop_requested REAL",
        """CREATE TABLE IF NOT EXISTS progress (
            run_id INTEGER PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
            epoch INTEGER NOT NULL DEFAULT 0,
            batch INTEGER NOT NULL DEFAULT 0,
            num_batches INTEGER NOT NULL DEFAULT 0,
            loss REAL,
            points TEXT NOT NULL DEFAULT '[]',
            updated_at REAL NOT NULL
        )""",
    ),
}


class StoreError(RuntimeError):
    """The run database cannot be used right now (locked, corrupt, too new, unreadable)."""


class RunNotFoundError(StoreError):
    """The run id names no run in the database."""


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, corrupt, truncated, or holds more than plain weights."""


# ----------------------------------------------------------------------------- helpers


@lru_cache(maxsize=1)
def _cached_versions() -> tuple[tuple[str, str | None], ...]:
    versions: list[tuple[str, str | None]] = [("python", platform.python_version())]
    for package in _VERSIONED_PACKAGES:
        try:
            versions.append((package, metadata.version(package)))
        except metadata.PackageNotFoundError:
            versions.append((package, None))
    return tuple(versions)


def library_versions() -> dict[str, str | None]:
    """Versions of Python and the numeric libraries, read from package metadata.

    Nothing heavy is imported; a package that is not installed maps to ``None``.
    """
    return dict(_cached_versions())


def _json_default(value: Any) -> Any:
    """Make numpy/torch values, paths and sets JSON-friendly."""
    if hasattr(value, "tolist"):  # numpy arrays and scalars, torch tensors
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _to_json(value: Any) -> str:
    return json.dumps(value, default=_json_default)


def _from_json(text: str | None, empty: Any = None) -> Any:
    if text is None or text == "":
        return empty
    return json.loads(text)


def _as_number(name: str, value: Any) -> float | None:
    """Coerce a metric to float (numpy/torch scalars included); ``None`` stays ``None``."""
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"metric {name} must be a number, got {type(value).__name__}") from exc


def _check_status(status: str, allowed: tuple[str, ...] = STATUSES) -> None:
    if status not in allowed:
        raise ValueError(f"status must be one of {', '.join(allowed)}; got {status!r}")


def _pid_alive(pid: int) -> bool:
    """True when a process with this pid exists on this host (zombies count as dead)."""
    if os.name == "nt":  # os.kill(pid, 0) would signal the process on Windows
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[:1] == ["Z"]


def _interruption_reason(
    pid: int | None, heartbeat: float | None, now: float, stale_after: float
) -> str | None:
    """Why an active run should be marked interrupted, or ``None`` if it looks alive."""
    if pid is not None and not _pid_alive(pid):
        return f"interrupted: process {pid} is no longer running"
    if heartbeat is None:
        return "interrupted: the run never sent a heartbeat"
    if now - heartbeat > stale_after:
        return f"interrupted: no heartbeat for {now - heartbeat:.0f} s"
    return None


def _run_from_row(row: sqlite3.Row) -> dict[str, Any]:
    run = {key: row[key] for key in RUN_COLUMNS}
    for key in _JSON_RUN_COLUMNS:
        run[key] = _from_json(row[key], empty={})
    return run


def _epoch_from_row(row: sqlite3.Row) -> dict[str, Any]:
    epoch: dict[str, Any] = {"epoch": row["epoch"]}
    epoch.update({key: row[key] for key in METRIC_COLUMNS})
    epoch.update(_from_json(row["extra"], empty={}))
    return epoch


def _encode_artifact(data: Any) -> str | bytes:
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    return _to_json(data)


def _artifact_epoch(stored: int) -> int | None:
    return None if stored == _RUN_LEVEL_EPOCH else stored


def _decode_artifact(value: str | bytes | None) -> Any:
    if isinstance(value, bytes):
        return value
    return _from_json(value)


# ----------------------------------------------------------------------------- the store


class RunStore:
    """All runs of GraphConv Lab in one SQLite database (WAL mode).

    Safe to share between threads and to open from several processes at once: every
    method opens its own connection and commits before returning.
    """

    def __init__(self, path: str | Path | None = None, *, timeout: float = 10.0) -> None:
        """Open (creating or migrating if needed) the database at ``path``.

        ``path`` defaults to ``data_dir()/"runs.db"``. ``timeout`` is how many seconds a
        call waits for a lock held by another writer before raising :class:`StoreError`.
        """
        if str(path) == ":memory:":
            raise ValueError("RunStore needs a file: each call opens its own connection")
        self._path = Path(path).expanduser() if path is not None else data_dir() / "runs.db"
        self._timeout = float(timeout)
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._initialise()

    @property
    def path(self) -> Path:
        """The database file."""
        return self._path

    # -- connections ---------------------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            str(self._path), timeout=self._timeout, isolation_level=None, check_same_thread=False
        )
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {int(self._timeout * 1000)}")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA synchronous = NORMAL")  # durable across process kills in WAL
        return conn

    @contextmanager
    def _connection(self, write: bool) -> Iterator[sqlite3.Connection]:
        """A fresh connection; with ``write`` it runs inside ``BEGIN IMMEDIATE``/``COMMIT``."""
        try:
            conn = self._open()
        except sqlite3.DatabaseError as exc:
            raise self._translate(exc) from exc
        try:
            if write:
                conn.execute("BEGIN IMMEDIATE")
            yield conn
            if write:
                conn.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            self._rollback(conn)
            raise self._translate(exc) from exc
        except BaseException:
            self._rollback(conn)
            raise
        finally:
            conn.close()

    def _read(self) -> AbstractContextManager[sqlite3.Connection]:
        """A plain (autocommit) connection for reads."""
        return self._connection(write=False)

    def _write(self) -> AbstractContextManager[sqlite3.Connection]:
        """A connection inside one write transaction, committed on success."""
        return self._connection(write=True)

    @staticmethod
    def _rollback(conn: sqlite3.Connection) -> None:
        if conn.in_transaction:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass

    def _translate(self, exc: sqlite3.DatabaseError) -> StoreError:
        """Turn an sqlite error into a one-line :class:`StoreError`."""
        text = str(exc)
        lowered = text.lower()
        if "locked" in lowered or "busy" in lowered:
            return StoreError(
                f"run database {self._path} is locked by another writer "
                f"(waited {self._timeout:g} s): {text}; try again in a moment"
            )
        if any(word in lowered for word in ("not a database", "malformed", "encrypted")):
            return StoreError(
                f"run database {self._path} is corrupt: {text}; "
                "it was left untouched — move it away to start a new one"
            )
        if "unable to open" in lowered:
            return StoreError(f"cannot open run database {self._path}: {text}")
        return StoreError(f"run database {self._path}: {text}")

    # -- schema --------------------------------------------------------------------

    def _initialise(self) -> None:
        """Check the file is a database of a known schema, switch to WAL, migrate."""
        with self._read() as conn:
            version = self._schema_version(conn)  # reads the header: detects corruption
            conn.execute("PRAGMA journal_mode = WAL")
        if version < SCHEMA_VERSION:
            self._migrate()

    def _schema_version(self, conn: sqlite3.Connection) -> int:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"run database {self._path} has schema version {version}, newer than this "
                f"GraphConv Lab understands ({SCHEMA_VERSION}); upgrade the app"
            )
        return version

    def _migrate(self) -> None:
        with self._write() as conn:
            version = self._schema_version(conn)  # re-read under the write lock
            for target in range(version + 1, SCHEMA_VERSION + 1):
                for statement in _MIGRATIONS[target]:
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {target}")

    # -- small write helpers -------------------------------------------------------

    @staticmethod
    def _update(conn: sqlite3.Connection, run_id: int, **fields: Any) -> None:
        """``UPDATE runs SET <fields> WHERE id = run_id``; raises if no such run."""
        assignments = ", ".join(f"{column} = ?" for column in fields)
        cursor = conn.execute(
            f"UPDATE runs SET {assignments} WHERE id = ?", (*fields.values(), int(run_id))
        )
        if cursor.rowcount == 0:
            raise RunNotFoundError(f"run {run_id} does not exist")

    @staticmethod
    def _require_run(conn: sqlite3.Connection, run_id: int) -> None:
        if conn.execute("SELECT 1 FROM runs WHERE id = ?", (int(run_id),)).fetchone() is None:
            raise RunNotFoundError(f"run {run_id} does not exist")

    # -- run life cycle ------------------------------------------------------------

    def create_run(
        self,
        config: Mapping[str, Any],
        *,
        name: str = "",
        kind: str = "image",
        device: str = "",
        session: str | None = None,
        status: str = "queued",
    ) -> int:
        """Record a new run and return its id.

        The creating process's pid and a fresh heartbeat are stored, so a run queued by a
        process that then dies is found by :meth:`recover_interrupted`. Library versions
        are recorded from package metadata.
        """
        _check_status(status)
        now = time.time()
        values = (
            now, now, status, kind, name, _to_json(dict(config)), device,
            _to_json(library_versions()), "{}", os.getpid(), now, session,
        )
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT INTO runs (created_at, updated_at, status, kind, name, config, device,"
                " versions, summary, pid, heartbeat, session)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                values,
            )
            return int(cursor.lastrowid or 0)

    def start(self, run_id: int, device: str) -> None:
        """Mark the run as running on ``device`` in this process (pid and heartbeat set)."""
        now = time.time()
        with self._write() as conn:
            self._update(
                conn, run_id, status="running", device=device, pid=os.getpid(),
                heartbeat=now, updated_at=now,
            )

    @staticmethod
    def _beat(conn: sqlite3.Connection, run_id: int, now: float) -> None:
        """Refresh the heartbeat; a run wrongly marked ``interrupted`` goes back to running.

        Only a live worker heartbeats, so an ``interrupted`` mark it contradicts (e.g. a
        long pause between heartbeats seen by another process) is undone here.
        """
        cursor = conn.execute(
            "UPDATE runs SET heartbeat = ?,"
            " error = CASE WHEN status = 'interrupted' THEN NULL ELSE error END,"
            " updated_at = CASE WHEN status = 'interrupted' THEN ? ELSE updated_at END,"
            " status = CASE WHEN status = 'interrupted' THEN 'running' ELSE status END"
            " WHERE id = ?",
            (now, now, int(run_id)),
        )
        if cursor.rowcount == 0:
            raise RunNotFoundError(f"run {run_id} does not exist")

    def heartbeat(self, run_id: int) -> None:
        """Tell :meth:`recover_interrupted` the run is still alive (see :meth:`_beat`)."""
        with self._write() as conn:
            self._beat(conn, run_id, time.time())

    def log_epoch(self, run_id: int, epoch: int, **metrics: Any) -> None:
        """Store one epoch's metrics (replacing any earlier row for that epoch).

        ``train_loss``, ``train_accuracy``, ``test_accuracy``, ``seconds`` and
        ``images_per_second`` get their own columns (NaN is stored as ``None``); any other
        keyword goes to the JSON ``extra`` column. Committed at once; counts as a heartbeat.
        """
        columns = [_as_number(key, metrics.pop(key, None)) for key in METRIC_COLUMNS]
        row = (int(run_id), operator.index(epoch), *columns, _to_json(metrics))
        now = time.time()
        with self._write() as conn:
            self._beat(conn, run_id, now)
            self._update(conn, run_id, updated_at=now)
            conn.execute(
                f"INSERT OR REPLACE INTO metrics (run_id, epoch, {', '.join(METRIC_COLUMNS)},"
                " extra) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )

    def finish(
        self,
        run_id: int,
        summary: Mapping[str, Any],
        status: str = "finished",
        error: str | None = None,
        checkpoint: str | Path | None = None,
    ) -> None:
        """Close the run with a terminal ``status`` and its ``summary``.

        ``checkpoint``, when given, records the path of the saved weights; otherwise any
        path recorded earlier (see :meth:`set_checkpoint`) is kept.
        """
        _check_status(status, TERMINAL_STATUSES)
        now = time.time()
        fields: dict[str, Any] = {
            "status": status, "summary": _to_json(dict(summary)), "error": error,
            "updated_at": now, "heartbeat": now,
        }
        if checkpoint is not None:
            fields["checkpoint"] = self._checkpoint_to_db(checkpoint)
        with self._write() as conn:
            self._update(conn, run_id, **fields)

    def fail(self, run_id: int, error: str) -> None:
        """Mark the run as failed with ``error`` (its summary so far is kept)."""
        now = time.time()
        with self._write() as conn:
            self._update(conn, run_id, status="failed", error=str(error), updated_at=now)

    def set_checkpoint(self, run_id: int, path: str | Path) -> None:
        """Record where the run's latest checkpoint is (e.g. after each epoch)."""
        with self._write() as conn:
            self._update(conn, run_id, checkpoint=self._checkpoint_to_db(path), updated_at=time.time())

    # -- live progress and stop requests (written by the worker, read by every page) ----

    def log_progress(self, run_id: int, epoch: int, batch: int, num_batches: int, loss: float | None,
                     points: Iterable[tuple[float, float]] = ()) -> None:
        """The run's position (epoch, batch of num_batches, last loss) and new (fractional epoch, loss)
        points of its live curve. Keeps at most ``MAX_PROGRESS_POINTS`` points (every other one is
        dropped when full). Counts as a heartbeat."""
        now = time.time()
        with self._write() as conn:
            self._beat(conn, run_id, now)
            row = conn.execute("SELECT points FROM progress WHERE run_id = ?", (int(run_id),)).fetchone()
            kept = _from_json(row["points"], empty=[]) if row is not None else []
            kept.extend([round(float(x), 4), float(y)] for x, y in points)
            while len(kept) > MAX_PROGRESS_POINTS:
                kept = kept[::2]
            conn.execute(
                "INSERT OR REPLACE INTO progress (run_id, epoch, batch, num_batches, loss, points, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (int(run_id), int(epoch), int(batch), int(num_batches), _as_number("loss", loss),
                 _to_json(kept), now),
            )

    def progress(self, run_id: int) -> dict[str, Any] | None:
        """``{"epoch", "batch", "num_batches", "loss", "points", "updated_at"}`` of the run, or ``None``."""
        with self._read() as conn:
            row = conn.execute("SELECT * FROM progress WHERE run_id = ?", (int(run_id),)).fetchone()
        if row is None:
            return None
        out = {key: row[key] for key in ("epoch", "batch", "num_batches", "loss", "updated_at")}
        out["points"] = [tuple(p) for p in _from_json(row["points"], empty=[])]
        return out

    def request_stop(self, run_id: int) -> bool:
        """Ask an active run to stop (its worker checks between batches); ``False`` if it is not active."""
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE runs SET stop_requested = COALESCE(stop_requested, ?) WHERE id = ? AND status IN (?, ?)",
                (time.time(), int(run_id), *ACTIVE_STATUSES),
            )
            return cursor.rowcount > 0

    def stop_requested(self, run_id: int) -> bool:
        """True once :meth:`request_stop` was called for the run."""
        with self._read() as conn:
            row = conn.execute("SELECT stop_requested FROM runs WHERE id = ?", (int(run_id),)).fetchone()
        return row is not None and row["stop_requested"] is not None

    def queue_position(self, run_id: int) -> int:
        """1 for the oldest queued run, 2 for the next, ...; 0 when the run is not queued."""
        with self._read() as conn:
            row = conn.execute(
                "SELECT COUNT(*) FROM runs WHERE status = 'queued' AND id <= ?"
                " AND EXISTS (SELECT 1 FROM runs WHERE id = ? AND status = 'queued')",
                (int(run_id), int(run_id)),
            ).fetchone()
        return int(row[0])

        # Checkpoints inside the data folder are recorded relative to it, so the folder can be moved
    # (``GRAPHCONV_DATA_DIR``) or copied without its runs losing their weights.
    def _checkpoint_to_db(self, path: str | Path) -> str:
        p = Path(path).expanduser()
        try:
            return p.resolve().relative_to(self._path.parent.resolve()).as_posix()
        except ValueError:  # outside the data folder: keep it as given
            return str(p)

    def _checkpoint_from_db(self, stored: str | None) -> str | None:
        if not stored:
            return stored
        p = Path(stored)
        if not p.is_absolute():
            return str(self._path.parent / p)
        moved = self._path.parent / "checkpoints" / p.name  # an absolute path recorded before the folder moved
        if not p.exists() and p.parent.name == "checkpoints" and moved.is_file():
            return str(moved)
        return stored

    def _run(self, row: sqlite3.Row) -> dict[str, Any]:
        run = _run_from_row(row)
        run["checkpoint"] = self._checkpoint_from_db(run.get("checkpoint"))
        return run

    def recover_interrupted(self, stale_after: float = 60.0) -> list[int]:
        """Mark dead ``queued``/``running`` runs as ``interrupted`` and return their ids.

        A run is dead when its pid no longer exists on this host, or when its heartbeat is
        older than ``stale_after`` seconds (this also catches a reused pid). Runs in any
        other status are never touched. Call it when the app or CLI starts. If a worker
        marked this way is in fact alive, its next heartbeat or epoch sets it running again.
        """
        now = time.time()
        recovered: list[int] = []
        with self._write() as conn:
            rows = conn.execute(
                "SELECT id, pid, heartbeat FROM runs WHERE status IN (?, ?)", ACTIVE_STATUSES
            ).fetchall()
            for row in rows:
                reason = _interruption_reason(row["pid"], row["heartbeat"], now, stale_after)
                if reason is not None:
                    self._update(
                        conn, row["id"], status="interrupted", error=reason, updated_at=now
                    )
                    recovered.append(int(row["id"]))
        return recovered

    def delete_run(self, run_id: int, *, remove_checkpoint: bool = True) -> bool:
        """Delete the run with its metrics and artifacts; ``False`` if there was none.

        With ``remove_checkpoint`` its checkpoint file is removed too, but only when it
        lies in this store's ``checkpoints`` folder (files elsewhere are never deleted).
        """
        run = self.get_run(run_id)
        with self._write() as conn:
            conn.execute("DELETE FROM artifacts WHERE run_id = ?", (int(run_id),))
            conn.execute("DELETE FROM metrics WHERE run_id = ?", (int(run_id),))
            conn.execute("DELETE FROM progress WHERE run_id = ?", (int(run_id),))
            deleted = conn.execute("DELETE FROM runs WHERE id = ?", (int(run_id),)).rowcount
        if run is not None and remove_checkpoint and run["checkpoint"]:
            _remove_owned_checkpoint(Path(run["checkpoint"]), self._path.parent / "checkpoints")
        return deleted > 0

    # -- reading -------------------------------------------------------------------

    def get_run(self, run_id: int) -> dict[str, Any] | None:
        """The run as a dict (``config``, ``summary``, ``versions`` parsed), or ``None``."""
        with self._read() as conn:
            row = conn.execute(
                f"SELECT {', '.join(RUN_COLUMNS)} FROM runs WHERE id = ?", (int(run_id),)
            ).fetchone()
        return None if row is None else self._run(row)

    def require_run(self, run_id: int) -> dict[str, Any]:
        """Like :meth:`get_run`, but an unknown id raises :class:`RunNotFoundError`."""
        run = self.get_run(run_id)
        if run is None:
            raise RunNotFoundError(f"run {run_id} does not exist")
        return run

    def list_runs(
        self,
        limit: int | None = None,
        status: str | Iterable[str] | None = None,
        kind: str | None = None,
        session: str | None = None,
    ) -> list[dict[str, Any]]:
        """Runs, newest first, optionally filtered by status (one or several), kind, session."""
        clauses: list[str] = []
        params: list[Any] = []
        if status is not None:
            statuses = [status] if isinstance(status, str) else list(status)
            clauses.append(f"status IN ({', '.join('?' * len(statuses))})")
            params.extend(statuses)
        for column, value in (("kind", kind), ("session", session)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        tail = " LIMIT ?" if limit is not None else ""
        params.extend([int(limit)] if limit is not None else [])
        query = f"SELECT {', '.join(RUN_COLUMNS)} FROM runs{where} ORDER BY id DESC{tail}"
        with self._read() as conn:
            rows = conn.execute(query, params).fetchall()
        return [self._run(row) for row in rows]

    def runs_with_weights(self, model: str | None = None, limit: int | None = 200) -> list[dict[str, Any]]:
        """Finished or stopped runs (of ``model``, if given) whose checkpoint file exists, newest first."""
        runs = self.list_runs(status=("finished", "stopped"), limit=limit)
        return [r for r in runs if (model is None or (r.get("config") or {}).get("model") == model)
                and r.get("checkpoint") and Path(r["checkpoint"]).expanduser().is_file()]

    def epochs(self, run_id: int) -> list[dict[str, Any]]:
        """The run's logged epochs in order; ``extra`` metrics are merged into each dict."""
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT epoch, {', '.join(METRIC_COLUMNS)}, extra FROM metrics"
                " WHERE run_id = ? ORDER BY epoch",
                (int(run_id),),
            ).fetchall()
        return [_epoch_from_row(row) for row in rows]

    # -- artifacts -----------------------------------------------------------------

    def save_artifact(self, run_id: int, name: str, data: Any, epoch: int | None = None) -> None:
        """Store ``data`` (bytes as a blob, anything else as JSON) under ``name``/``epoch``.

        ``epoch=None`` means a run-level artifact. Saving again replaces the old value.
        """
        key = _RUN_LEVEL_EPOCH if epoch is None else operator.index(epoch)
        value = _encode_artifact(data)
        with self._write() as conn:
            self._require_run(conn, run_id)
            conn.execute(
                "INSERT OR REPLACE INTO artifacts (run_id, name, epoch, data) VALUES (?, ?, ?, ?)",
                (int(run_id), name, key, value),
            )

    def load_artifact(self, run_id: int, name: str, epoch: int | None = None) -> Any:
        """The stored artifact (bytes or the parsed JSON), or ``None`` if there is none."""
        key = _RUN_LEVEL_EPOCH if epoch is None else operator.index(epoch)
        with self._read() as conn:
            row = conn.execute(
                "SELECT data FROM artifacts WHERE run_id = ? AND name = ? AND epoch = ?",
                (int(run_id), name, key),
            ).fetchone()
        return None if row is None else _decode_artifact(row["data"])

    def list_artifacts(self, run_id: int, name: str | None = None) -> list[dict[str, Any]]:
        """``[{"name", "epoch"}]`` of the run's artifacts, by name then epoch (run-level: None)."""
        query = "SELECT name, epoch FROM artifacts WHERE run_id = ?"
        params: list[Any] = [int(run_id)]
        if name is not None:
            query += " AND name = ?"
            params.append(name)
        with self._read() as conn:
            rows = conn.execute(query + " ORDER BY name, epoch", params).fetchall()
        return [{"name": row["name"], "epoch": _artifact_epoch(row["epoch"])} for row in rows]


# ----------------------------------------------------------------------------- checkpoints


def checkpoint_path(run_id: int) -> Path:
    """Where run ``run_id`` keeps its weights: ``data_dir()/"checkpoints"/"run-<id>.pt"``."""
    return data_dir() / "checkpoints" / f"run-{int(run_id)}.pt"


def _remove_owned_checkpoint(path: Path, folder: Path) -> None:
    folder = folder.resolve()
    resolved = path.expanduser().resolve()
    if resolved.parent == folder and resolved.is_file():
        resolved.unlink(missing_ok=True)


def save_checkpoint(state_dict: Mapping[str, Any], path: str | Path) -> Path:
    """Write ``state_dict`` with ``torch.save`` atomically (temp file, fsync, ``os.replace``).

    A crash mid-write leaves the previous checkpoint (if any) intact. Returns the path.
    """
    import torch

    target = Path(path).expanduser()
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(state_dict, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return target


def load_checkpoint(path: str | Path) -> Any:
    """Load a checkpoint onto the CPU with ``weights_only=True``.

    Raises :class:`CheckpointError` when the file is missing, corrupt or truncated, or
    holds objects other than tensors and plain containers (which are never unpickled).
    """
    import torch

    source = Path(path).expanduser()
    if not source.is_file():
        raise CheckpointError(f"checkpoint {source} does not exist")
    try:
        return torch.load(source, weights_only=True, map_location="cpu")
    except pickle.UnpicklingError as exc:
        if "global" in str(exc).lower():  # "Unsupported global: GLOBAL module.Class ..."
            raise CheckpointError(
                f"checkpoint {source} holds objects other than tensors and plain containers "
                f"({_weights_unpickler_detail(exc)}); refusing to load it (weights_only)"
            ) from exc
        raise _unreadable(source, exc) from exc
    except Exception as exc:  # torch raises RuntimeError, EOFError, KeyError, ... here
        raise _unreadable(source, exc) from exc


def _weights_unpickler_detail(exc: BaseException) -> str:
    """The informative line of a torch error: the WeightsUnpickler reason, else the first."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    marker = "WeightsUnpickler error:"
    for index, line in enumerate(lines):
        if marker in line:
            reason = line.split(marker, 1)[1].strip()
            if not reason and index + 1 < len(lines):
                reason = lines[index + 1]
            return (reason or line).split(" was not an allowed global")[0]
    return lines[0].split(". ")[0] if lines else type(exc).__name__


def _unreadable(source: Path, exc: BaseException) -> CheckpointError:
    return CheckpointError(
        f"checkpoint {source} is corrupt, truncated or not a checkpoint "
        f"({type(exc).__name__}: {_weights_unpickler_detail(exc)})"
    )
