"""The run store's main class: :class:`RunStore`, every run and its per-epoch metrics in one SQLite file.

The database lives at ``data_dir()/"runs.db"`` and runs in WAL mode, so the Streamlit app,
its background training threads and the CLI can read and write it at the same time. Each
call opens its own short-lived connection (safe from any thread, any process); writes take
the write lock up front (``BEGIN IMMEDIATE``) and wait up to ``timeout`` seconds for it.
Every write commits before the call returns, so a killed worker loses nothing it logged.

This module holds a run's life cycle (create, start, log epochs, finish or fail, delete), reading
runs back, and the run groups they belong to (sweeps, searches, lesson launches:
``core.training.store.groups``); :class:`RunStore` takes its connections, heartbeats and recovery,
live progress and stop requests, and artifacts from the sibling modules it names as bases.
"""

from __future__ import annotations

import operator
import os
import sqlite3
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from core.training.store.artifacts import Artifacts
from core.training.store.base import AbstractStore
from core.training.store.checkpoints import path_from_db, path_to_db, remove_owned_checkpoint
from core.training.store.codec import (
    GROUP_JOIN,
    as_number,
    epoch_from_row,
    from_json,
    library_versions,
    run_entity,
    run_filters,
    to_json,
)
from core.training.store.entities import Epoch, Run
from core.training.store.groups import RunGroup
from core.training.store.liveness import Liveness, beat, orphan_reason, this_host
from core.training.store.progress import ProgressChannel
from core.training.store.schema import ACTIVE_STATUSES, METRIC_COLUMNS, RUN_COLUMNS, STATUSES, TERMINAL_STATUSES


def _check_status(status: str, allowed: tuple[str, ...] = STATUSES) -> None:
    if status not in allowed:
        raise ValueError(f"status must be one of {', '.join(allowed)}; got {status!r}")


class RunStore(Liveness, ProgressChannel, Artifacts, AbstractStore):
    """All runs of GraphConv Lab in one SQLite database (WAL mode).

    Safe to share between threads and to open from several processes at once: every
    method opens its own connection and commits before returning. Opening it creates or
    migrates the file (:class:`~core.training.store.database.Database`). It implements
    :class:`~core.training.store.base.AbstractStore`, and so is the
    :class:`~core.training.store.protocol.RunWriter` a worker on this machine writes through.
    """

    @property
    def location(self) -> str:
        """The database file's absolute path: what a worker process opens this store with (and the same string
        however the folder was spelt, so caches keyed by it agree)."""
        return str(self._path.resolve())

    @property
    def data_folder(self) -> Path:
        """The folder the database file lies in (its runs' ``checkpoints/`` are there)."""
        return self._path.parent

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
        group: RunGroup | None = None,
    ) -> int:
        """Record a new run and return its id.

        ``group`` (a sweep, search or lesson launch) is saved if the store lacks it, and the run joins it; its
        ``kind`` column then holds the group's id, as older versions wrote it (``kind`` otherwise: ``image``,
        ``starter``). The creating process's pid and a fresh heartbeat are stored, so a run queued by a process
        that then dies is found by :meth:`recover_interrupted`. Library versions are recorded from package metadata.
        """
        _check_status(status)
        now = time.time()
        values = (
            now,
            now,
            status,
            group.id if group else kind,
            name,
            to_json(dict(config)),
            device,
            to_json(library_versions()),
            "{}",
            os.getpid(),
            this_host(),
            now,
            session,
            group.id if group else None,
        )
        with self._write() as conn:
            if group is not None:
                self._insert_group(conn, group, now)
            cursor = conn.execute(
                "INSERT INTO runs (created_at, updated_at, status, kind, name, config, device,"
                " versions, summary, pid, host, heartbeat, session, group_id)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                values,
            )
            return int(cursor.lastrowid or 0)

    # -- run groups ----------------------------------------------------------------

    @staticmethod
    def _insert_group(conn: sqlite3.Connection, group: RunGroup, now: float) -> None:
        conn.execute(
            "INSERT OR IGNORE INTO run_groups (id, type, created_at, fields) VALUES (?, ?, ?, ?)",
            (group.id, group.type, group.created_at or now, group.fields_json()),
        )

    def save_group(self, group: RunGroup) -> RunGroup:
        """Store ``group`` unless a group of its id is stored already (the first one stays); the stored group."""
        with self._write() as conn:
            self._insert_group(conn, group, time.time())
        return self.get_group(group.id) or group

    def get_group(self, group_id: str | None) -> RunGroup | None:
        """The stored group of id ``group_id``, or None."""
        if not isinstance(group_id, str) or not group_id:
            return None
        with self._read() as conn:
            row = conn.execute(
                "SELECT type, id, fields, created_at FROM run_groups WHERE id = ?", (group_id,)
            ).fetchone()
        return None if row is None else RunGroup.from_row(row["type"], row["id"], row["fields"], row["created_at"])

    def groups(self, group_type: str | None = None) -> dict[str, RunGroup]:
        """Every stored group (of ``group_type``: sweep, search or lesson, if given) by id, newest first."""
        where, params = (" WHERE type = ?", [group_type]) if group_type is not None else ("", [])
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT type, id, fields, created_at FROM run_groups{where} ORDER BY created_at DESC, id", params
            ).fetchall()
        return {row["id"]: RunGroup.from_row(row["type"], row["id"], row["fields"], row["created_at"]) for row in rows}

    def start(self, run_id: int, device: str) -> None:
        """Mark the run as running on ``device`` in this process (pid, host and heartbeat set)."""
        now = time.time()
        with self._write() as conn:
            self._update(
                conn,
                run_id,
                status="running",
                device=device,
                pid=os.getpid(),
                host=this_host(),
                heartbeat=now,
                updated_at=now,
            )

    def log_epoch(self, run_id: int, epoch: int, **metrics: Any) -> None:
        """Store one epoch's metrics (replacing any earlier row for that epoch).

        ``train_loss``, ``train_accuracy``, ``test_accuracy``, ``seconds`` and
        ``images_per_second`` get their own columns (NaN is stored as ``None``); any other
        keyword goes to the JSON ``extra`` column. Committed at once; counts as a heartbeat.
        """
        columns = [as_number(key, metrics.pop(key, None)) for key in METRIC_COLUMNS]
        row = (int(run_id), operator.index(epoch), *columns, to_json(metrics))
        now = time.time()
        with self._write() as conn:
            beat(conn, run_id, now)
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
        path recorded earlier is kept.
        """
        _check_status(status, TERMINAL_STATUSES)
        now = time.time()
        fields: dict[str, Any] = {
            "status": status,
            "summary": to_json(dict(summary)),
            "error": error,
            "updated_at": now,
            "heartbeat": now,
        }
        if checkpoint is not None:
            fields["checkpoint"] = path_to_db(checkpoint, self._path.parent)
        with self._write() as conn:
            self._update(conn, run_id, **fields)

    def fail(self, run_id: int, error: str) -> None:
        """Mark the run as failed with ``error`` (its summary so far is kept)."""
        now = time.time()
        with self._write() as conn:
            self._update(conn, run_id, status="failed", error=str(error), updated_at=now)

    def delete_run(self, run_id: int, *, remove_checkpoint: bool = True) -> bool:
        """Delete the run with its metrics, progress and artifacts; ``False`` if there was none.

        With ``remove_checkpoint`` its checkpoint file is removed too, but only when it
        lies in this store's ``checkpoints`` folder (files elsewhere are never deleted).
        """
        run = self.run(run_id)
        with self._write() as conn:
            conn.execute("DELETE FROM artifacts WHERE run_id = ?", (int(run_id),))
            conn.execute("DELETE FROM metrics WHERE run_id = ?", (int(run_id),))
            conn.execute("DELETE FROM progress WHERE run_id = ?", (int(run_id),))
            deleted = conn.execute("DELETE FROM runs WHERE id = ?", (int(run_id),)).rowcount
        if run is not None and remove_checkpoint and run.checkpoint:
            remove_owned_checkpoint(Path(run.checkpoint), self._path.parent / "checkpoints")
        return deleted > 0

    # -- taking over the runs of a dead server ------------------------------------

    def orphaned_runs(self, stale_after: float = 60.0) -> list[Run]:
        """Queued or running runs whose owner is dead (:func:`~core.training.store.liveness.orphan_reason`: its
        process gone from the host it ran on, or no heartbeat for ``stale_after`` seconds), oldest first. Nothing is
        changed: a server takes each over with :meth:`claim_orphan` or :meth:`interrupt_orphan`."""
        now = time.time()
        with self._read() as conn:
            rows = conn.execute(
                f"{self._SELECT} WHERE runs.status IN (?, ?) ORDER BY runs.id", ACTIVE_STATUSES
            ).fetchall()
        return [
            self._entity(row)
            for row in rows
            if orphan_reason(row["pid"], row["host"], row["heartbeat"], now, stale_after) is not None
        ]

    def claim_orphan(self, run: Run, *, resume_from: int = 0) -> bool:
        """Take orphan ``run`` (as :meth:`orphaned_runs` read it) over for this process, if nobody changed it since:
        a compare-and-set on its status, pid and heartbeat inside one write transaction, so of two servers claiming
        the same run exactly one gets True. The run becomes ``queued`` again under its id, owned by this process
        (pid, host, a fresh heartbeat), its stop request kept; what it did after epoch ``resume_from`` (epoch rows,
        per-epoch artifacts, live loss points) is dropped, so it goes on from the end of that epoch (0: from the
        start). False when the run is not active or was changed (claimed, ended, or its worker was alive after all)."""
        if run.status not in ACTIVE_STATUSES:
            return False
        keep = operator.index(resume_from)
        now = time.time()
        with self._write() as conn:
            claimed = conn.execute(
                "UPDATE runs SET status = 'queued', pid = ?, host = ?, heartbeat = ?, updated_at = ?, error = NULL"
                " WHERE id = ? AND status = ? AND pid IS ? AND heartbeat IS ?",
                (os.getpid(), this_host(), now, now, run.id, run.status, run.pid, run.heartbeat),
            ).rowcount
            if not claimed:
                return False
            conn.execute("DELETE FROM metrics WHERE run_id = ? AND epoch > ?", (run.id, keep))
            conn.execute("DELETE FROM artifacts WHERE run_id = ? AND epoch > ?", (run.id, keep))  # not run-level (-1)
            row = conn.execute("SELECT points, num_batches FROM progress WHERE run_id = ?", (run.id,)).fetchone()
            if row is not None and keep == 0:
                conn.execute("DELETE FROM progress WHERE run_id = ?", (run.id,))
            elif row is not None:
                points = [p for p in from_json(row["points"], empty=[]) if p[0] <= keep]
                conn.execute(
                    "UPDATE progress SET epoch = ?, batch = ?, points = ?, updated_at = ? WHERE run_id = ?",
                    (keep, row["num_batches"], to_json(points), now, run.id),
                )
        return True

    def interrupt_orphan(self, run: Run, reason: str) -> bool:
        """End orphan ``run`` (as :meth:`orphaned_runs` read it) ``interrupted`` with ``reason`` (why it cannot go
        on), by the same compare-and-set as :meth:`claim_orphan`; its epochs and artifacts are kept. False when the
        run is not active or was changed since."""
        if run.status not in ACTIVE_STATUSES:
            return False
        now = time.time()
        with self._write() as conn:
            return (
                conn.execute(
                    "UPDATE runs SET status = 'interrupted', error = ?, updated_at = ?"
                    " WHERE id = ? AND status = ? AND pid IS ? AND heartbeat IS ?",
                    (str(reason), now, run.id, run.status, run.pid, run.heartbeat),
                ).rowcount
                > 0
            )

    # -- reading -------------------------------------------------------------------

    _SELECT = (
        f"SELECT {', '.join(f'runs.{c}' for c in RUN_COLUMNS)}, runs.host AS host,{GROUP_JOIN}"
        " FROM runs LEFT JOIN run_groups g ON g.id = runs.group_id"
    )

    def _entity(self, row: sqlite3.Row) -> Run:
        """A ``runs`` row (joined with its group's) as a :class:`Run`: JSON parsed, checkpoint a usable path."""
        return run_entity(row, lambda stored: path_from_db(stored, self._path.parent))

    def run(self, run_id: int) -> Run | None:
        """The run, or None when no run has this id."""
        with self._read() as conn:
            row = conn.execute(f"{self._SELECT} WHERE runs.id = ?", (int(run_id),)).fetchone()
        return None if row is None else self._entity(row)

    def runs(
        self,
        limit: int | None = None,
        status: str | Iterable[str] | None = None,
        kind: str | None = None,
        session: str | None = None,
        group: RunGroup | str | None = None,
    ) -> list[Run]:
        """Runs, newest first, optionally filtered by status (one or several), kind, session, group (or its id)."""
        tail, params = run_filters("?", limit, status, kind, session, group)
        with self._read() as conn:
            rows = conn.execute(f"{self._SELECT}{tail}", params).fetchall()
        return [self._entity(row) for row in rows]

    def epochs(self, run_id: int) -> list[Epoch]:
        """The run's logged epochs in order; ``extra`` metrics are merged into each."""
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT epoch, {', '.join(METRIC_COLUMNS)}, extra FROM metrics WHERE run_id = ? ORDER BY epoch",
                (int(run_id),),
            ).fetchall()
        return [epoch_from_row(row) for row in rows]

    def queue_position(self, run_id: int) -> int:
        """1 for the oldest queued run, 2 for the next, ...; 0 when the run is not queued."""
        with self._read() as conn:
            row = conn.execute(
                "SELECT COUNT(*) FROM runs WHERE status = 'queued' AND id <= ?"
                " AND EXISTS (SELECT 1 FROM runs WHERE id = ? AND status = 'queued')",
                (int(run_id), int(run_id)),
            ).fetchone()
        return int(row[0])
