"""A model-agnostic trainer that reports through callbacks (minGPT style).

The trainer knows nothing about graphs: it gets a model, batches of (inputs, labels) and callbacks.
``inputs`` may be an image tensor (B, 1, H, W) or a PyG ``Batch`` (superpixel graphs); anything
with ``.to(device)`` works.

A training worker makes its run durable with :func:`saving_each_epoch`: every :func:`fit` inside that block hands a
*resume point* (:func:`resume_point`: the weights and the :func:`train_state` of the epoch just finished) to the
worker after each epoch, and a fit given a resume point goes on from it, so a run whose server died trains on from
its last finished epoch as if nothing had happened (``core.training.resume``). A block rather than arguments of
``fit``: ``core.training.runs.execute`` builds the fit's config and callbacks, and the worker around it is what
knows where the points go.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from core.data.batches import Batches
from core.rng import RunRNG

SCHEDULES = ("constant", "cosine", "plateau")
PLATEAU_PATIENCE = 2  # plateau: epochs without a lower training loss before the rate is halved
PLATEAU_FACTOR = 0.5  # plateau: what the rate is multiplied by then (Benchmarking GNNs: halved)


def lr_at(schedule: str, base_lr: float, step: int, total_steps: int) -> float:
    """Learning rate for optimisation step ``step`` (0-based) of ``total_steps``.

    constant: ``base_lr``; cosine: ``base_lr * (1 + cos(pi * step / total_steps)) / 2``, from base_lr down
    towards 0 at the last step (Loshchilov & Hutter 2017, without restarts). plateau: ``base_lr`` here;
    :class:`Plateau` scales it after epochs that did not lower the training loss.
    """
    if schedule in ("constant", "plateau"):
        return base_lr
    if schedule == "cosine":
        return base_lr * 0.5 * (1.0 + math.cos(math.pi * min(step, total_steps) / max(total_steps, 1)))
    raise ValueError(f"unknown schedule {schedule!r} (choose from {', '.join(SCHEDULES)})")


class Plateau:
    """Halve the rate when the epoch's training loss has not dropped below its best for ``patience`` epochs
    (Benchmarking GNNs halve on a validation plateau; with no validation split here, the training loss
    is used, so the test set never steers training)."""

    def __init__(self, patience: int = PLATEAU_PATIENCE, factor: float = PLATEAU_FACTOR, min_scale: float = 1e-3):
        self.patience, self.factor, self.min_scale = patience, factor, min_scale
        self.scale, self.best, self.bad = 1.0, float("inf"), 0

    def step(self, loss: float) -> float:
        """Record one epoch's training loss; return the factor for the next epoch's rate."""
        if loss < self.best * (1 - 1e-4):
            self.best, self.bad = loss, 0
        else:
            self.bad += 1
            if self.bad >= self.patience:
                self.scale, self.bad = max(self.scale * self.factor, self.min_scale), 0
        return self.scale


class TrainingFailed(RuntimeError):
    """The run cannot go on (NaN loss, out of memory); the message says why and what to try."""


@dataclass
class TrainerConfig:
    epochs: int = 8  # passes over the training set
    lr: float = 1e-3  # Adam learning rate
    weight_decay: float = 0.0  # Adam weight decay
    batch_size: int = 64  # images per optimisation step
    seed: int = 0  # seeds dropout when fit is given no run stream (init: build_everything; shuffling: Batches)
    device: str = "auto"  # "auto" (cuda, then mps, then cpu), or an explicit torch device string
    schedule: str = "constant"  # learning rate: constant, cosine (decays to 0 over all steps) or plateau (halved)
    augment: Callable[[torch.Tensor], torch.Tensor] | None = None  # applied to each training batch
    max_loss: float = 1e4  # a batch loss above this ends the run as diverged (cross-entropy starts near ln 10 = 2.3)
    precise_bn: int = 0  # before each evaluation, recompute batch-norm statistics on this many training batches


@dataclass
class Callbacks:
    """Optional hooks. ``should_stop`` is polled after every batch: something true ends the run ``stopped``; a
    string is the reason, kept as the result's ``error`` (a time limit; a stop request returns True)."""

    on_batch: Callable[[dict[str, Any]], None] | None = None  # {epoch, batch, num_batches, loss}
    on_epoch: Callable[[dict[str, Any]], None] | None = None  # one row of ``TrainResult.epochs``
    should_stop: Callable[[], bool | str] | None = None  # True, or the reason (the run's error text)


@dataclass
class TrainResult:
    status: str  # finished | stopped | failed
    device: str
    epochs: list[dict[str, Any]] = field(default_factory=list)
    test_accuracy: float | None = None
    images_per_second: float | None = None  # training throughput, averaged over epochs
    error: str | None = None
    state: dict[str, Any] | None = None  # what a continuation needs (train_state); None for a failed run


def pick_device(requested: str = "auto") -> torch.device:
    """CUDA if available, then Apple MPS, then CPU; an explicit request is honoured if it exists."""
    if requested != "auto":
        if requested.startswith("cuda") and not torch.cuda.is_available():
            raise TrainingFailed("CUDA was requested but no CUDA GPU is available; use device 'auto' or 'cpu'")
        return torch.device(requested)
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def is_oom(err: BaseException) -> bool:
    oom_type = getattr(torch.cuda, "OutOfMemoryError", ())
    return isinstance(err, oom_type) or "out of memory" in str(err).lower()


def recalibrate_batchnorm(
    model: nn.Module,
    batches: Iterable[tuple[Any, torch.Tensor]],
    device: torch.device,
    max_batches: int,
    rng_context: Callable[[], Any],
) -> int:
    """ "Precise BN" (Wu & Johnson 2021): replace every batch norm's running statistics by their average over
    ``max_batches`` training batches passed through the current weights; returns the batches used.

    Running averages lag behind weights that still move fast: on 4,000 superpixel graphs a GIN's test accuracy
    with its running statistics was 16-50% over its first 5 epochs, and 42-60% with the statistics recomputed.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
    if not norms or max_batches <= 0:
        return 0
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average over the batches below
    model.train()
    used = 0
    try:
        with torch.no_grad(), rng_context():
            for x, _ in batches:
                model(x.to(device))
                used += 1
                if used >= max_batches:
                    break
    finally:
        for m, momentum in zip(norms, momenta, strict=True):
            m.momentum = momentum
    return used


@torch.no_grad()
def predict(model: nn.Module, batches: Iterable[tuple[Any, torch.Tensor]], device: torch.device) -> torch.Tensor:
    """Logits for every batch, concatenated on the CPU: (n, num_classes)."""
    model.eval()
    return torch.cat([model(x.to(device)).float().cpu() for x, _ in batches])


def evaluate(model: nn.Module, batches: Iterable[tuple[Any, torch.Tensor]], device: torch.device) -> float:
    """Accuracy in [0, 1]."""
    labels = torch.cat([y for _, y in batches])
    return float((predict(model, batches, device).argmax(1) == labels).float().mean())


TRAIN_STATE_VERSION = 1


def train_state(
    opt: torch.optim.Optimizer,
    epoch: int,
    step: int,
    plateau: Plateau,
    rng: RunRNG,
    train: Batches,
    augment: Any,
    schedule: str,
) -> dict[str, Any]:
    """Everything besides the weights that the next epoch depends on, as tensors and plain containers (so it
    loads with ``torch.load(weights_only=True)``): epochs done, optimisation steps taken (the cosine schedule's
    position), the optimiser's moments, the plateau's state, and the random streams (the run's torch CPU stream
    for dropout, the shuffling generator, the augmentation's generator). No numpy or ``random`` stream is used.
    """
    with rng.active():
        torch_rng = torch.get_rng_state()
    aug = getattr(augment, "generator", None)
    return {
        "version": TRAIN_STATE_VERSION,
        "epoch": int(epoch),
        "step": int(step),
        "schedule": schedule,
        "optimizer": opt.state_dict(),
        "plateau": {"scale": float(plateau.scale), "best": float(plateau.best), "bad": int(plateau.bad)},
        "rng": {
            "torch": torch_rng,
            "shuffle": train.generator.get_state(),
            "augment": aug.get_state() if aug is not None else None,
        },
        "train_images": len(train.labels),
        "batches_per_epoch": len(train),
    }


def restore_train_state(
    state: dict[str, Any], opt: torch.optim.Optimizer, plateau: Plateau, rng: RunRNG, train: Batches, augment: Any
) -> tuple[int, int]:
    """Put ``state`` (from :func:`train_state`) back into the optimiser, plateau and random streams; return
    (epochs done, steps taken). Raises ``TrainingFailed`` when it cannot continue this exact training."""
    if state.get("version") != TRAIN_STATE_VERSION:
        raise TrainingFailed(
            f"the saved training state has version {state.get('version')!r}, this GraphConv Lab "
            f"reads version {TRAIN_STATE_VERSION}"
        )
    if state["train_images"] != len(train.labels):  # quick mode then and not now, or the reverse
        raise TrainingFailed(
            f"the run being continued trained on {state['train_images']:,} images and this one "
            f"would train on {len(train.labels):,} (quick mode differs): continue it with the "
            "same quick-mode setting"
        )
    opt.load_state_dict(state["optimizer"])
    plateau.scale, plateau.best, plateau.bad = (
        float(state["plateau"]["scale"]),
        float(state["plateau"]["best"]),
        int(state["plateau"]["bad"]),
    )
    with rng.active():
        torch.set_rng_state(state["rng"]["torch"])
    train.generator.set_state(state["rng"]["shuffle"])
    aug = getattr(augment, "generator", None)
    if aug is not None and state["rng"].get("augment") is not None:
        aug.set_state(state["rng"]["augment"])
    return int(state["epoch"]), int(state["step"])


def resume_point(model: nn.Module, state: dict[str, Any]) -> dict[str, Any]:
    """A run's resume point: its :func:`train_state` with the weights under ``"weights"`` (the model's state dict),
    one value that is written, and read back, whole."""
    return {**state, "weights": model.state_dict()}


@dataclass(frozen=True)
class EpochSaves:
    """What :func:`saving_each_epoch` asks of the fit inside it."""

    save: Callable[[dict[str, Any]], None]  # gets a resume point after every finished epoch (not a stopped one)
    start_from: Mapping[str, Any] | None = None  # a resume point to go on from (None: train from the start)
    flush: Callable[[], None] | None = None  # called as fit ends: ``save`` has stored every point by its return


_EPOCH_SAVES: ContextVar[EpochSaves | None] = ContextVar("graphconv_epoch_saves", default=None)


@contextmanager
def saving_each_epoch(
    save: Callable[[dict[str, Any]], None],
    start_from: Mapping[str, Any] | None = None,
    flush: Callable[[], None] | None = None,
) -> Iterator[None]:
    """Every :func:`fit` in this block (in this thread) calls ``save`` with a :func:`resume_point` after each finished
    epoch and, given ``start_from`` (such a point), loads its weights and goes on after its epoch: its optimiser,
    schedule, plateau and random streams restored, as a continuation does. ``save`` runs in the training thread
    between two epochs, so it sees exactly that epoch's state (it may store it later, from a copy, if ``flush``, called
    as the fit ends, waits until it has); it should not raise (a failed save ends the run)."""
    token = _EPOCH_SAVES.set(EpochSaves(save, start_from, flush))
    try:
        yield
    finally:
        _EPOCH_SAVES.reset(token)


def _load_point_weights(model: nn.Module, weights: Mapping[str, Any]) -> None:
    """Load a resume point's weights into ``model``; TrainingFailed when they do not fit it."""
    from core.training.store.checkpoints import load_state_strict

    try:
        load_state_strict(model, weights)
    except (RuntimeError, KeyError, ValueError) as err:
        first = (str(err).strip().splitlines() or [""])[0]
        raise TrainingFailed(f"the run's saved weights do not fit its model ({first[:300]})") from None


def fit(
    model: nn.Module,
    train: Batches,
    test: Batches,
    cfg: TrainerConfig,
    callbacks: Callbacks | None = None,
    rng: RunRNG | None = None,
    resume: dict[str, Any] | None = None,
) -> TrainResult:
    """Train ``model`` with Adam and cross-entropy; evaluate on ``test`` after every epoch.

    Each step's random draws (dropout) come from ``rng``, the run's own stream (the one its model was
    initialised on), or from a new stream seeded with ``cfg.seed``; never from torch's global generator,
    so runs that train at the same time in other threads do not change them.

    Never raises for a NaN, infinite or exploding (> ``cfg.max_loss``) loss, or GPU out-of-memory: those end
    the run with status ``failed`` and a clear ``error``. ``callbacks.should_stop()`` ends it with status
    ``stopped`` after the current batch.

    Inside :func:`saving_each_epoch` it hands a resume point to the block's ``save`` after each finished epoch, and
    goes on from the block's ``start_from`` (weights included, over ``resume``) when given one.

    ``resume`` (a :func:`train_state` of an earlier fit of these weights) continues that training: epochs are
    numbered on from its last one up to ``cfg.epochs``, the steps, optimiser, plateau and random streams carry
    on, so 3 epochs then a resume to 5 give the same weights as 5 epochs at once (constant and plateau
    schedules; cosine takes ``cfg.epochs`` as its new horizon from the step reached). A run that ends
    ``finished`` or ``stopped`` returns its own ``state``.
    """
    cb = callbacks or Callbacks()
    run_rng = rng or RunRNG(cfg.seed)
    step_rng = run_rng.active
    device = pick_device(cfg.device)
    result = TrainResult(status="finished", device=str(device))
    saves = _EPOCH_SAVES.get()
    try:
        model.to(device)
        opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        step, total_steps = 0, cfg.epochs * len(train)
        plateau, done = Plateau(), 0
        if saves is not None and saves.start_from is not None:  # this run's own last epoch, after a restart
            _load_point_weights(model, saves.start_from["weights"])
            resume = dict(saves.start_from)
        if resume is not None:
            done, step = restore_train_state(resume, opt, plateau, run_rng, train, cfg.augment)
        scale = plateau.scale  # 1.0 but for a plateau schedule that halved the rate before a resume
        for epoch in range(done + 1, cfg.epochs + 1):
            t0, seen, loss_sum, correct = time.perf_counter(), 0, 0.0, 0
            model.train()
            for b, (x, y) in enumerate(train):
                x, y = x.to(device), y.to(device)
                if cfg.augment is not None:
                    x = cfg.augment(x)
                for group in opt.param_groups:
                    group["lr"] = lr_at(cfg.schedule, cfg.lr, step, total_steps) * scale
                step += 1
                with step_rng():  # only the forward pass draws (dropout masks); backward and step run unlocked
                    logits = model(x)
                loss = F.cross_entropy(logits, y)
                if not torch.isfinite(loss) or float(loss.detach()) > cfg.max_loss:
                    raise TrainingFailed(
                        f"loss became {float(loss.detach()):.4g} at epoch {epoch}, batch {b + 1}: the "
                        f"run diverged; try a lower learning rate than {cfg.lr:g}"
                    )
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                seen += len(y)
                loss_sum += loss.item() * len(y)
                correct += int((logits.argmax(1) == y).sum())
                if cb.on_batch:
                    cb.on_batch({"epoch": epoch, "batch": b + 1, "num_batches": len(train), "loss": loss.item()})
                stop = cb.should_stop() if cb.should_stop else False
                if stop:
                    result.status = "stopped"
                    if isinstance(stop, str):
                        result.error = stop
                    break
            train_seconds = time.perf_counter() - t0
            if result.status == "stopped" and seen == 0:
                break
            if cfg.precise_bn:
                recalibrate_batchnorm(model, train, device, cfg.precise_bn, step_rng)
            test_acc = evaluate(model, test, device)
            train_loss = loss_sum / max(seen, 1)
            row = {
                "epoch": epoch,
                "train_loss": train_loss,
                "train_accuracy": correct / max(seen, 1),
                "test_accuracy": test_acc,
                "seconds": time.perf_counter() - t0,
                "images_per_second": seen / train_seconds if train_seconds > 0 else None,
            }
            result.epochs.append(row)
            result.test_accuracy = test_acc
            if cfg.schedule == "plateau":
                scale = plateau.step(train_loss)
            done = epoch
            if cb.on_epoch:
                cb.on_epoch(row)
            if result.status == "stopped":
                break
            if saves is not None:  # after on_epoch: the epoch's row is stored before the point that follows it
                saves.save(
                    resume_point(
                        model, train_state(opt, done, step, plateau, run_rng, train, cfg.augment, cfg.schedule)
                    )
                )
        result.state = train_state(opt, done, step, plateau, run_rng, train, cfg.augment, cfg.schedule)
    except TrainingFailed as err:
        result.status, result.error = "failed", str(err)
    except RuntimeError as err:
        if not is_oom(err):
            raise
        if device.type == "cuda":
            torch.cuda.empty_cache()
        result.status = "failed"
        result.error = (
            f"{device.type.upper()} out of memory with batch size {train.batch_size}: "
            "try a smaller batch size, a smaller model, or the CPU"
        )
    if saves is not None and saves.flush is not None:  # the last point is stored before the caller stores the run's end
        saves.flush()
    rates = [r["images_per_second"] for r in result.epochs if r["images_per_second"]]
    result.images_per_second = sum(rates) / len(rates) if rates else None
    return result
