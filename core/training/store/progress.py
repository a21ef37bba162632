"""The live channel between a training worker and every page: progress one way, stop requests the other.

The worker writes its position and new loss-curve points (:meth:`ProgressChannel.log_progress`) and
reads :meth:`ProgressChannel.stop_requested` between batches; any process (a page, ``python -m core
stop``) reads :meth:`ProgressChannel.progress` and calls :meth:`ProgressChannel.request_stop`.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from core.training.store.codec import as_number, from_json, progress_from_row, to_json
from core.training.store.database import Database
from core.training.store.liveness import beat
from core.training.store.schema import ACTIVE_STATUSES

MAX_PROGRESS_POINTS = 1000  # batch-loss points kept per run for the live curve (older ones are thinned)


class ProgressChannel(Database):
    """The run store's progress and stop-request calls (part of :class:`~core.training.store.RunStore`)."""

    def log_progress(
        self,
        run_id: int,
        epoch: int,
        batch: int,
        num_batches: int,
        loss: float | None,
        points: Iterable[tuple[float, float]] = (),
    ) -> None:
        """The run's position (epoch, batch of num_batches, last loss) and new (fractional epoch, loss)
        points of its live curve. Keeps at most ``MAX_PROGRESS_POINTS`` points (every other one is
        dropped when full). Counts as a heartbeat."""
        now = time.time()
        with self._write() as conn:
            beat(conn, run_id, now)
            row = conn.execute("SELECT points FROM progress WHERE run_id = ?", (int(run_id),)).fetchone()
            kept = from_json(row["points"], empty=[]) if row is not None else []
            kept.extend([round(float(x), 4), float(y)] for x, y in points)
            while len(kept) > MAX_PROGRESS_POINTS:
                kept = kept[::2]
            conn.execute(
                "INSERT OR REPLACE INTO progress (run_id, epoch, batch, num_batches, loss, points, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (int(run_id), int(epoch), int(batch), int(num_batches), as_number("loss", loss), to_json(kept), now),
            )

    def progress(self, run_id: int) -> dict[str, Any] | None:
        """``{"epoch", "batch", "num_batches", "loss", "points", "updated_at"}`` of the run, or ``None``."""
        with self._read() as conn:
            row = conn.execute("SELECT * FROM progress WHERE run_id = ?", (int(run_id),)).fetchone()
        return progress_from_row(row)

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
