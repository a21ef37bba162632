"""One training run end to end: config -> data -> graph -> model -> trainer -> run store.

Shared by the CLI (``python -m core train``) and the app's background worker, so both store runs
the same way: a row per run, a row per finished epoch written as the epoch ends, a checkpoint
(state dict) and the training state a continuation needs (artifact ``train_state``) when the run ends.
A config with ``parent`` set continues that run as a new run (``continuation_config``; see
``core.training.resume``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import torch

from core.config import quick_mode
from core.errors import UserInputError
from core.models import MODELS
from core.models.spec import PIXEL_GRAPH_KINDS as PIXEL_GRAPH_KINDS
from core.models.spec import SUPERPIXEL_INPUTS
from core.rng import RunRNG

# A run's settings live in core.training.run_config (it never opens the store); re-exported here, where callers have
# always imported them from.
from core.training.run_config import AUGMENTS as AUGMENTS
from core.training.run_config import IMAGE_MODELS_WITHOUT_GRAPH as IMAGE_MODELS_WITHOUT_GRAPH
from core.training.run_config import TRAINING as TRAINING
from core.training.run_config import TRAINING_DEFAULTS as TRAINING_DEFAULTS
from core.training.run_config import RunConfig as RunConfig
from core.training.run_config import TrainingConfig as TrainingConfig
from core.training.run_config import model_default as model_default
from core.training.run_config import setting_type as setting_type
from core.training.run_config import validate as validate

if TYPE_CHECKING:
    from core.training.store import Run

log = logging.getLogger(__name__)


def run_title(run: Run | Mapping[str, Any] | None, with_id: bool = True, with_data: bool = False) -> str:
    """How every page names a stored run: "Run 5 · ChebNet K=5 on the 8-neighbour grid" (``with_data``: "· mnist-5k").

    ``run`` is a stored :class:`~core.training.store.Run` or its dict form (``get_run``, ``list_runs``; a page may
    pass a partial one, ``{"id": 7}``, for an id it does not hold). Built from the run's config, so runs stored before
    names were readable read the same; a config this code cannot read falls back to the stored name."""
    from core.training.store import Run

    run = run.to_dict() if isinstance(run, Run) else dict(run or {})
    head = f"Run {run['id']}" if with_id and run.get("id") is not None else ""
    cfg = run.get("config") or {}
    try:
        text = RunConfig.from_dict(dict(cfg)).label()
    except Exception:  # noqa: BLE001 - an old or foreign config of any shape: its stored name, else its model's name
        text = str(run.get("name") or cfg.get("model") or "unknown run")
    if with_data and cfg.get("data"):
        text += f" · {cfg['data']}"
    return f"{head} · {text}" if head else text


def build_everything(
    cfg: RunConfig, rng: RunRNG | None = None, on_prepare: Callable[[str, int, int], None] | None = None
):
    """(dataset, train Batches, test Batches, model, graph or None) for a validated config.

    The model is initialised on ``rng`` (a run's own random stream; a fresh one seeded with ``cfg.training.seed``
    if None), so the same seed gives the same weights even while other runs train. ``on_prepare(what,
    done, total)`` hears about slow preparation (building superpixel graphs the first time).
    """
    from core.data.batches import EVAL_BATCH, Batches
    from core.data.datasets import load_dataset
    from core.graphs import build_graph

    quick = cfg.training.quick or quick_mode()
    ds = load_dataset(cfg.data, quick=quick)
    graph, spec = None, cfg.spec()
    if spec.inputs == SUPERPIXEL_INPUTS:  # one graph per image, built (and cached on disk) once
        from core.graphs.superpixel_dataset import superpixel_batches

        progress = (lambda done, total: on_prepare("building superpixel graphs", done, total)) if on_prepare else None
        train, test = superpixel_batches(ds, cfg.graph_params, cfg.training.batch_size, cfg.training.seed, progress)
    else:
        if cfg.uses_graph():
            graph = build_graph(cfg.graph, size=ds.x_train.shape[-1], **cfg.graph_params)
        train = Batches(
            ds.x_train.unsqueeze(1), ds.y_train, cfg.training.batch_size, shuffle=True, seed=cfg.training.seed
        )
        test = Batches(ds.x_test.unsqueeze(1), ds.y_test, EVAL_BATCH, shuffle=False)  # (EVAL_BATCH, 1, H, W)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(cfg.training.seed)  # GPU dropout (not reproducible bit for bit on a GPU anyway)
    with (rng or RunRNG(cfg.training.seed)).active():  # nothing above draws from torch's generator
        extra = spec.extras(cfg, train) if spec.extras is not None else {}
        model = MODELS.get(cfg.model)(cfg.model_config(), graph, **extra)
    return ds, train, test, model, graph


def peak_memory_mb() -> float | None:
    """The resident high-water mark of this process in MB (a worker: its run's peak), or None where unknown."""
    try:
        import resource
    except ImportError:  # not on Windows
        return None
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # Linux reports KB


def continuation_config(store, parent_id: int, more_epochs: int) -> RunConfig:
    """The config of a NEW run that continues run ``parent_id`` for ``more_epochs`` more epochs (see
    ``core.training.resume`` for why a new run): the parent's settings, ``parent`` set, ``epochs`` the new
    total. UserInputError for a bad count or a run that cannot be continued; CheckpointError for a run
    without a saved training state (trained before continuing existed)."""
    from core.training.resume import continuable, load_train_state

    if isinstance(more_epochs, bool) or not isinstance(more_epochs, int) or more_epochs < 1:
        raise UserInputError("epochs", f"continue for at least 1 more epoch (got {more_epochs!r})")
    run = store.get_run(int(parent_id))
    if run is None:
        raise UserInputError("run", f"run {parent_id} does not exist")
    why = continuable(store, run)
    if why:
        raise UserInputError("run", f"run {parent_id} cannot be continued: {why}")
    done = int(load_train_state(store, run["id"])["epoch"])
    return validate(
        RunConfig.from_dict({**(run.get("config") or {}), "epochs": done + more_epochs, "parent": run["id"]})
    )


def _resume_of(cfg: RunConfig, store, parent_id: int) -> tuple[Any, Any]:
    """(parent's weights, training state) of continuation ``cfg`` of run ``parent_id`` (its ``training.parent``),
    after checking it keeps its parent's settings."""
    from core.training.resume import SAME_SETTINGS_EXCEPT, parent_resume

    parent, weights, state = parent_resume(store, parent_id, cfg.training.epochs)
    mine, theirs = cfg.to_dict(), RunConfig.from_dict(dict(parent.get("config") or {})).to_dict()
    differ = sorted(k for k in mine if k not in SAME_SETTINGS_EXCEPT and mine[k] != theirs.get(k))
    if differ:
        raise UserInputError(
            "parent",
            f"a continuation trains with its parent's settings; these differ from run "
            f"{cfg.training.parent}'s: {', '.join(differ)}",
        )
    return weights, state


def execute(
    cfg: RunConfig,
    store=None,
    *,
    run_id: int | None = None,
    session: str | None = None,
    should_stop: Callable[[], bool | str] | None = None,
    on_batch: Callable[[dict], None] | None = None,
    on_epoch: Callable[[dict], None] | None = None,
    on_prepare: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    """Validate, train and store one run; return its summary (the CLI's JSON).

    Invalid settings raise UserInputError before anything is stored. Everything after that ends in
    the store: ``finished``, ``stopped`` or ``failed`` with the reason.
    """
    from core.training.snapshots import SNAPSHOT_ARTIFACT, FeatureTap
    from core.training.store import checkpoint_path, open_store, save_checkpoint
    from core.training.trainer import Callbacks, TrainerConfig, fit, pick_device

    validate(cfg)
    store = store or open_store()
    if run_id is None:
        run_id = store.create_run(cfg.to_dict(), name=cfg.label(), session=session)
    t_start, cpu_start = time.perf_counter(), time.process_time()
    try:
        device = pick_device(cfg.training.device)
        parent = cfg.training.parent
        resume = _resume_of(cfg, store, parent) if parent is not None else None  # (weights, training state)
        store.start(run_id, str(device))
        rng = RunRNG(cfg.training.seed)  # init and dropout draw from the run's own stream (core/rng.py)
        ds, train, test, model, _ = build_everything(cfg, rng, on_prepare)
        if resume is not None:  # the parent's weights; fit restores its optimiser, schedule and random streams
            from core.training.resume import load_parent_weights

            load_parent_weights(model, resume[0])
        tap = FeatureTap(model)  # records the first 500 test features during fit's own test pass

        def epoch_done(row: dict) -> None:
            store.log_epoch(run_id, **row)
            try:  # the test embedding as it forms (PCA, artifact "pca"), for the Results page
                snapshot = tap.snapshot(test.labels)
                if snapshot is not None:
                    store.save_artifact(run_id, SNAPSHOT_ARTIFACT, snapshot, epoch=row["epoch"])
            except Exception as err:  # noqa: BLE001 - an optional picture (any failure) never breaks a run
                log.warning("run %s: no embedding snapshot for epoch %s (%s)", run_id, row["epoch"], err)
            if on_epoch:
                on_epoch(row)

        from core.data.transforms import RandomRotation

        augment = RandomRotation(seed=cfg.training.seed) if cfg.training.augment == "rotate" else None
        tcfg = TrainerConfig(
            epochs=cfg.training.epochs,
            lr=cfg.training.lr,
            batch_size=cfg.training.batch_size,
            seed=cfg.training.seed,
            device=cfg.training.device,
            schedule=cfg.training.schedule,
            augment=augment,
            precise_bn=cfg.spec().precise_bn,
        )
        try:
            result = fit(
                model,
                train,
                test,
                tcfg,
                Callbacks(on_batch=on_batch, on_epoch=epoch_done, should_stop=should_stop),
                rng=rng,
                resume=resume[1] if resume is not None else None,
            )
        finally:
            tap.close()
    except Exception as err:  # anything unexpected still ends the run in the store with a reason
        message = str(err) if isinstance(err, UserInputError) else f"{type(err).__name__}: {err}"
        store.fail(run_id, message)
        raise
    summary = {
        "run_id": run_id,
        "model": cfg.model,
        "label": cfg.label(),
        "data": cfg.data,
        "status": result.status,
        "device": result.device,
        "test_accuracy": result.test_accuracy,
        "images_per_second": result.images_per_second,
        "parameters": sum(p.numel() for p in model.parameters()),
        "train_images": len(train.labels),
        "test_images": len(test.labels),
        "seconds": time.perf_counter() - t_start,
        "cpu_seconds": time.process_time() - cpu_start,  # every thread's: what core.training.cost estimates
        "peak_mb": peak_memory_mb(),  # this process's high-water mark: beside the estimate (core.training.cost)
        "error": result.error,
        "epochs": result.epochs,
        **({"parent": cfg.training.parent} if cfg.training.parent is not None else {}),
    }
    ckpt = None
    if result.epochs:
        ckpt = checkpoint_path(run_id)
        save_checkpoint(model.state_dict(), ckpt)
        if result.state is not None:  # what a continuation needs (core.training.resume), beside the weights
            from core.training.resume import TRAIN_STATE_ARTIFACT, state_bytes

            try:
                store.save_artifact(run_id, TRAIN_STATE_ARTIFACT, state_bytes(result.state))
            except Exception as err:  # noqa: BLE001 - the run's result stands; it just cannot be continued
                summary["train_state_error"] = f"{type(err).__name__}: {err}"
        if result.status == "finished":  # what Results shows, once per checkpoint (a stopped run's on first view)
            error = _store_evaluation(store, run_id, ckpt, model, test, ds, cfg, should_stop)
            if error:
                summary["evaluation_error"] = error
    store.finish(
        run_id,
        {k: v for k, v in summary.items() if k != "epochs"},
        status=result.status,
        error=result.error,
        checkpoint=str(ckpt) if ckpt else None,
    )
    return summary


def _store_evaluation(
    store, run_id: int, ckpt, model, test, ds, cfg: RunConfig, should_stop: Callable[[], bool | str] | None
) -> str | None:
    """Evaluate the final model on its test set and store it as artifact ``"evaluation"`` for the Results page
    (``core.training.evaluation``). A stop request skips it; a failure is returned as text, never raised (the
    run's result stands; Results evaluates it on first view instead)."""
    from core.training.evaluation import checkpoint_file_version, evaluate_model, save_evaluation

    try:
        ev = evaluate_model(
            model,
            test,
            ds.classes,
            version=checkpoint_file_version(ckpt),
            model_kind=cfg.spec().inputs,
            data=cfg.data,
            quick=cfg.training.quick or quick_mode(),
            should_stop=should_stop,
        )
        if ev is not None:
            save_evaluation(store, run_id, ev)
    except Exception as err:  # noqa: BLE001 - the run trained: a failed test pass is its error line, not a crash
        return f"{type(err).__name__}: {err}"
    return None
