"""What a training worker writes its run through: :class:`RunWriter`.

``core.training.runs.execute`` and the worker's reporter (``core.training.worker``) use only these
calls, so a run can train against the SQLite :class:`~core.training.store.RunStore` (this machine) or
against ``core.training.ray_backend.ChannelStore`` (a Ray task, whose writes travel to the launcher).
The one read among them, :meth:`RunWriter.stop_requested`, is the stop request coming back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class RunWriter(Protocol):
    """The calls a worker makes on its run's store, from start to end."""

    def start(self, run_id: int, device: str) -> None:
        """The run began training on ``device``."""
        ...

    def log_epoch(self, run_id: int, epoch: int, **metrics: Any) -> None:
        """One epoch's metrics (the columns of ``METRIC_COLUMNS``, anything else as extra)."""
        ...

    def save_artifact(self, run_id: int, name: str, data: Any, epoch: int | None = None) -> None:
        """A named value of the run (``epoch=None``: run-level), e.g. the per-epoch ``"pca"``."""
        ...

    def log_progress(
        self,
        run_id: int,
        epoch: int,
        batch: int,
        num_batches: int,
        loss: float | None,
        points: Iterable[tuple[float, float]] = (),
    ) -> None:
        """The run's position and new (fractional epoch, loss) points of its live curve."""
        ...

    def stop_requested(self, run_id: int) -> bool:
        """Whether someone asked the run to stop (read between batches)."""
        ...

    def fail(self, run_id: int, error: str) -> None:
        """The run ended with ``error``."""
        ...

    def finish(
        self,
        run_id: int,
        summary: Mapping[str, Any],
        status: str = "finished",
        error: str | None = None,
        checkpoint: str | Path | None = None,
    ) -> None:
        """The run ended with ``status``, its ``summary`` and (if any) the path of its saved weights."""
        ...
