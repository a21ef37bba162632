"""The starter set: three small runs that train in the background the first time a page needs a trained run.

A fresh server has no runs, so the Playground and the Equivariance page would have nothing to show. The first time
either page finds no usable run it calls ``ensure_starter``, which submits, once per store, a quick CNN and a
ChebNet on the 8-neighbour grid (both on mnist-5k) and an escnn C8 steerable net on mnist-rot, in that order, so
the CNN gets the first training slot and the Playground its first answer soonest. ``starter_status`` is their
progress, read from the store like every other run's.

Checkpoints are never committed to the repository, so the starter set trains on the server instead of shipping
weights. The runs are always quick-sized (``quick=True``: 1,000 training digits, and quick escnn defaults), whatever
the server's quick mode: they are a way in, and a full-size C8 net would take a quarter of an hour on a CPU.
Measured through a ``RunManager`` on this project's 2-core machine (two training slots, worker start included):
CNN and ChebNet side by side 14-15 s (92% test accuracy each after 5 epochs), then the C8 steerable net, which
trains 20 epochs on mnist-rot for about two minutes of one core (91.5% on the quick test digits; with the 8 epochs
it had first, 83.5%; see ``STARTER``).

The runs are stored with kind ``starter`` and no session: they do not count against any visitor's limit
(``GRAPHCONV_SESSION_RUNS``), and no visitor can stop them. They train through the manager, so on worker processes
or on Ray (``GRAPHCONV_RAY_ADDRESS``) alike. ``GRAPHCONV_STARTER=0`` turns the starter off (tests that need an
empty store); it is on by default.

A server that already had runs never trains the starter set, and may have no steerable net for the Playground's
rotation story. ``queue_starter(manager, "escnn")`` is what the Playground's button calls: the starter's C8 net,
queued once per server (a steerable net already queued or training anywhere is returned instead), through the same
``RunManager.submit`` as every run (validation, public mode's cost check, the visitor's address limit). A visitor's
press is a request, so it does not depend on ``GRAPHCONV_STARTER``.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from core.errors import UserInputError
from core.models import MODELS
from core.training.runs import RunConfig
from core.training.store import Run, as_run

log = logging.getLogger(__name__)

STARTER_KIND = "starter"  # the store's ``kind`` of the starter runs
TRIES = 2  # starter runs of one model that may end without weights (interrupted by a restart, say) before giving up
ACTIVE = ("queued", "running")
OFF = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class StarterRun:
    """One run of the starter set: the model it stands for and the settings it trains with."""

    model: str  # the model name a finished run must have to make this starter run unnecessary
    title: str  # what the pages call it ("CNN")
    settings: tuple[tuple[str, Any], ...]  # RunConfig fields

    def config(self) -> RunConfig:
        return RunConfig.make(**dict(self.settings), quick=True)


# In submission order: the CNN first. Epochs measured (module docstring): the first two finish together.
# The C8 net keeps quick mode's escnn size (core.training.runs.QUICK_MODEL_DEFAULTS: 2 blocks of width 32, cosine
# schedule, lr 3e-3, dropout 0.1) and trains 20 epochs on quick mnist-rot (1,000 training digits, 200 test digits),
# measured with python -m benchmarks.playground_c8 on this project's shared 2-core machine, one thread:
#   8 epochs (the old recipe): 83.5% (seed 0); 20 epochs: 91.5% / 91.0% (seeds 0 / 1), 121 CPU s, estimated 113 s
#   and 623 MB (public mode allows 180 s and 1,300 MB); 3 blocks of width 32, 12 epochs: 92.0% (seed 0), 142 CPU s,
#   estimated 147 s, 708 MB: no better within 200 test digits' noise, and dearer.
STARTER: tuple[StarterRun, ...] = (
    StarterRun("cnn", "CNN", (("model", "cnn"), ("data", "mnist-5k"), ("epochs", 5))),
    StarterRun(
        "cheb",
        "ChebNet",
        (
            ("model", "cheb"),
            ("data", "mnist-5k"),
            ("graph", "grid"),
            ("graph_params", {"neighbours": 8}),
            ("epochs", 5),
        ),
    ),
    StarterRun(
        "escnn", "C8 steerable net", (("model", "escnn"), ("data", "mnist-rot"), ("group", "C8"), ("epochs", 20))
    ),
)


def starter_enabled() -> bool:
    """Whether pages may train the starter set: ``GRAPHCONV_STARTER`` unset or anything but 0/false/no/off."""
    return os.environ.get("GRAPHCONV_STARTER", "").strip().lower() not in OFF


_lock = threading.Lock()  # the server's sessions are threads: one of them checks and submits at a time


@contextmanager
def _store_lock(store) -> Iterator[None]:
    """This process's lock, then a file lock beside the run database (two servers on one data folder)."""
    with _lock:
        path = getattr(store, "path", None)
        if path is None:
            yield
            return
        with open(os.path.join(os.path.dirname(os.fspath(path)) or ".", ".starter.lock"), "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _needed(store, starter: StarterRun, own: list[Run]) -> bool:
    """Whether ``starter`` must be submitted: no run of its model with weights, no starter run of it queued or
    training, and fewer than ``TRIES`` earlier starter runs of it (``own``: the store's starter runs)."""
    mine = [r for r in own if r.model == starter.model]
    if any(r.active for r in mine) or len(mine) >= TRIES:
        return False
    return not store.runs_with_weights(model=starter.model, limit=None)


def steerable(config: dict[str, Any] | None) -> bool:
    """Whether a run's config is a steerable net whose answer stays put as its digit turns: an escnn net whose last
    group turns (C_N or D_N with N of 2 or more, or SO2; not C1 or D1, which only mirror or do nothing)."""
    cfg = config or {}
    model = cfg.get("model")
    if not isinstance(model, str) or model not in MODELS or "group" not in MODELS.settings(model):
        return False  # a model without a symmetry group (the steerable nets have one)
    from core.models.escnn_net import parse_group

    last = str(cfg.get("group") or MODELS.spec(model).default("group")).split(",")[-1]
    try:
        family, n = parse_group(last)
    except UserInputError:
        return False
    return family == "SO2" or n >= 2


def active_run(store, model: str) -> dict[str, Any] | None:
    """The run of ``model`` queued or training on this server that a page can wait for instead of queueing another:
    the starter's own when there is one, else the newest of any visitor (for escnn: a steerable one), else None."""
    grouped = model in MODELS and "group" in MODELS.settings(model)  # a steerable net: only a turning group will do
    active = [r for r in store.runs(status=ACTIVE) if r.model == model and (not grouped or steerable(r.config))]
    found = next((r for r in active if r.kind == STARTER_KIND), active[0] if active else None)
    return found.to_dict() if found is not None else None  # the dict form: ui/starter.py reads it


def queue_starter(manager, model: str, store=None, client: str | None = None) -> tuple[int, bool]:
    """(run id, whether it was queued now): the starter run of ``model`` queued through ``manager.submit`` (cost
    check, limits; ``client``: the pressing visitor's address, so its limit applies), unless a run of ``model`` is
    already queued or training on this server (``active_run``), which is returned instead: one per server, whoever
    presses first, also from two sessions or two servers on one data folder at once. Raises UserInputError (over
    the budget, no room) for the page to show in one line."""
    starter = next((s for s in STARTER if s.model == model), None)
    if starter is None:
        raise UserInputError(
            "model", f"no starter run for {model!r}; choose from " + ", ".join(s.model for s in STARTER)
        )
    store = store if store is not None else manager.store
    with _store_lock(store):
        waiting = active_run(store, model)
        if waiting is not None:
            return int(waiting["id"]), False
        kwargs = {"client": client} if client is not None else {}
        return int(manager.submit(starter.config(), session=None, kind=STARTER_KIND, **kwargs)), True


def ensure_starter(manager, store=None) -> list[int]:
    """Submit the starter runs this store still needs (see ``_needed``) and return their ids ([] when none, or when
    ``GRAPHCONV_STARTER`` is off). Idempotent: concurrent callers and later calls submit nothing more."""
    if not starter_enabled():
        return []
    store = store if store is not None else manager.store
    with _store_lock(store):
        own = store.runs(kind=STARTER_KIND)
        ids = []
        for starter in (s for s in STARTER if _needed(store, s, own)):
            try:
                ids.append(manager.submit(starter.config(), session=None, kind=STARTER_KIND))
            except UserInputError as err:  # over this server's budget (its limits were set lower): skip it, say why
                log.warning("starter run %s not submitted: %s", starter.model, err)
        return ids


def fraction(run: Run | Mapping[str, Any], progress: dict[str, Any] | None) -> float:
    """How far a run (a Run or its dict form) is, 0..1, as ``RunManager.live`` counts it (batches done of all its
    batches)."""
    run = as_run(run)
    if run.status == "finished":
        return 1.0
    prog = progress or {}
    epochs = int(run.config.get("epochs") or 1)
    epoch, batch, batches = prog.get("epoch", 0), prog.get("batch", 0), prog.get("num_batches", 0)
    if not batches or epoch == 0:
        return 0.0
    return min(((epoch - 1) * batches + batch) / (epochs * batches), 1.0)


def starter_status(store) -> list[dict[str, Any]]:
    """The newest starter run of each model, in the starter's order: ``{"model", "title", "run_id", "state",
    "progress" (0..1), "epoch", "epochs", "error"}``; a model never submitted has ``run_id`` and ``state`` None."""
    own = store.runs(kind=STARTER_KIND)  # newest first
    out = []
    for s in STARTER:
        run = next((r for r in own if r.model == s.model), None)
        row = {
            "model": s.model,
            "title": s.title,
            "run_id": None,
            "state": None,
            "progress": 0.0,
            "epoch": 0,
            "epochs": dict(s.settings)["epochs"],
            "error": None,
        }
        if run is not None:
            prog = store.progress(run.id) if run.active else None
            row.update(
                run_id=run.id,
                state=run.status,
                progress=fraction(run, prog),
                epoch=(prog or {}).get("epoch", 0),
                epochs=int(run.config.get("epochs") or 1),
                error=run.error,
            )
        out.append(row)
    return out


def starter_training(status: list[dict[str, Any]]) -> bool:
    """Whether any starter run of ``starter_status`` is queued or training."""
    return any(row["state"] in ACTIVE for row in status)


def status_text(row: dict[str, Any]) -> str:
    """One starter run in words: "CNN 40%", "ChebNet waiting for a slot", "escnn C8 ready", "CNN failed: ..."."""
    state = row["state"]
    if state == "running":
        return f"{row['title']} {row['progress']:.0%}" + (
            f" (epoch {row['epoch']}/{row['epochs']})" if row["epoch"] else " (starting)"
        )
    if state == "queued":
        return f"{row['title']} waiting for a training slot"
    if state == "finished":
        return f"{row['title']} ready"
    if state is None:
        return f"{row['title']}: not needed"
    return f"{row['title']} {state}" + (f": {row['error']}" if row.get("error") else "")
