"""The run store: every training run, its metrics, live progress and artifacts in one SQLite file,
its weights in ``.pt`` files beside it; or all of it in a PostgreSQL database (``GRAPHCONV_STORE_URL``).

``base`` (:class:`AbstractStore`, what every store does: the interface callers use), ``entities`` (:class:`Run`,
:class:`RunSummary`, :class:`Epoch`: what a store returns), ``runs`` (:class:`RunStore`, the SQLite store: a run's
life cycle and reading runs), ``database`` (connections, sqlite
errors as :class:`StoreError`), ``schema`` (tables, statuses, migrations), ``liveness`` (heartbeats,
dead-worker recovery), ``progress`` (live progress, stop requests), ``artifacts``, ``checkpoints``
(weights files, ``weights_only`` loading), ``codec`` (JSON columns), ``protocol`` (:class:`RunWriter`,
what a worker writes through), ``groups`` (:class:`RunGroup`: sweeps, searches, lesson launches),
``legacy_kinds`` (the one reader of the group kind strings older versions stored). ``postgres`` (with
``postgres_database``, ``postgres_parts``, ``postgres_checkpoints``) is the second implementation,
:class:`~core.training.store.postgres.PostgresStore`, imported only when a URL names it (psycopg loads then).

One factory decides which store a process opens: :func:`store_location` (``GRAPHCONV_STORE_URL``, else
``runs.db`` in the data folder), :func:`store_at` (a location: a ``postgresql://`` URL, a ``sqlite:///`` URL or a
file path, the string a worker is given as ``store.location``) and :func:`open_store`. Import from here; the
errors live in ``core.errors``.
"""

import os
import threading

from core.config import data_dir, store_url
from core.errors import CheckpointError, RunNotFoundError, StoreError
from core.training.store.base import AbstractStore
from core.training.store.checkpoints import checkpoint_path, load_checkpoint, load_state_strict, save_checkpoint
from core.training.store.codec import library_versions
from core.training.store.entities import Epoch, Run, RunSummary, as_run
from core.training.store.groups import GROUP_TYPES, RunGroup
from core.training.store.progress import MAX_PROGRESS_POINTS
from core.training.store.protocol import RunWriter
from core.training.store.runs import RunStore
from core.training.store.schema import (
    ACTIVE_STATUSES,
    METRIC_COLUMNS,
    MIGRATIONS,
    RUN_COLUMNS,
    SCHEMA_VERSION,
    STATUSES,
    TERMINAL_STATUSES,
)

SQLITE_PREFIX = "sqlite:///"  # sqlite:///runs.db (relative) or sqlite:////abs/runs.db, as SQLAlchemy spells them
_POSTGRES: dict[tuple[str, str, int], AbstractStore] = {}  # this process's PostgreSQL stores: their connection pools
_POSTGRES_LOCK = threading.Lock()


def store_location() -> str:
    """Where this process's run store is: ``GRAPHCONV_STORE_URL`` when set, else ``runs.db`` in the data folder."""
    return store_url() or str(data_dir() / "runs.db")


def store_at(location: str | os.PathLike[str]) -> AbstractStore:
    """The run store at ``location``: a ``postgresql://`` (or ``postgres://``) URL opens
    :class:`~core.training.store.postgres.PostgresStore` (one per URL and data folder in a process, so its
    connections are shared); a ``sqlite:///`` URL or a file path opens :class:`RunStore`. A worker is given
    ``store.location`` and opens the same store with this. Raises :class:`StoreError` for any other scheme."""
    text = os.fspath(location).strip()
    lowered = text.lower()
    if lowered.startswith(("postgresql://", "postgres://")):
        from core.training.store.postgres import PostgresStore

        key = (text, str(data_dir()), os.getpid())
        with _POSTGRES_LOCK:
            if key not in _POSTGRES:
                _POSTGRES[key] = PostgresStore(text)
            return _POSTGRES[key]
    if lowered.startswith(SQLITE_PREFIX):
        return RunStore(text[len(SQLITE_PREFIX) :])
    if "://" in text or lowered.startswith("sqlite:"):
        scheme = text.split(":", 1)[0]
        raise StoreError(
            f"run store address of scheme {scheme!r} is not supported: use postgresql://user:password@host:port/name,"
            " sqlite:///path/runs.db or a file path (GRAPHCONV_STORE_URL)"
        )
    return RunStore(text)


def open_store(store: AbstractStore | None = None) -> AbstractStore:
    """``store``, or this process's run store (:func:`store_location`): the one way engine code reaches the store
    when not given one."""
    return store if store is not None else store_at(store_location())


__all__ = [
    "ACTIVE_STATUSES",
    "GROUP_TYPES",
    "MAX_PROGRESS_POINTS",
    "METRIC_COLUMNS",
    "MIGRATIONS",
    "RUN_COLUMNS",
    "SCHEMA_VERSION",
    "STATUSES",
    "TERMINAL_STATUSES",
    "AbstractStore",
    "CheckpointError",
    "Epoch",
    "Run",
    "RunGroup",
    "RunNotFoundError",
    "RunStore",
    "RunSummary",
    "RunWriter",
    "StoreError",
    "as_run",
    "checkpoint_path",
    "library_versions",
    "load_checkpoint",
    "load_state_strict",
    "open_store",
    "save_checkpoint",
    "store_at",
    "store_location",
]
