"""The PostgreSQL store's liveness, live channel and artifacts: the same calls as the SQLite store's ``liveness``,
``progress`` and ``artifacts`` modules, in PostgreSQL's SQL.

Several app servers may share one database, so a run records the machine its process runs on
(``liveness.this_host``) beside its pid, and a pid is looked up only on that machine (``liveness.orphan_reason``,
shared with the SQLite store): another server's runs are judged by their heartbeat alone (that server heartbeats its
queued and training runs every few seconds). A stop request is a row's column, read by whichever server trains the
run.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from core.errors import RunNotFoundError
from core.training.store.codec import as_number, from_json, progress_from_row, to_json
from core.training.store.liveness import orphan_reason
from core.training.store.postgres_database import NOW_SQL, SCHEMA, PostgresDatabase
from core.training.store.progress import MAX_PROGRESS_POINTS
from core.training.store.schema import ACTIVE_STATUSES

if TYPE_CHECKING:
    import psycopg

_RUN_LEVEL_EPOCH = -1  # artifacts saved without an epoch are stored under this key (as in the SQLite store)


def pg_beat(conn: psycopg.Connection[Any], run_id: int) -> None:
    """Refresh the heartbeat; a run wrongly marked ``interrupted`` goes back to running (see ``liveness.beat``)."""
    cursor = conn.execute(
        f"UPDATE {SCHEMA}.runs SET heartbeat = {NOW_SQL},"
        " error = CASE WHEN status = 'interrupted' THEN NULL ELSE error END,"
        f" updated_at = CASE WHEN status = 'interrupted' THEN {NOW_SQL} ELSE updated_at END,"
        " status = CASE WHEN status = 'interrupted' THEN 'running' ELSE status END"
        " WHERE id = %s",
        (int(run_id),),
    )
    if cursor.rowcount == 0:
        raise RunNotFoundError(f"run {run_id} does not exist")


class PostgresLiveness(PostgresDatabase):
    """Heartbeats and the recovery of runs whose process is gone."""

    def heartbeat(self, run_id: int) -> None:
        """Tell :meth:`recover_interrupted` the run is still alive (see :func:`pg_beat`)."""
        with self._write() as conn:
            pg_beat(conn, run_id)

    def recover_interrupted(self, stale_after: float = 60.0) -> list[int]:
        """Mark dead ``queued``/``running`` runs as ``interrupted`` with the reason, and return their ids.

        A run is dead when its pid no longer exists on this machine (asked only of runs started here), or when its
        heartbeat is older than ``stale_after`` seconds by the database's clock. The rows are locked while they are
        judged, so two servers recovering at once mark each run once."""
        recovered: list[int] = []
        with self._write() as conn:
            rows = conn.execute(
                f"SELECT id, pid, host, heartbeat, {NOW_SQL} AS now FROM {SCHEMA}.runs"
                " WHERE status IN (%s, %s) ORDER BY id FOR UPDATE",
                ACTIVE_STATUSES,
            ).fetchall()
            for row in rows:
                reason = orphan_reason(row["pid"], row["host"], row["heartbeat"], row["now"], stale_after)
                if reason is not None:
                    conn.execute(
                        f"UPDATE {SCHEMA}.runs SET status = 'interrupted', error = %s, updated_at = {NOW_SQL}"
                        " WHERE id = %s",
                        (reason, row["id"]),
                    )
                    recovered.append(int(row["id"]))
        return recovered


class PostgresProgress(PostgresDatabase):
    """Live progress one way, stop requests the other (see ``core.training.store.progress``)."""

    def log_progress(
        self,
        run_id: int,
        epoch: int,
        batch: int,
        num_batches: int,
        loss: float | None,
        points: Iterable[tuple[float, float]] = (),
    ) -> None:
        """The run's position and new (fractional epoch, loss) points of its live curve; at most
        ``MAX_PROGRESS_POINTS`` are kept (every other one is dropped when full). Counts as a heartbeat."""
        new = [[round(float(x), 4), float(y)] for x, y in points]
        with self._write() as conn:
            pg_beat(conn, run_id)  # locks the run's row: one writer of its progress at a time
            row = conn.execute(f"SELECT points FROM {SCHEMA}.progress WHERE run_id = %s", (int(run_id),)).fetchone()
            kept = from_json(row["points"], empty=[]) if row is not None else []
            kept.extend(new)
            while len(kept) > MAX_PROGRESS_POINTS:
                kept = kept[::2]
            conn.execute(
                f"INSERT INTO {SCHEMA}.progress (run_id, epoch, batch, num_batches, loss, points, updated_at)"
                f" VALUES (%s, %s, %s, %s, %s, %s, {NOW_SQL}) ON CONFLICT (run_id) DO UPDATE SET"
                " epoch = EXCLUDED.epoch, batch = EXCLUDED.batch, num_batches = EXCLUDED.num_batches,"
                " loss = EXCLUDED.loss, points = EXCLUDED.points, updated_at = EXCLUDED.updated_at",
                (int(run_id), int(epoch), int(batch), int(num_batches), as_number("loss", loss), to_json(kept)),
            )

    def progress(self, run_id: int) -> dict[str, Any] | None:
        """``{"epoch", "batch", "num_batches", "loss", "points", "updated_at"}`` of the run, or ``None``."""
        with self._read() as conn:
            row = conn.execute(f"SELECT * FROM {SCHEMA}.progress WHERE run_id = %s", (int(run_id),)).fetchone()
        return progress_from_row(row)

    def request_stop(self, run_id: int) -> bool:
        """Ask an active run to stop (whichever server trains it reads this); ``False`` if it is not active."""
        with self._write() as conn:
            cursor = conn.execute(
                f"UPDATE {SCHEMA}.runs SET stop_requested = COALESCE(stop_requested, {NOW_SQL})"
                " WHERE id = %s AND status IN (%s, %s)",
                (int(run_id), *ACTIVE_STATUSES),
            )
            return cursor.rowcount > 0

    def stop_requested(self, run_id: int) -> bool:
        """True once :meth:`request_stop` was called for the run."""
        with self._read() as conn:
            row = conn.execute(f"SELECT stop_requested FROM {SCHEMA}.runs WHERE id = %s", (int(run_id),)).fetchone()
        return row is not None and row["stop_requested"] is not None


class PostgresArtifacts(PostgresDatabase):
    """A run's named values: bytes as they are, anything else as JSON (``is_json``), run-level or per epoch."""

    def save_artifact(self, run_id: int, name: str, data: Any, epoch: int | None = None) -> None:
        """Store ``data`` under ``name``/``epoch`` (None: the whole run's), replacing an earlier value."""
        key = _RUN_LEVEL_EPOCH if epoch is None else operator.index(epoch)
        is_bytes = isinstance(data, (bytes, bytearray, memoryview))
        value = bytes(data) if is_bytes else to_json(data).encode()
        with self._write() as conn:
            self._require_run(conn, run_id)
            conn.execute(
                f"INSERT INTO {SCHEMA}.artifacts (run_id, name, epoch, is_json, data) VALUES (%s, %s, %s, %s, %s)"
                " ON CONFLICT (run_id, name, epoch) DO UPDATE SET is_json = EXCLUDED.is_json, data = EXCLUDED.data",
                (int(run_id), name, key, not is_bytes, value),
            )

    def load_artifact(self, run_id: int, name: str, epoch: int | None = None) -> Any:
        """The stored artifact (bytes or the parsed JSON), or ``None`` if there is none."""
        key = _RUN_LEVEL_EPOCH if epoch is None else operator.index(epoch)
        with self._read() as conn:
            row = conn.execute(
                f"SELECT is_json, data FROM {SCHEMA}.artifacts WHERE run_id = %s AND name = %s AND epoch = %s",
                (int(run_id), name, key),
            ).fetchone()
        if row is None:
            return None
        data = bytes(row["data"])
        return from_json(data.decode()) if row["is_json"] else data

    def list_artifacts(self, run_id: int, name: str | None = None) -> list[dict[str, Any]]:
        """``[{"name", "epoch"}]`` of the run's artifacts, by name then epoch (run-level: None)."""
        query = f"SELECT name, epoch FROM {SCHEMA}.artifacts WHERE run_id = %s"
        params: list[Any] = [int(run_id)]
        if name is not None:
            query += " AND name = %s"
            params.append(name)
        with self._read() as conn:
            rows = conn.execute(query + ' ORDER BY name COLLATE "C", epoch', params).fetchall()
        return [{"name": r["name"], "epoch": None if r["epoch"] == _RUN_LEVEL_EPOCH else r["epoch"]} for r in rows]
