"""A run's weights in the PostgreSQL store: kept in the database, read through a local file.

A host whose disk is wiped on restart must not lose a run's weights, so :meth:`PostgresCheckpoints._keep_weights`
copies the ``.pt`` file a worker saved into the ``blobs`` table (``bytea``), addressed by its SHA-256, and the run
records ``sha256:<hex>``. Every caller reads weights as a file (``load_checkpoint(run.checkpoint)``, the Results
page's download, a cache keyed by the file's path), so a run read back names a local file,
``<data folder>/checkpoint-cache/<hex>.pt``, written from the database the first time this machine reads the run
(:meth:`PostgresCheckpoints._local_checkpoint`) and reused afterwards: callers stay as they are, and a fresh machine
downloads each run's weights once. The name is the content's hash, so identical weights (a reused run) are stored
once, a cache file is never stale, and two stores sharing a data folder never overwrite each other's file.

The worker's own file, when it lies in the data folder's ``checkpoints/`` (the store's), is moved into the cache
rather than left beside it, so the data folder holds each weights file once. A path whose file does not exist is
recorded as it is, as the SQLite store does, and reads as no weights.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.config import write_atomically
from core.training.store.checkpoints import remove_owned_checkpoint
from core.training.store.postgres_database import NOW_SQL, SCHEMA, PostgresDatabase

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger(__name__)

BLOB_PREFIX = "sha256:"  # how a run records weights kept in the database
CACHE_FOLDER = "checkpoint-cache"  # under the data folder: weights written from the database, named by their hash


class PostgresCheckpoints(PostgresDatabase):
    """Weights in the ``blobs`` table and their local files (part of :class:`~core.training.store.PostgresStore`)."""

    _data_folder: Path  # set by PostgresStore before the database opens

    @property
    def _cache(self) -> Path:
        return self._data_folder / CACHE_FOLDER

    def _read_weights(self, path: str | Path) -> tuple[Path, bytes | None]:
        """(the path, its bytes), bytes None when no file is there (the path is then recorded as given)."""
        source = Path(path).expanduser()
        try:
            return source, source.read_bytes() if source.is_file() else None
        except OSError:
            return source, None

    def _keep_weights(self, conn: psycopg.Connection[Any], source: Path, data: bytes | None) -> str:
        """Store ``data`` (the file at ``source``) in ``blobs`` once; what the run's ``checkpoint`` column records."""
        if data is None:
            return str(source)
        digest = hashlib.sha256(data).hexdigest()
        conn.execute(
            f"INSERT INTO {SCHEMA}.blobs (sha256, size, created_at, data) VALUES (%s, %s, {NOW_SQL}, %s)"
            " ON CONFLICT (sha256) DO NOTHING",
            (digest, len(data), data),
        )
        return BLOB_PREFIX + digest

    def _place_local_file(self, source: Path, data: bytes | None, recorded: str) -> None:
        """After the weights are committed: the worker's file becomes the cache file (moved when it is the store's
        own, in the data folder's ``checkpoints/``; copied otherwise, the original left alone)."""
        if data is None or not recorded.startswith(BLOB_PREFIX):
            return
        target = self._cache / f"{recorded.removeprefix(BLOB_PREFIX)}.pt"
        owned = source.resolve().parent == (self._data_folder / "checkpoints").resolve()
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            if owned and source.resolve() != target.resolve():
                os.replace(source, target)
            elif not target.is_file():
                write_atomically(target, data)
        except OSError as err:  # the weights are in the database: a later read writes the file again
            log.warning("could not place checkpoint %s in the local cache: %s", target.name, err)

    def _local_checkpoint(self, stored: str | None) -> str | None:
        """The weights file a run's ``checkpoint`` column names, on this machine: the cache file for weights kept in
        the database (written from it now when missing), the path as recorded otherwise."""
        if not stored or not stored.startswith(BLOB_PREFIX):
            return stored
        digest = stored.removeprefix(BLOB_PREFIX)
        target = self._cache / f"{digest}.pt"
        if not target.is_file():
            self._materialise(digest, target)
        return str(target)

    def _materialise(self, digest: str, target: Path) -> None:
        """Write blob ``digest`` to ``target`` (atomically); nothing when the blob is gone or the disk refuses, so
        the file is missing and the reader says the checkpoint does not exist."""
        with self._read() as conn:
            row = conn.execute(f"SELECT data FROM {SCHEMA}.blobs WHERE sha256 = %s", (digest,)).fetchone()
        if row is None:
            return
        data = bytes(row["data"])
        if hashlib.sha256(data).hexdigest() != digest:
            log.warning("checkpoint blob %s does not match its hash; not written", digest[:12])
            return
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(target, data)
        except OSError as err:
            log.warning("could not write checkpoint %s from the database: %s", target.name, err)

    def _forget_weights(self, conn: psycopg.Connection[Any], stored: str | None) -> str | None:
        """Inside a run's deletion: drop its blob when no other run records it; the digest dropped, or None."""
        if not stored or not stored.startswith(BLOB_PREFIX):
            return None
        digest = stored.removeprefix(BLOB_PREFIX)
        cursor = conn.execute(
            f"DELETE FROM {SCHEMA}.blobs WHERE sha256 = %s"
            f" AND NOT EXISTS (SELECT 1 FROM {SCHEMA}.runs WHERE checkpoint = %s)",
            (digest, stored),
        )
        return digest if cursor.rowcount else None

    def _remove_local_weights(self, stored: str | None, dropped: str | None) -> None:
        """After a run's deletion: its cache file when its blob went, or its own file in ``checkpoints/``."""
        if dropped is not None:
            (self._cache / f"{dropped}.pt").unlink(missing_ok=True)
        elif stored and not stored.startswith(BLOB_PREFIX):
            remove_owned_checkpoint(Path(stored), self._data_folder / "checkpoints")
