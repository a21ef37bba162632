"""A run's artifacts: named values (bytes as a blob, anything else as JSON), run-level or per epoch.

Training stores the test embedding of every epoch here (``"pca"``) for the Results page.
"""

from __future__ import annotations

import operator
from typing import Any

from core.training.store.codec import from_json, to_json
from core.training.store.database import Database

_RUN_LEVEL_EPOCH = -1  # artifacts saved without an epoch are stored under this key


def _encode_artifact(data: Any) -> str | bytes:
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    return to_json(data)


def _artifact_epoch(stored: int) -> int | None:
    return None if stored == _RUN_LEVEL_EPOCH else stored


def _decode_artifact(value: str | bytes | None) -> Any:
    if isinstance(value, bytes):
        return value
    return from_json(value)


class Artifacts(Database):
    """The run store's artifact calls (part of :class:`~core.training.store.RunStore`)."""

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
