"""What the store hands back: a stored :class:`Run` (with its :class:`RunSummary`) and each :class:`Epoch` of it.

Every store (:class:`~core.training.store.base.AbstractStore`: SQLite today) returns these, as MLflow's stores return
its ``Run`` entities, so a caller reads ``run.summary.test_accuracy`` or ``run.group`` and never guards a dict with
``(run.get("summary") or {})``. A run's ``config`` stays the flat dict as stored (``RunConfig.to_dict``; old rows
lack newer settings), and :meth:`Run.run_config` turns it into a :class:`~core.training.run_config.RunConfig` where a
caller needs one. The dict form older callers read (``get_run``, ``list_runs``) is :meth:`Run.to_dict` of the same
entity, so both forms always agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, NotRequired, TypedDict

from core.errors import UserInputError
from core.training.store.groups import RunGroup
from core.training.store.schema import ACTIVE_STATUSES, TERMINAL_STATUSES

if TYPE_CHECKING:
    from core.training.run_config import RunConfig


class Epoch(TypedDict):
    """One logged epoch of a run (a row of ``metrics``), as :meth:`AbstractStore.epochs` returns it.

    A typed dict, not a dataclass: an epoch is a row of numbers that figures, tables, JSON output and caches take as
    it is, so it stays a plain dict at run time while the type checker knows its fields. A metric the epoch did not
    measure is None; any other metric the worker logged (its ``extra``) is one more key.
    """

    epoch: int
    train_loss: float | None
    train_accuracy: float | None
    test_accuracy: float | None
    seconds: float | None
    images_per_second: float | None
    threads: NotRequired[dict[str, Any]]  # the worker's thread share: min, max, cpus, runs (CpuShare.epoch_threads)


def _float(value: Any) -> float | None:
    """A stored number as a float; None for None or anything that is not a number (a foreign row)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _int(value: Any) -> int | None:
    """A stored whole number as an int; None for None or anything else."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        return None
    return int(value)


@dataclass(frozen=True)
class RunSummary:
    """What a run recorded when it ended (the ``summary`` column): the figures pages and tools read, typed.

    A run that has not ended, or ended before measuring something, has None there. ``stored`` keeps the column as
    written, every key included (the run's label, device, errors of optional steps, a Ray node...), so
    :meth:`to_dict` gives back exactly what was stored.
    """

    test_accuracy: float | None = None  # the last finished epoch's, 0..1
    parameters: int | None = None  # the model's trainable parameters
    seconds: float | None = None  # wall clock of the whole run
    cpu_seconds: float | None = None  # every thread's CPU time (what core.training.cost estimates)
    peak_mb: float | None = None  # the worker's resident high-water mark
    images_per_second: float | None = None
    train_images: int | None = None
    test_images: int | None = None
    epochs_done: int | None = None  # a stopped run: how many epochs finished
    early_stopped: bool = False  # a search's trial that ASHA stopped
    stored: dict[str, Any] = field(default_factory=dict, repr=False)

    _FLOATS = ("test_accuracy", "seconds", "cpu_seconds", "peak_mb", "images_per_second")
    _INTS = ("parameters", "train_images", "test_images", "epochs_done")

    @classmethod
    def from_dict(cls, stored: Mapping[str, Any] | None) -> RunSummary:
        """The summary of a stored column (None or empty: a run that has not ended)."""
        d = dict(stored or {})
        typed: dict[str, Any] = {name: _float(d.get(name)) for name in cls._FLOATS}
        typed.update({name: _int(d.get(name)) for name in cls._INTS})
        return cls(**typed, early_stopped=bool(d.get("early_stopped")), stored=d)

    def to_dict(self) -> dict[str, Any]:
        """The summary as stored, with any typed field set beyond it (a summary built in code)."""
        out = dict(self.stored)
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name != "stored" and value != f.default and out.get(f.name) != value:
                out[f.name] = value
        return out


@dataclass(frozen=True)
class Run:
    """One stored run: who it is, where it stands, what it was trained with and what it gave.

    ``config`` is the flat settings dict as stored (:meth:`run_config` reads it as a ``RunConfig``); ``group`` is
    the sweep, search or lesson launch the run belongs to. The rest mirrors the ``runs`` table: ``kind`` (``image``,
    ``starter``, or for a grouped run its group's id, as older versions wrote it), the device it trained on, the
    library versions it was trained with, its weights file, and the worker's pid and last heartbeat.
    """

    id: int
    status: str  # one of schema.STATUSES
    name: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    summary: RunSummary = field(default_factory=RunSummary)
    error: str | None = None  # why it failed, stopped or was interrupted
    session: str | None = None  # the browser session that started it (None: the CLI, a script)
    created_at: float = 0.0
    updated_at: float = 0.0
    group: RunGroup | None = None  # the stored group ``group_id`` names (None in a dict form read back: as_run)
    group_id: str | None = None  # the group's id as stored (filled from ``group`` when left out)
    kind: str = "image"
    device: str = ""
    versions: dict[str, Any] = field(default_factory=dict)
    checkpoint: str | None = None  # the weights file, a usable path (None: none saved)
    pid: int | None = None
    heartbeat: float | None = None
    stop_requested_at: float | None = None  # when someone asked it to stop (None: nobody did)

    def __post_init__(self) -> None:
        if self.group is not None and self.group_id is None:
            object.__setattr__(self, "group_id", self.group.id)
        elif self.group is not None and self.group.id != self.group_id:
            raise ValueError(f"run {self.id}: group {self.group.id!r} is not its group_id {self.group_id!r}")

    # -- derived -------------------------------------------------------------------

    @property
    def parent(self) -> int | None:
        """The run this one continues (``config["parent"]``), None for a run trained from scratch."""
        return _int(self.config.get("parent"))

    @property
    def model(self) -> str | None:
        """The model's registered name (``cheb``), as stored; None in a row without one."""
        model = self.config.get("model")
        return model if isinstance(model, str) else None

    @property
    def active(self) -> bool:
        """Queued or training."""
        return self.status in ACTIVE_STATUSES

    @property
    def ended(self) -> bool:
        """Finished, failed, stopped or interrupted."""
        return self.status in TERMINAL_STATUSES

    def run_config(self) -> RunConfig:
        """The run's settings as a :class:`~core.training.run_config.RunConfig` (older rows read as their model's spec
        says, ``ModelSpec.stored``). Raises one :class:`~core.errors.UserInputError` naming the run when its model
        is not registered in this version (a removed or foreign model), and ``from_dict``'s error for a setting
        no model declares."""
        from core.models import MODELS
        from core.training.run_config import RunConfig

        model = self.config.get("model", "cheb")
        if not isinstance(model, str) or model not in MODELS:
            raise UserInputError(
                "model", f"run {self.id} was trained with model {model!r}, which this version does not have"
            )
        return RunConfig.from_dict(dict(self.config))

    # -- the dict form ---------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The run in the dict form ``get_run`` and ``list_runs`` return (the ``runs`` columns, JSON parsed)."""
        return {  # every column of the runs table, in schema.RUN_COLUMNS order
            "id": self.id,
            "status": self.status,
            "name": self.name,
            "kind": self.kind,
            "config": dict(self.config),
            "summary": self.summary.to_dict(),
            "device": self.device,
            "versions": dict(self.versions),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "error": self.error,
            "checkpoint": self.checkpoint,
            "session": self.session,
            "pid": self.pid,
            "heartbeat": self.heartbeat,
            "stop_requested": self.stop_requested_at,
            "group_id": self.group_id,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], group: RunGroup | None = None) -> Run:
        """The run of a dict form (a row read by the store, JSON parsed); ``group`` is the stored group its
        ``group_id`` names. Only ``id`` is required: a dict a page or test built with fewer keys reads the rest as
        empty (status "")."""
        return cls(
            id=int(d["id"]),
            status=str(d.get("status") or ""),
            name=str(d.get("name") or ""),
            config=dict(d.get("config") or {}),
            summary=RunSummary.from_dict(d.get("summary")),
            error=d.get("error"),
            session=d.get("session"),
            created_at=float(d.get("created_at") or 0.0),
            updated_at=float(d.get("updated_at") or 0.0),
            group=group,
            group_id=d.get("group_id"),
            kind=str(d.get("kind") or ""),
            device=str(d.get("device") or ""),
            versions=dict(d.get("versions") or {}),
            checkpoint=d.get("checkpoint"),
            pid=_int(d.get("pid")),
            heartbeat=_float(d.get("heartbeat")),
            stop_requested_at=_float(d.get("stop_requested")),
        )


def as_run(run: Run | Mapping[str, Any]) -> Run:
    """``run`` as a :class:`Run`: a Run as it is, a dict form (``get_run``, ``list_runs``, which the pages still
    pass to the analysis functions) read into one. A dict form names its group only by id, so ``group`` is None
    there while ``group_id`` is kept."""
    return run if isinstance(run, Run) else Run.from_dict(run)
