"""The run database file: opening it, one short connection per call, and sqlite errors as one line.

:class:`Database` is the base every part of :class:`~core.training.store.RunStore` builds on. Each
call opens its own connection (safe from any thread, any process); writes take the write lock up
front (``BEGIN IMMEDIATE``), wait up to ``timeout`` seconds for it, and commit before returning.
An sqlite error becomes a :class:`~core.errors.StoreError` that says what happened: locked,
corrupt (the file is never deleted or overwritten), unopenable.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from pathlib import Path
from typing import Any

from core.config import data_dir, shown_path
from core.errors import RunNotFoundError, StoreError
from core.training.store.schema import SCHEMA_VERSION, migrate, schema_version


class Database:
    """One SQLite file in WAL mode, created or migrated to :data:`SCHEMA_VERSION` when opened."""

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
        conn = sqlite3.connect(str(self._path), timeout=self._timeout, isolation_level=None, check_same_thread=False)
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
            with suppress(sqlite3.Error):  # the connection is closed next: a failed rollback changes nothing
                conn.execute("ROLLBACK")

    def _translate(self, exc: sqlite3.DatabaseError) -> StoreError:
        """Turn an sqlite error into a one-line :class:`StoreError`."""
        text = str(exc)
        lowered = text.lower()
        if "locked" in lowered or "busy" in lowered:
            return StoreError(
                f"run database {shown_path(self._path)} is locked by another writer "
                f"(waited {self._timeout:g} s): {text}; try again in a moment"
            )
        if any(word in lowered for word in ("not a database", "malformed", "encrypted")):
            return StoreError(
                f"run database {shown_path(self._path)} is corrupt: {text}; "
                "it was left untouched — move it away to start a new one"
            )
        if "unable to open" in lowered:
            return StoreError(f"cannot open run database {shown_path(self._path)}: {text}")
        return StoreError(f"run database {shown_path(self._path)}: {text}")

    # -- schema --------------------------------------------------------------------

    def _initialise(self) -> None:
        """Check the file is a database of a known schema, switch to WAL, migrate."""
        with self._read() as conn:
            version = schema_version(conn, self._path)  # reads the header: detects corruption
            conn.execute("PRAGMA journal_mode = WAL")
        if version < SCHEMA_VERSION:
            with self._write() as conn:
                migrate(conn, self._path)

    # -- small write helpers -------------------------------------------------------

    @staticmethod
    def _update(conn: sqlite3.Connection, run_id: int, **fields: Any) -> None:
        """``UPDATE runs SET <fields> WHERE id = run_id``; raises if no such run."""
        assignments = ", ".join(f"{column} = ?" for column in fields)
        cursor = conn.execute(f"UPDATE runs SET {assignments} WHERE id = ?", (*fields.values(), int(run_id)))
        if cursor.rowcount == 0:
            raise RunNotFoundError(f"run {run_id} does not exist")

    @staticmethod
    def _require_run(conn: sqlite3.Connection, run_id: int) -> None:
        if conn.execute("SELECT 1 FROM runs WHERE id = ?", (int(run_id),)).fetchone() is None:
            raise RunNotFoundError(f"run {run_id} does not exist")
