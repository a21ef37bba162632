"""Continue training: a finished or stopped run trains N more epochs as a NEW run linked to its parent.

Why a new run rather than extending the same one: a stored run is a record others rely on. Its result,
its epoch rows, its checkpoint and every link shared to it (Results, Filters, Equivariance, ...) keep
showing exactly what was trained, e.g. the 3-epoch result a class discussed, while the continuation gets
its own id, curve and checkpoint; anyone may continue anyone's run (the parent is never written), a run
can be continued twice in different directions, and a continuation that fails or is stopped loses
nothing saved before it. The link is the continuation's config: ``parent`` (the run it continues) and
``epochs``, the total it trains to (the parent's epochs done + N); its epoch rows are numbered on from
the parent's (4, 5 after 3) and :func:`lineage_epochs` gives the whole curve, ancestors' epochs first.
``core.training.runs.continuation_config`` makes such a config; ``RunManager.continue_run`` and
``python -m core continue RUN --epochs N`` submit it like any run.

What a continuation needs besides the weights (optimiser moments, steps taken, plateau state, the random
streams: see ``core.training.trainer.train_state``) is saved when a run ends as its run-level artifact
``train_state`` (``torch.save`` bytes, read back with ``weights_only=True``). An artifact rather than more
keys in the ``.pt`` file: the checkpoint stays a plain state dict that every page and a download load
as before, and artifacts travel from a Ray task to the launcher's store like every other write.

Exactness: with the same seed, 3 epochs then a continuation to 5 give the same weights and per-epoch
accuracies as 5 epochs at once on the CPU, for the constant and plateau schedules. The cosine schedule
decays over the run's planned epochs: a 3-epoch run has decayed to 0 by its end, and its continuation
takes the new total as the horizon from the step reached (the rate rises again to its value at step 3/5
of a 5-epoch cosine, then decays to 0 at the new end), so cosine continuations are not equal to one
longer run. A stopped run continues after the epoch it stopped in (that partial epoch counts as done).

Runs stored before continuing existed have no ``train_state``: they still open on every page, and
continuing one is refused with a :class:`~core.errors.CheckpointError` that says why (their weights
alone would restart Adam and the random streams: not the same training). On Ray a continuation is
refused (:func:`check_backend`): a task on another node cannot read the launcher's checkpoint and store.

Resuming after a restart (issue 32). While a run trains, its worker overwrites the same ``train_state`` artifact at
the end of every epoch with a *resume point*: that epoch's training state plus the weights (``"weights"``), one value
written in one transaction, by a thread beside training (:class:`EpochSaver`, through
``core.training.trainer.saving_each_epoch``), so storage
holds one state per run, never one per epoch, and weights and state can never come from different epochs. The run's
end overwrites it once more with the plain state beside the checkpoint file, as before. When a server starts it takes
over the runs of a dead owner (``RunManager``; the store's ``orphaned_runs`` and its compare-and-set
``claim_orphan`` / ``interrupt_orphan``, so of several servers sharing a store exactly one takes each run), and
:func:`plan_takeover` says what becomes of each:

* a run with no finished epoch (a queued run, or one killed in its first epoch) is queued again and starts afresh;
* a run with a resume point is queued again under its id and trains on from that epoch, its earlier epoch rows kept
  (rows after the point, written in the instant between an epoch's row and its point, are dropped and retrained);
  with the same seed on the CPU it ends exactly where an uninterrupted run ends, for the constant and plateau
  schedules (and cosine too: its horizon is unchanged), at the same thread count (exact mode);
* a run killed after its last epoch's point (during the final test pass) is completed from that point: its weights
  become its checkpoint and it ends ``finished`` (Results evaluates it on first view);
* a run whose stop had been asked ends ``stopped``, its weights saved from the point;
* the rest end ``interrupted`` with the reason: finished epochs but no readable point (a run trained before this
  version, one killed in the instant before its first point, a point that is unreadable), settings this version no
  longer accepts, or a run of the Ray backend, whose tasks keep no per-epoch state (a Ray task writes through its
  channel; the launcher would have to ship a point to another node: not done, as for continuing).

A resumed run records each takeover in its run-level ``resumed`` artifact; :func:`resume_note` words it for its
status line: "resumed from epoch 2 after a restart".
"""

from __future__ import annotations

import io
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import CheckpointError, UserInputError

log = logging.getLogger(__name__)

TRAIN_STATE_ARTIFACT = "train_state"
RESUMED_ARTIFACT = "resumed"  # run-level JSON list, one {"epoch", "at"} per takeover that queued the run again
CONTINUABLE = ("finished", "stopped")
SAME_SETTINGS_EXCEPT = ("epochs", "parent", "device")  # what a continuation may differ from its parent in


def state_bytes(state: Mapping[str, Any]) -> bytes:
    """``torch.save`` of a training state, for the ``train_state`` artifact."""
    import torch

    buf = io.BytesIO()
    torch.save(dict(state), buf)
    return buf.getvalue()


def has_train_state(store, run_id: int) -> bool:
    """Whether run ``run_id`` saved what a continuation needs (cheap: no blob is read)."""
    return bool(store.list_artifacts(run_id, TRAIN_STATE_ARTIFACT))


def load_train_state(store, run_id: int) -> dict[str, Any]:
    """Run ``run_id``'s training state (``weights_only``); :class:`CheckpointError` when it has none or it is
    unreadable."""
    import torch

    data = store.load_artifact(run_id, TRAIN_STATE_ARTIFACT)
    if data is None:
        raise CheckpointError(
            f"run {run_id} has no saved training state (optimiser, schedule and random streams; "
            "runs trained before continuing existed lack it), so it cannot be continued exactly: "
            "start a new run with more epochs instead"
        )
    try:
        state = torch.load(io.BytesIO(bytes(data)), weights_only=True, map_location="cpu")
    except Exception as err:  # noqa: BLE001 - stored bytes: any unpickling error means "unreadable", in one line
        raise CheckpointError(
            f"run {run_id}'s training state is unreadable ({type(err).__name__}: "
            f"{str(err).splitlines()[0] if str(err) else ''})"
        ) from None
    if not isinstance(state, dict) or "epoch" not in state:
        raise CheckpointError(f"run {run_id}'s training state is not one this GraphConv Lab wrote")
    return state


def continuable(store, run: Mapping[str, Any]) -> str:
    """Why ``run`` cannot be continued, or ``""`` when it can (for a button's help)."""
    if run.get("status") not in CONTINUABLE:
        return f"only a finished or stopped run can be continued (this one is {run.get('status')})"
    if not run.get("checkpoint"):
        return "it saved no weights"
    if not has_train_state(store, run["id"]):
        return "it was trained before continuing existed (no saved optimiser and random state)"
    return ""


def check_backend(name: str) -> None:
    """Refuse a continuation on backend ``name`` ``ray``: its task runs where the parent's checkpoint and
    training state (in the launcher's data folder and store) cannot be read."""
    if name == "ray":
        raise UserInputError(
            "run",
            "continuing a run is not available on the Ray backend (its tasks cannot read "
            "the parent's checkpoint in this data folder); continue it with worker processes "
            "(unset GRAPHCONV_RAY_ADDRESS) or `python -m core continue RUN --backend inline`",
        )


def parent_resume(store, parent_id: int, epochs: int) -> tuple[dict[str, Any], Mapping[str, Any], dict[str, Any]]:
    """(parent run, its weights, its training state) for a continuation of run ``parent_id`` to ``epochs`` in
    all; the worker calls it with its run store. Raises UserInputError / CheckpointError."""
    from core.training.store import load_checkpoint

    if not hasattr(store, "get_run"):  # a Ray task's ChannelStore: nothing of the launcher's to read
        raise UserInputError(
            "parent",
            "this worker cannot read the run store, so it cannot continue a run (continuing is not available on Ray)",
        )
    parent = store.get_run(int(parent_id))
    if parent is None:
        raise UserInputError("parent", f"run {parent_id} does not exist")
    if parent["status"] not in CONTINUABLE or not parent.get("checkpoint"):
        raise UserInputError("parent", f"run {parent_id} cannot be continued (status {parent['status']})")
    state = load_train_state(store, parent["id"])
    if int(state["epoch"]) >= epochs:
        raise UserInputError(
            "epochs",
            f"run {parent_id} has already trained {state['epoch']} epochs; a "
            f"continuation needs more than that (got epochs={epochs})",
        )
    weights = load_checkpoint(parent["checkpoint"])
    if not isinstance(weights, Mapping):
        raise CheckpointError(f"checkpoint {parent['checkpoint']} holds a {type(weights).__name__}, not weights")
    return parent, weights, state


def load_parent_weights(model, weights: Mapping[str, Any]) -> None:
    """Load a parent's weights into a freshly built ``model``, strictly (``load_state_strict``); CheckpointError
    when they do not fit."""
    from core.training.store import load_state_strict

    try:
        load_state_strict(model, weights)
    except (RuntimeError, KeyError, ValueError) as err:
        first = (str(err).strip().splitlines() or [""])[0]
        raise CheckpointError(
            f"the parent's checkpoint does not fit the model built from its settings ({first[:300]})"
        ) from err


def lineage(store, run_id: int, limit: int = 100) -> list[int]:
    """Run ids from the oldest ancestor down to ``run_id`` (``parent`` links; a missing one ends the chain)."""
    chain: list[int] = []
    seen: set[int] = set()
    current: int | None = int(run_id)
    while current is not None and current not in seen and len(chain) < limit:
        run = store.run(current)
        if run is None:
            break
        chain.append(current)
        seen.add(current)
        current = run.parent
    return chain[::-1]


def lineage_epochs(store, run_id: int) -> list[dict[str, Any]]:
    """Run ``run_id``'s epoch rows preceded by its ancestors' up to where each continuation took over, every
    row tagged ``run`` (the run that trained it): the whole curve of a continued run, epochs 1, 2, ..."""
    rows: list[dict[str, Any]] = []
    for rid in lineage(store, run_id):
        own = store.epochs(rid)
        if own:
            rows = [r for r in rows if r["epoch"] < own[0]["epoch"]]  # the child took over from its first epoch
        rows += [{**r, "run": rid} for r in own]
    return rows


# -- resuming after a restart ---------------------------------------------------------------------------------


class EpochSaver:
    """``save`` (and ``flush``) of ``core.training.trainer.saving_each_epoch`` for run ``run_id``: each resume point
    overwrites the run's ``train_state`` artifact.

    The training thread only serialises the point (``torch.save`` to bytes: a snapshot, since training goes on
    changing the tensors); a writer thread stores it while the next epoch trains, so the store's write (for a quick
    ChebNet's 19 MB, 150-300 ms into SQLite) is not the run's time. The newest point wins: one waiting while a write
    is under way replaces any older one waiting, so a slow store never holds training back and the stored point is
    the newest it could keep. A point not yet written when the process dies leaves the one before it, whose epoch
    the run then resumes from. :meth:`flush` waits until the newest point is stored (``fit`` calls it before it
    returns, so the run's end state, written after, is never overwritten by a late point); :meth:`close` also ends the
    thread. Never raises (a failed save is logged: the run trains on and could resume only from an earlier point).

    Counts, for ``benchmarks.resume_cost``: ``saves`` stored, ``bytes`` (the last stored point's), ``seconds`` (the
    training thread's time in :meth:`__call__`), ``write_seconds`` (the writer's, the store's write lock included).
    """

    def __init__(self, store, run_id: int):
        self.store, self.run_id = store, int(run_id)
        self.saves, self.bytes, self.seconds, self.write_seconds = 0, 0, 0.0, 0.0
        self._cond = threading.Condition()
        self._waiting: tuple[int, bytes] | None = None  # (epoch, serialised point) not yet being written
        self._writing = False
        self._closing = False
        self._thread: threading.Thread | None = None

    def __call__(self, point: Mapping[str, Any]) -> None:
        t0 = time.perf_counter()
        try:
            data = state_bytes(point)
        except Exception as err:  # noqa: BLE001 - a point that cannot be serialised must not end the run
            log.warning("run %s: its state after epoch %s was not saved (%s)", self.run_id, point.get("epoch"), err)
            return
        with self._cond:
            self._waiting = (int(point["epoch"]), data)
            if self._thread is None:
                self._thread = threading.Thread(target=self._write, name=f"graphconv-save-{self.run_id}", daemon=True)
                self._thread.start()
            self._cond.notify_all()
        self.seconds += time.perf_counter() - t0

    def _write(self) -> None:
        while True:
            with self._cond:
                while self._waiting is None and not self._closing:
                    self._cond.wait()
                if self._waiting is None:
                    return
                (epoch, data), self._waiting, self._writing = self._waiting, None, True
            t0 = time.perf_counter()
            try:
                self.store.save_artifact(self.run_id, TRAIN_STATE_ARTIFACT, data)
                self.saves, self.bytes = self.saves + 1, len(data)
            except Exception as err:  # noqa: BLE001 - a full disk, a locked store: the run trains on
                log.warning("run %s: its state after epoch %s was not saved (%s)", self.run_id, epoch, err)
            finally:
                with self._cond:
                    self.write_seconds += time.perf_counter() - t0
                    self._writing = False
                    self._cond.notify_all()

    def flush(self) -> None:
        """Wait until every point handed over is stored (or failed)."""
        with self._cond:
            while self._waiting is not None or self._writing:
                self._cond.wait()

    def close(self) -> None:
        """:meth:`flush`, then end the writer thread."""
        self.flush()
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join()


def checkpoint_file(store, run_id: int) -> Path:
    """Where run ``run_id`` of ``store`` keeps its weights (``checkpoints/run-<id>.pt`` in the store's data folder,
    as ``core.training.store.checkpoint_path`` names it in a worker)."""
    return Path(store.data_folder) / "checkpoints" / f"run-{int(run_id)}.pt"


def load_resume_point(store, run_id: int) -> dict[str, Any] | None:
    """Run ``run_id``'s resume point (a training state with its ``"weights"``), or None when it saved no state.

    A state without weights is a run's end state (its weights in the checkpoint file, which the run writes just
    before it): its point takes the weights from that file (a run killed while it was being recorded).
    :class:`CheckpointError` when the state or that file is unreadable or missing."""
    from core.training.store import load_checkpoint

    if not has_train_state(store, run_id):
        return None
    state = load_train_state(store, run_id)
    if "weights" not in state:
        path = checkpoint_file(store, run_id)
        if not path.is_file():
            raise CheckpointError(f"run {run_id}'s saved training state holds no weights, and it has no weights file")
        state["weights"] = load_checkpoint(path)
    if not isinstance(state["weights"], Mapping):
        raise CheckpointError(f"run {run_id}'s saved weights are a {type(state['weights']).__name__}, not weights")
    return state


@dataclass(frozen=True)
class Takeover:
    """What a starting server does with one orphaned run (:func:`plan_takeover`)."""

    action: str  # "queue": train it (again, or on); "end": end it from its point; "interrupt": it cannot go on
    resume_from: int = 0  # epochs it keeps: it goes on from the end of this one (0: from the start)
    status: str = ""  # "end": the status it ends with (finished, stopped)
    reason: str = ""  # "interrupt": why, for its error line; "end" as stopped: why it stopped
    point: Mapping[str, Any] | None = None  # "end": the resume point whose weights it keeps (None: none saved)


def plan_takeover(store, run, backend: str = "process") -> Takeover:
    """What becomes of orphaned ``run`` (a :class:`~core.training.store.Run` whose owner died) on a server whose
    backend is ``backend`` (see the module docstring). Reads only: the caller claims the run before acting."""
    from core.training.run_config import validate

    try:
        cfg = validate(run.run_config())
    except Exception as err:  # noqa: BLE001 - an old config fails in any way: why, in one line
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        return Takeover(
            "interrupt", reason=f"interrupted by a restart; cannot resume: its settings are refused ({first})"
        )
    rows = store.epochs(run.id)
    last = rows[-1]["epoch"] if rows else 0
    stop = run.stop_requested_at is not None
    stopped = "stopped: a stop was asked before its server restarted; every finished epoch is kept"
    if not rows:
        if stop:
            return Takeover("end", status="stopped", reason="stopped before it started")
        return Takeover("queue")
    if backend == "ray":
        why = "the Ray backend keeps no training state between epochs"
        point = None
    else:
        try:
            point = load_resume_point(store, run.id)
            why = "it saved no training state after its epochs (trained before resuming existed?)"
        except CheckpointError as err:
            point, why = None, str(err)
    if point is None:
        if stop:
            return Takeover("end", resume_from=last, status="stopped", reason=stopped)
        return Takeover("interrupt", reason=f"interrupted by a restart after epoch {last}; cannot resume: {why}")
    done = int(point["epoch"])
    if stop:
        return Takeover("end", resume_from=done, status="stopped", reason=stopped, point=point)
    if done >= cfg.training.epochs:  # killed after its last epoch, while it was being recorded
        return Takeover("end", resume_from=done, status="finished", point=point)
    return Takeover("queue", resume_from=done)


def end_from_point(store, run, plan: Takeover) -> None:
    """End claimed ``run`` as ``plan`` says (action "end"): its point's weights become its checkpoint and its plain
    state its ``train_state`` (so it opens on every page and can be continued), its summary from its epoch rows."""
    rows = store.epochs(run.id)
    checkpoint = None
    if plan.point is not None:
        from core.training.store import save_checkpoint

        checkpoint = save_checkpoint(plan.point["weights"], checkpoint_file(store, run.id))
        store.save_artifact(
            run.id, TRAIN_STATE_ARTIFACT, state_bytes({k: v for k, v in plan.point.items() if k != "weights"})
        )
    summary = {
        "run_id": run.id,
        "status": plan.status,
        "device": run.device,
        "test_accuracy": rows[-1]["test_accuracy"] if rows else None,
        "epochs_done": len(rows),
        "ended_after_restart": True,
    }
    error = plan.reason if plan.status != "finished" else None
    store.finish(run.id, summary, status=plan.status, error=error, checkpoint=checkpoint)


def stop_before_going_on(store, run) -> None:
    """End ``run``, queued again after a restart with finished epochs, ``stopped`` before a worker took it up: its
    epochs kept and, when its resume point reads, that point's weights saved as its checkpoint."""
    try:
        point = load_resume_point(store, run.id)
    except CheckpointError:
        point = None
    end_from_point(
        store,
        run,
        Takeover(
            "end",
            resume_from=int(point["epoch"]) if point is not None else 0,
            status="stopped",
            reason="stopped before it went on after a restart; every finished epoch is kept",
            point=point,
        ),
    )


def record_resume(store, run_id: int, epoch: int) -> None:
    """Add a takeover that queued run ``run_id`` again from the end of ``epoch`` to its ``resumed`` artifact."""
    history = store.load_artifact(run_id, RESUMED_ARTIFACT)
    history = list(history) if isinstance(history, list) else []
    store.save_artifact(run_id, RESUMED_ARTIFACT, [*history, {"epoch": int(epoch), "at": time.time()}])


def resume_note(store, run_id: int) -> str:
    """How a run's status line says it was taken over after a restart ("resumed from epoch 2 after a restart";
    "" for a run that never was)."""
    history = store.load_artifact(run_id, RESUMED_ARTIFACT)
    if not isinstance(history, list) or not history or not isinstance(history[-1], Mapping):
        return ""
    epoch = int(history[-1].get("epoch") or 0)
    text = f"resumed from epoch {epoch} after a restart" if epoch else "started again after a restart"
    return text + (f" ({len(history)} restarts)" if len(history) > 1 else "")
