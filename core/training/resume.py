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
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

from core.errors import CheckpointError, UserInputError

TRAIN_STATE_ARTIFACT = "train_state"
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
