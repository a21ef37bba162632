"""The run store: every training run, its metrics, live progress and artifacts in one SQLite file,
its weights in ``.pt`` files beside it.

``base`` (:class:`AbstractStore`, what every store does: the interface callers use), ``entities`` (:class:`Run`,
:class:`RunSummary`, :class:`Epoch`: what a store returns), ``runs`` (:class:`RunStore`, the SQLite store: a run's
life cycle and reading runs), ``database`` (connections, sqlite
errors as :class:`StoreError`), ``schema`` (tables, statuses, migrations), ``liveness`` (heartbeats,
dead-worker recovery), ``progress`` (live progress, stop requests), ``artifacts``, ``checkpoints``
(weights files, ``weights_only`` loading), ``codec`` (JSON columns), ``protocol`` (:class:`RunWriter`,
what a worker writes through), ``groups`` (:class:`RunGroup`: sweeps, searches, lesson launches),
``legacy_kinds`` (the one reader of the group kind strings older versions stored). Import from here; the
errors live in ``core.errors``.
"""

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


def open_store(store: AbstractStore | None = None) -> AbstractStore:
    """``store``, or the data folder's run store: the one way engine code reaches the store when not given one."""
    return store if store is not None else RunStore()


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
]
