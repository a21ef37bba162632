"""A run database as the version before run groups wrote it (schema 2), for the tests that open one."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from contextlib import closing
from pathlib import Path
from typing import Any

# The schema-2 tables exactly as the previous version created them (core/training/store/schema.py at 16c7964).
SCHEMA_2 = (
    """CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, created_at REAL NOT NULL, updated_at REAL NOT NULL,
       status TEXT NOT NULL, kind TEXT NOT NULL DEFAULT 'image', name TEXT NOT NULL DEFAULT '',
       config TEXT NOT NULL DEFAULT '{}', device TEXT NOT NULL DEFAULT '', versions TEXT NOT NULL DEFAULT '{}',
       summary TEXT NOT NULL DEFAULT '{}', error TEXT, pid INTEGER, heartbeat REAL, session TEXT, checkpoint TEXT,
       stop_requested REAL)""",
    "CREATE INDEX runs_kind ON runs(kind)",
    """CREATE TABLE metrics (run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE, epoch INTEGER NOT NULL,
       train_loss REAL, train_accuracy REAL, test_accuracy REAL, seconds REAL, images_per_second REAL,
       extra TEXT NOT NULL DEFAULT '{}', PRIMARY KEY (run_id, epoch))""",
    """CREATE TABLE artifacts (run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE, name TEXT NOT NULL,
       epoch INTEGER NOT NULL DEFAULT -1, data BLOB, PRIMARY KEY (run_id, name, epoch))""",
    """CREATE TABLE progress (run_id INTEGER PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
       epoch INTEGER NOT NULL DEFAULT 0, batch INTEGER NOT NULL DEFAULT 0, num_batches INTEGER NOT NULL DEFAULT 0,
       loss REAL, points TEXT NOT NULL DEFAULT '[]', updated_at REAL NOT NULL)""",
)


def write_schema_2(path: Path, runs: Iterable[tuple[str, str, dict[str, Any], dict[str, Any]]]) -> Path:
    """A schema-2 database at ``path`` holding ``runs`` ((kind, name, config, summary), each finished, in order),
    written with plain SQL as the old store wrote them: each group packed into its runs' ``kind``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(path)) as conn, conn:
        for statement in SCHEMA_2:
            conn.execute(statement)
        conn.execute("PRAGMA user_version = 2")
        for i, (kind, name, config, summary) in enumerate(runs):
            conn.execute(
                "INSERT INTO runs (created_at, updated_at, status, kind, name, config, summary)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (1000.0 + i, 1000.0 + i, "finished", kind, name, json.dumps(config), json.dumps(summary)),
            )
    return path
