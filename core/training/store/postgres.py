"""The PostgreSQL run store: :class:`PostgresStore`, every run, its epochs, progress, artifacts and weights in one
PostgreSQL database, for a host whose disk is not kept (``GRAPHCONV_STORE_URL=postgresql://...``).

It is the second implementation of :class:`~core.training.store.base.AbstractStore`, beside the SQLite
:class:`~core.training.store.RunStore`, as MLflow keeps one store per backend behind its ``AbstractStore``; the
contract tests (``tests/core/training/store_contract.py``) run unchanged on both, against a real server.

Why plain ``psycopg`` (3) and not SQLAlchemy: the SQLite store is hand-written SQL over a dozen statements, and each
backend needs statements of its own where it matters (``INSERT ... ON CONFLICT``, ``RETURNING``, ``FOR UPDATE``,
``bytea``, an advisory lock, the database's clock), so a second dialect of the same short SQL is smaller and easier
to check than an ORM rewrite of both stores; SQLAlchemy would add a large dependency and a session model to learn
for no query we cannot write directly. ``psycopg[binary]`` ships libpq in its wheel, so no system library is needed.

Several app servers may share the database. Ids come from it (an identity column), so two servers never give two
runs one id; a stop request is a column of the run's row, read by whichever server trains it; a run's process is
judged alive only on its own machine (``postgres_parts``); and the claim of a queued run is one conditional
``UPDATE ... RETURNING``, so two servers never both start the same run.

The parts: ``postgres_database`` (connections, errors, schema), ``postgres_parts`` (liveness, progress and stop
requests, artifacts), ``postgres_checkpoints`` (weights in the database, read through a local file); this module
holds a run's life cycle, reading runs and the groups they belong to.
"""

from __future__ import annotations

import operator
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.config import data_dir
from core.training.store.base import AbstractStore
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
from core.training.store.liveness import orphan_reason, this_host
from core.training.store.postgres_checkpoints import PostgresCheckpoints
from core.training.store.postgres_database import NOW, NOW_SQL, SCHEMA
from core.training.store.postgres_parts import PostgresArtifacts, PostgresLiveness, PostgresProgress, pg_beat
from core.training.store.schema import ACTIVE_STATUSES, METRIC_COLUMNS, RUN_COLUMNS, STATUSES, TERMINAL_STATUSES

if TYPE_CHECKING:
    import psycopg


def _check_status(status: str, allowed: tuple[str, ...] = STATUSES) -> None:
    if status not in allowed:
        raise ValueError(f"status must be one of {', '.join(allowed)}; got {status!r}")


class PostgresStore(PostgresLiveness, PostgresProgress, PostgresArtifacts, PostgresCheckpoints, AbstractStore):
    """All runs of GraphConv Lab in one PostgreSQL database (schema ``graphconv``), shared by any number of servers
    and worker processes. Safe from any thread; every call commits before it returns."""

    def __init__(self, url: str, *, data_folder: str | Path | None = None, timeout: float = 10.0) -> None:
        """Open the database at ``url``, creating its tables when it has none. ``data_folder`` (default: the data
        folder, ``GRAPHCONV_DATA_DIR``) is where this machine keeps local copies of weights and data caches."""
        self._data_folder = Path(data_folder).expanduser() if data_folder is not None else data_dir()
        self._data_folder.mkdir(parents=True, exist_ok=True)
        super().__init__(url, timeout=timeout)

    @property
    def location(self) -> str:
        """The database URL: what a worker process opens this store with."""
        return self._url

    @property
    def data_folder(self) -> Path:
        """This machine's folder for the store's local files (``checkpoint-cache/``, data caches)."""
        return self._data_folder

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
        """Record a new run and return the id the database gave it (see ``AbstractStore.create_run``)."""
        _check_status(status)
        values = (
            status,
            group.id if group else kind,
            name,
            to_json(dict(config)),
            device,
            to_json(library_versions()),
            os.getpid(),
            this_host(),
            session,
            group.id if group else None,
        )
        with self._write() as conn:
            if group is not None:
                self._insert_group(conn, group)
            row = conn.execute(
                f"INSERT INTO {SCHEMA}.runs (created_at, updated_at, heartbeat, status, kind, name, config, device,"
                " versions, summary, pid, host, session, group_id)"
                f" VALUES ({NOW_SQL}, {NOW_SQL}, {NOW_SQL}, %s, %s, %s, %s, %s, %s, '{{}}', %s, %s, %s, %s)"
                " RETURNING id",
                values,
            ).fetchone()
        assert row is not None  # INSERT ... RETURNING gives its row
        return int(row["id"])

    def start(self, run_id: int, device: str) -> None:
        """Mark the run as running on ``device`` in this process (pid, machine and heartbeat set)."""
        with self._write() as conn:
            self._update(
                conn,
                run_id,
                status="running",
                device=device,
                pid=os.getpid(),
                host=this_host(),
                heartbeat=NOW,
                updated_at=NOW,
            )

    def log_epoch(self, run_id: int, epoch: int, **metrics: Any) -> None:
        """Store one epoch's metrics, replacing an earlier row of that epoch; counts as a heartbeat."""
        columns = [as_number(key, metrics.pop(key, None)) for key in METRIC_COLUMNS]
        row = (int(run_id), operator.index(epoch), *columns, to_json(metrics))
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in (*METRIC_COLUMNS, "extra"))
        with self._write() as conn:
            pg_beat(conn, run_id)
            self._update(conn, run_id, updated_at=NOW)
            conn.execute(
                f"INSERT INTO {SCHEMA}.metrics (run_id, epoch, {', '.join(METRIC_COLUMNS)}, extra)"
                f" VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (run_id, epoch) DO UPDATE SET {updates}",
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
        """Close the run with a terminal ``status`` and its ``summary``. ``checkpoint``, when given, is the weights
        file: its bytes go into the database (``postgres_checkpoints``); otherwise weights recorded earlier stay."""
        _check_status(status, TERMINAL_STATUSES)
        fields: dict[str, Any] = {
            "status": status,
            "summary": to_json(dict(summary)),
            "error": error,
            "updated_at": NOW,
            "heartbeat": NOW,
        }
        source, data = self._read_weights(checkpoint) if checkpoint is not None else (None, None)
        with self._write() as conn:
            if source is not None:
                fields["checkpoint"] = self._keep_weights(conn, source, data)
            self._update(conn, run_id, **fields)
        if source is not None:
            self._place_local_file(source, data, fields["checkpoint"])

    def fail(self, run_id: int, error: str) -> None:
        """Mark the run as failed with ``error`` (its summary so far is kept)."""
        with self._write() as conn:
            self._update(conn, run_id, status="failed", error=str(error), updated_at=NOW)

    def delete_run(self, run_id: int, *, remove_checkpoint: bool = True) -> bool:
        """Delete the run with its metrics, progress and artifacts; ``False`` if there was none. Its weights leave
        the database when no other run records the same ones; with ``remove_checkpoint`` their local file goes
        too (a file outside the data folder's ``checkpoints/`` is never deleted)."""
        with self._write() as conn:
            row = conn.execute(
                f"DELETE FROM {SCHEMA}.runs WHERE id = %s RETURNING checkpoint", (int(run_id),)
            ).fetchone()  # metrics, progress and artifacts go with it (ON DELETE CASCADE)
            stored = None if row is None else row["checkpoint"]
            dropped = self._forget_weights(conn, stored)
        if remove_checkpoint:
            self._remove_local_weights(stored, dropped)
        return row is not None

    # -- taking over the runs of a dead server ------------------------------------

    def orphaned_runs(self, stale_after: float = 60.0) -> list[Run]:
        """Queued or running runs whose owner is dead (``liveness.orphan_reason``: its process gone from the machine
        it ran on, or no heartbeat for ``stale_after`` seconds by the database's clock), oldest first. Reads only."""
        with self._read() as conn:
            rows = conn.execute(
                f"{self._SELECT} WHERE runs.status = ANY(%s) ORDER BY runs.id", (list(ACTIVE_STATUSES),)
            ).fetchall()
        return [
            self._entity(row)
            for row in rows
            if orphan_reason(row["pid"], row["host"], row["heartbeat"], row["now"], stale_after) is not None
        ]

    _UNCHANGED = " WHERE id = %s AND status = %s AND pid IS NOT DISTINCT FROM %s AND heartbeat IS NOT DISTINCT FROM %s"

    def claim_orphan(self, run: Run, *, resume_from: int = 0) -> bool:
        """Take orphan ``run`` over for this process if nobody changed it since it was read: one conditional
        ``UPDATE`` on its status, pid and heartbeat (a second server's waits for the first's commit, then finds the
        row changed), so of several servers exactly one gets True. The run is ``queued`` again under its id, owned
        here; what it did after epoch ``resume_from`` is dropped (see ``AbstractStore.claim_orphan``)."""
        if run.status not in ACTIVE_STATUSES:
            return False
        keep = operator.index(resume_from)
        with self._write() as conn:
            claimed = conn.execute(
                f"UPDATE {SCHEMA}.runs SET status = 'queued', pid = %s, host = %s, heartbeat = {NOW_SQL},"
                f" updated_at = {NOW_SQL}, error = NULL{self._UNCHANGED}",
                (os.getpid(), this_host(), run.id, run.status, run.pid, run.heartbeat),
            ).rowcount
            if not claimed:
                return False
            conn.execute(f"DELETE FROM {SCHEMA}.metrics WHERE run_id = %s AND epoch > %s", (run.id, keep))
            conn.execute(f"DELETE FROM {SCHEMA}.artifacts WHERE run_id = %s AND epoch > %s", (run.id, keep))
            row = conn.execute(
                f"SELECT points, num_batches FROM {SCHEMA}.progress WHERE run_id = %s", (run.id,)
            ).fetchone()
            if row is not None and keep == 0:
                conn.execute(f"DELETE FROM {SCHEMA}.progress WHERE run_id = %s", (run.id,))
            elif row is not None:
                points = [p for p in from_json(row["points"], empty=[]) if p[0] <= keep]
                conn.execute(
                    f"UPDATE {SCHEMA}.progress SET epoch = %s, batch = %s, points = %s, updated_at = {NOW_SQL}"
                    " WHERE run_id = %s",
                    (keep, row["num_batches"], to_json(points), run.id),
                )
        return True

    def interrupt_orphan(self, run: Run, reason: str) -> bool:
        """End orphan ``run`` ``interrupted`` with ``reason`` by the same conditional update as
        :meth:`claim_orphan` (its epochs and artifacts kept); False when it is not active or was changed since."""
        if run.status not in ACTIVE_STATUSES:
            return False
        with self._write() as conn:
            cursor = conn.execute(
                f"UPDATE {SCHEMA}.runs SET status = 'interrupted', error = %s, updated_at = {NOW_SQL}{self._UNCHANGED}",
                (str(reason), run.id, run.status, run.pid, run.heartbeat),
            )
            return cursor.rowcount > 0

    # -- run groups ----------------------------------------------------------------

    @staticmethod
    def _insert_group(conn: psycopg.Connection[Any], group: RunGroup) -> None:
        conn.execute(
            f"INSERT INTO {SCHEMA}.run_groups (id, type, created_at, fields)"
            f" VALUES (%s, %s, COALESCE(%s::float8, {NOW_SQL}), %s) ON CONFLICT (id) DO NOTHING",
            (group.id, group.type, group.created_at or None, group.fields_json()),
        )

    def save_group(self, group: RunGroup) -> RunGroup:
        """Store ``group`` unless a group of its id is stored already (the first one stays); the stored group."""
        with self._write() as conn:
            self._insert_group(conn, group)
        return self.get_group(group.id) or group

    def get_group(self, group_id: str | None) -> RunGroup | None:
        """The stored group of id ``group_id``, or None."""
        if not isinstance(group_id, str) or not group_id:
            return None
        with self._read() as conn:
            row = conn.execute(
                f"SELECT type, id, fields, created_at FROM {SCHEMA}.run_groups WHERE id = %s", (group_id,)
            ).fetchone()
        return None if row is None else RunGroup.from_row(row["type"], row["id"], row["fields"], row["created_at"])

    def groups(self, group_type: str | None = None) -> dict[str, RunGroup]:
        """Every stored group (of ``group_type``: sweep, search or lesson, if given) by id, newest first."""
        where, params = (" WHERE type = %s", [group_type]) if group_type is not None else ("", [])
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT type, id, fields, created_at FROM {SCHEMA}.run_groups{where}"
                ' ORDER BY created_at DESC, id COLLATE "C"',
                params,
            ).fetchall()
        return {row["id"]: RunGroup.from_row(row["type"], row["id"], row["fields"], row["created_at"]) for row in rows}

    # -- reading -------------------------------------------------------------------

    _SELECT = (
        f"SELECT {', '.join(f'runs.{c}' for c in RUN_COLUMNS)}, runs.host AS host, {NOW_SQL} AS now,{GROUP_JOIN}"
        f" FROM {SCHEMA}.runs LEFT JOIN {SCHEMA}.run_groups g ON g.id = runs.group_id"
    )

    def _entity(self, row: Mapping[str, Any]) -> Run:
        """A ``runs`` row (joined with its group's) as a :class:`Run`; weights kept in the database read as their
        local file (written from the database when this machine lacks it)."""
        return run_entity(row, self._local_checkpoint)

    def run(self, run_id: int) -> Run | None:
        """The run, or None when no run has this id."""
        with self._read() as conn:
            row = conn.execute(f"{self._SELECT} WHERE runs.id = %s", (int(run_id),)).fetchone()
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
        tail, params = run_filters("%s", limit, status, kind, session, group)
        with self._read() as conn:
            rows = conn.execute(f"{self._SELECT}{tail}", params).fetchall()
        return [self._entity(row) for row in rows]

    def epochs(self, run_id: int) -> list[Epoch]:
        """The run's logged epochs in order; ``extra`` metrics are merged into each."""
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT epoch, {', '.join(METRIC_COLUMNS)}, extra FROM {SCHEMA}.metrics"
                " WHERE run_id = %s ORDER BY epoch",
                (int(run_id),),
            ).fetchall()
        return [epoch_from_row(row) for row in rows]  # dict rows read as sqlite3.Row does: row[column]

    def queue_position(self, run_id: int) -> int:
        """1 for the oldest queued run, 2 for the next, ...; 0 when the run is not queued."""
        with self._read() as conn:
            row = conn.execute(
                f"SELECT COUNT(*) AS n FROM {SCHEMA}.runs WHERE status = 'queued' AND id <= %s"
                f" AND EXISTS (SELECT 1 FROM {SCHEMA}.runs WHERE id = %s AND status = 'queued')",
                (int(run_id), int(run_id)),
            ).fetchone()
        return int(row["n"]) if row else 0
