"""What the run manager asks of a training backend: :class:`Backend`, and :class:`JobControl` for one job.

``core.training.runner.RunManager`` starts each queued run through its backend and from then on holds the
backend's *handle* for it (a process, a Ray task's reference, a Tune trial); every tick it polls the handle,
and when the run ends it asks why, or terminates it. Those four calls are :class:`JobControl`. A search that
runs as one Ray Tune experiment is its own :class:`JobControl` (:class:`Search`): its trials are polled, described
and ended through the search, not the backend, so the manager keeps, per job, whichever control owns its
handle. The backends are ``core.training.process_backend.ProcessBackend`` (worker processes, the default),
``core.training.ray_backend.RayBackend`` (Ray tasks; its searches are ``core.training.tune_search.TuneSearch``).

Declared here, as MLflow's ``AbstractStore`` declares a store, so the manager never probes a backend for what it
can do: a backend that cannot run searches with early stopping says so (:attr:`Backend.early_stopping`), one that
sizes its own slots says how many (:meth:`Backend.capacity`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

Handle = Any  # what a backend's start returns for one run, and its other calls take back


class JobControl(ABC):
    """Polls, describes and ends started jobs; ``shutdown`` ends whatever the control itself runs."""

    @abstractmethod
    def poll(self, handle: Handle) -> int | None:
        """None while the job runs, else its exit code (0: the job ended by itself)."""

    @abstractmethod
    def describe_exit(self, handle: Handle) -> str:
        """Why a job ended when its run did not end with it, in words for the run's error."""

    @abstractmethod
    def terminate(self, handle: Handle) -> None:
        """End the job now (a stop request it did not obey in time, or the manager closing)."""

    def shutdown(self) -> None:
        """The manager closes: end anything this control runs beside its jobs (a Tune search's driver). Nothing by
        default."""
        return None


class Search(JobControl):
    """One search started as a whole (a Ray Tune experiment): a handle per planned run, in plan order."""

    trials: list[Handle]


class Backend(JobControl):
    """Where runs train: starts one run, and controls it (:class:`JobControl`) until it ends."""

    name: ClassVar[str]  # "process", "ray": what messages and ``core.training.resume.check_backend`` call it
    early_stopping: ClassVar[bool] = False  # whether :meth:`start_search` runs a search with early stopping

    @abstractmethod
    def start(self, db_path: str, env: dict[str, str | None], run_id: int, config: dict[str, Any]) -> Handle:
        """Start training stored run ``run_id`` with ``config``, writing to the store at ``db_path`` (or to the
        launcher, which writes it) with the environment ``env``; returns the job's handle."""

    def capacity(self) -> int | None:
        """How many runs this backend trains at once when nobody says (Ray: the cluster's CPUs); None: as many as
        this machine holds (``core.training.cpu_share.default_max_runs``)."""
        return None

    def start_search(self, db_path: str, env: dict[str, str | None], plan: list[tuple[int, dict[str, Any]]]) -> Search:
        """Start one search over the stored runs of ``plan`` ((run id, config), in order) with early stopping.
        Only a backend whose :attr:`early_stopping` is true can; the manager queues the others' trials as runs."""
        raise NotImplementedError(f"the {self.name} backend runs no searches with early stopping")
