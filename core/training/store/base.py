"""What every run store does: :class:`AbstractStore`, the one interface the app, the CLI, the runner and workers use.

Declared here, as MLflow's ``AbstractStore`` declares its tracking stores, so that a second implementation (a
PostgreSQL store for a host whose disk is not kept) plugs in behind the same calls, and so that the contract tests
(``tests/core/training/store_contract.py``) run unchanged against each one. :class:`~core.training.store.RunStore`
(SQLite, one file in the data folder) is the implementation today.

A store returns typed entities (``core.training.store.entities``): :class:`Run`, :class:`Epoch`, :class:`RunGroup`.
``get_run``, ``list_runs`` and ``runs_with_weights`` still return the old dict form (``Run.to_dict``) for the pages
that read it; they are built from the same rows as the typed calls, so both always agree.

A worker needs only the calls of :class:`~core.training.store.protocol.RunWriter`, which a store implements and so
does Ray's ``ChannelStore`` (its writes travel to the launcher's store).

Every call is safe from any thread and commits before it returns. An id that names no run raises
:class:`~core.errors.RunNotFoundError` where a call needs the run (the writes, :meth:`require_run`); a store that
cannot be used right now raises :class:`~core.errors.StoreError` with one line saying why.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from core.errors import RunNotFoundError
from core.training.store.entities import Epoch, Run
from core.training.store.groups import RunGroup


class AbstractStore(ABC):
    """Every run with its epochs, live progress, stop requests, artifacts and groups."""

    # -- where it lives --------------------------------------------------------------

    @property
    @abstractmethod
    def location(self) -> str:
        """What another process opens this same store with: a worker is given it (the SQLite file's path; a
        database URL for a server)."""

    @property
    @abstractmethod
    def data_folder(self) -> Path:
        """The folder of this store's runs' files on this machine: weights (``checkpoints/``), data caches. A
        worker is given it as ``GRAPHCONV_DATA_DIR``."""

    # -- a run's life cycle ----------------------------------------------------------

    @abstractmethod
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
        """Record a new run (``queued`` unless ``status`` says otherwise) with its flat ``config`` and return its
        id. ``group`` (a sweep, search or lesson launch) is saved if the store lacks it, and the run joins it.
        The creating process and a fresh heartbeat are recorded, so a run whose creator dies is recovered."""

    @abstractmethod
    def start(self, run_id: int, device: str) -> None:
        """The run is training on ``device`` in this process (status ``running``, pid and heartbeat set)."""

    @abstractmethod
    def log_epoch(self, run_id: int, epoch: int, **metrics: Any) -> None:
        """Store one epoch's metrics, replacing an earlier row of that epoch: the :class:`Epoch` fields, any other
        keyword as an extra metric. Counts as a heartbeat."""

    @abstractmethod
    def finish(
        self,
        run_id: int,
        summary: Mapping[str, Any],
        status: str = "finished",
        error: str | None = None,
        checkpoint: str | Path | None = None,
    ) -> None:
        """End the run with a terminal ``status`` (``finished``, ``failed``, ``stopped``, ``interrupted``) and
        its ``summary``; ``checkpoint`` records where its weights are (None keeps a path recorded earlier)."""

    @abstractmethod
    def fail(self, run_id: int, error: str) -> None:
        """The run failed with ``error`` (its summary so far is kept)."""

    @abstractmethod
    def delete_run(self, run_id: int, *, remove_checkpoint: bool = True) -> bool:
        """Delete the run with its epochs, progress and artifacts (and, with ``remove_checkpoint``, its weights
        file when the store owns it); False when there was no such run."""

    # -- reading runs: typed ---------------------------------------------------------

    @abstractmethod
    def run(self, run_id: int) -> Run | None:
        """The run, or None when no run has this id."""

    def require_run(self, run_id: int) -> Run:
        """The run; :class:`RunNotFoundError` when no run has this id."""
        run = self.run(run_id)
        if run is None:
            raise RunNotFoundError(f"run {run_id} does not exist")
        return run

    @abstractmethod
    def runs(
        self,
        limit: int | None = None,
        status: str | Iterable[str] | None = None,
        kind: str | None = None,
        session: str | None = None,
        group: RunGroup | str | None = None,
    ) -> list[Run]:
        """Runs, newest first, at most ``limit``: of a status (or one of several), a kind, a session, a group."""

    @abstractmethod
    def epochs(self, run_id: int) -> list[Epoch]:
        """The run's logged epochs in order (none for an unknown id)."""

    @abstractmethod
    def queue_position(self, run_id: int) -> int:
        """1 for the oldest queued run, 2 for the next, ...; 0 when the run is not queued."""

    # -- reading runs: the old dict form ---------------------------------------------

    def get_run(self, run_id: int) -> dict[str, Any] | None:
        """The OLD dict form of :meth:`run` (``Run.to_dict``: ``run["summary"]["test_accuracy"]``), for the pages
        not yet moved to the typed calls; None for an unknown id."""
        run = self.run(run_id)
        return None if run is None else run.to_dict()

    def list_runs(
        self,
        limit: int | None = None,
        status: str | Iterable[str] | None = None,
        kind: str | None = None,
        session: str | None = None,
        group: RunGroup | str | None = None,
    ) -> list[dict[str, Any]]:
        """The OLD dict form of :meth:`runs`, for the pages not yet moved to the typed calls."""
        return [run.to_dict() for run in self.runs(limit, status=status, kind=kind, session=session, group=group)]

    def runs_with_weights(self, model: str | None = None, limit: int | None = 200) -> list[dict[str, Any]]:
        """Finished or stopped runs (of ``model``, if given) whose weights file exists, newest first, in the OLD
        dict form (the pages that open a trained model read it)."""
        return [
            run.to_dict()
            for run in self.runs(limit, status=("finished", "stopped"))
            if (model is None or run.model == model) and run.checkpoint and Path(run.checkpoint).expanduser().is_file()
        ]

    # -- groups ------------------------------------------------------------------------

    @abstractmethod
    def save_group(self, group: RunGroup) -> RunGroup:
        """Store ``group`` unless a group of its id is stored already (the first one stays); the stored group."""

    @abstractmethod
    def get_group(self, group_id: str | None) -> RunGroup | None:
        """The stored group of id ``group_id``, or None (also for None or an empty id)."""

    @abstractmethod
    def groups(self, group_type: str | None = None) -> dict[str, RunGroup]:
        """Every stored group (of ``group_type``: sweep, search or lesson, if given) by id, newest first."""

    # -- liveness ----------------------------------------------------------------------

    @abstractmethod
    def heartbeat(self, run_id: int) -> None:
        """The run's worker (or the manager that will start it) is alive; a run wrongly marked ``interrupted``
        goes back to ``running``."""

    @abstractmethod
    def recover_interrupted(self, stale_after: float = 60.0) -> list[int]:
        """Mark ``queued``/``running`` runs whose process is gone, or whose heartbeat is older than
        ``stale_after`` seconds, as ``interrupted`` (with the reason) and return their ids."""

    # -- taking over a dead server's runs (core.training.resume) ---------------------------

    @abstractmethod
    def orphaned_runs(self, stale_after: float = 60.0) -> list[Run]:
        """``queued``/``running`` runs whose owner is dead, oldest first: its process gone (a pid is looked up only
        on the host it ran on) or no heartbeat for ``stale_after`` seconds. Reads only."""

    @abstractmethod
    def claim_orphan(self, run: Run, *, resume_from: int = 0) -> bool:
        """Take orphan ``run`` (as :meth:`orphaned_runs` returned it) over for this process: atomically, only if its
        status, pid and heartbeat are still those of ``run`` (a compare-and-set in one transaction), so of several
        servers exactly one claims it. It becomes ``queued`` under the same id, owned by this process with a fresh
        heartbeat, its stop request kept, and what it did after epoch ``resume_from`` (epoch rows, per-epoch
        artifacts, live loss points) is dropped. True when this call claimed it."""

    @abstractmethod
    def interrupt_orphan(self, run: Run, reason: str) -> bool:
        """End orphan ``run`` ``interrupted`` with ``reason``, by the same compare-and-set as :meth:`claim_orphan`
        (its epochs and artifacts kept); True when this call ended it."""

    # -- the live channel: progress one way, stop requests the other ---------------------

    @abstractmethod
    def log_progress(
        self,
        run_id: int,
        epoch: int,
        batch: int,
        num_batches: int,
        loss: float | None,
        points: Iterable[tuple[float, float]] = (),
    ) -> None:
        """The run's position and new (fractional epoch, loss) points of its live curve (a bounded number are
        kept). Counts as a heartbeat."""

    @abstractmethod
    def progress(self, run_id: int) -> dict[str, Any] | None:
        """``{"epoch", "batch", "num_batches", "loss", "points", "updated_at"}`` of the run, or None before its
        first batch."""

    @abstractmethod
    def request_stop(self, run_id: int) -> bool:
        """Ask an active run to stop (its worker reads it between batches); False when it is not active."""

    @abstractmethod
    def stop_requested(self, run_id: int) -> bool:
        """Whether a stop was requested for the run."""

    # -- artifacts -----------------------------------------------------------------------

    @abstractmethod
    def save_artifact(self, run_id: int, name: str, data: Any, epoch: int | None = None) -> None:
        """Store ``data`` (bytes as they are, anything else as JSON) under ``name`` and ``epoch`` (None: the whole
        run's), replacing an earlier value."""

    @abstractmethod
    def load_artifact(self, run_id: int, name: str, epoch: int | None = None) -> Any:
        """The stored artifact (bytes or the parsed JSON), or None when there is none."""

    @abstractmethod
    def list_artifacts(self, run_id: int, name: str | None = None) -> list[dict[str, Any]]:
        """``[{"name", "epoch"}]`` of the run's artifacts (of ``name``, if given), by name then epoch."""
