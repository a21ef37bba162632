"""The run database's schema: its tables, the statuses a run goes through, and the migrations.

``PRAGMA user_version`` holds the schema version. :func:`migrate` brings an older file up to
:data:`SCHEMA_VERSION` one step at a time (its SQL, then its data step in :data:`DATA_STEPS`, if any); a file
newer than this code is refused by
:func:`schema_version` with a :class:`~core.errors.StoreError` (it is never touched).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from core.config import shown_path
from core.errors import StoreError
from core.training.store.legacy_kinds import adopt_kind_groups

SCHEMA_VERSION = 4
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
# the columns a Run is read from; ``host`` (schema 4: the host of the process in ``pid``) is the store's own, read
# only by its liveness checks (``core.training.store.liveness``)
RUN_COLUMNS: tuple[str, ...] = (
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
    "pid",
    "heartbeat",
    "stop_requested",
    "group_id",
)

MIGRATIONS: dict[int, tuple[str, ...]] = {
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
    3: (  # sweeps, searches and lesson launches are groups with fields, no longer packed into a run's kind
        """CREATE TABLE IF NOT EXISTS run_groups (
            id TEXT PRIMARY KEY,
            type TEXT NOT NULL,
            created_at REAL NOT NULL,
            fields TEXT NOT NULL DEFAULT '{}'
        )""",
        "CREATE INDEX IF NOT EXISTS run_groups_type ON run_groups(type)",
        "ALTER TABLE runs ADD COLUMN group_id TEXT",
        "CREATE INDEX IF NOT EXISTS runs_group ON runs(group_id)",
    ),
    4: (  # several servers may share a store: a pid says whether a run's owner lives only on the host it ran on
        "ALTER TABLE runs ADD COLUMN host TEXT",
    ),
}
# A migration's step in Python after its SQL: schema 3 reads the old group kinds once (core.training.store.legacy_kinds)
DATA_STEPS: dict[int, Callable[[sqlite3.Connection], None]] = {3: adopt_kind_groups}


def schema_version(conn: sqlite3.Connection, path: Path) -> int:
    """The file's schema version (reading it checks the header, so corruption shows here).

    Raises :class:`StoreError` when ``path`` was written by a newer GraphConv Lab.
    """
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"run database {shown_path(path)} has schema version {version}, newer than this "
            f"GraphConv Lab understands ({SCHEMA_VERSION}); upgrade the app"
        )
    return version


def migrate(conn: sqlite3.Connection, path: Path) -> None:
    """Apply every migration the file lacks; ``conn`` must hold the write lock."""
    version = schema_version(conn, path)  # re-read under the write lock
    for target in range(version + 1, SCHEMA_VERSION + 1):
        for statement in MIGRATIONS[target]:
            conn.execute(statement)
        if target in DATA_STEPS:
            DATA_STEPS[target](conn)
        conn.execute(f"PRAGMA user_version = {target}")
