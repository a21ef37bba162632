"""A stored run, re-opened: its model rebuilt from the checkpoint, its evaluation on the test set, exports.

``load_run_model(run_id)`` rebuilds the model from the run's stored :class:`~core.training.runs.RunConfig`
(via ``build_everything``, so graph models get their graph) and loads the checkpoint with
``core.training.store.load_checkpoint`` (``weights_only=True``).

A run's evaluation (logits, predictions, the confusion matrix, per-class accuracy, the misclassified
images and the penultimate features, for embeddings) is computed once per checkpoint and stored with the
run (artifact ``"evaluation"``, ``core.training.evaluation``): the worker that trained it stores it as the
run ends. :func:`stored_evaluation` reads it (a ``None`` for a run stored before that, or whose checkpoint
was replaced); :func:`request_evaluation` then computes it once in a bounded worker process
(``core.training.jobs``: one at a time, a few waiting, each within ``EVALUATION_LIMIT_S``) and stores it,
so it is never computed again; a page polls :func:`evaluation_state` meanwhile. :func:`evaluate_run` is
the blocking form for the CLI, scripts and tests: stored, else computed in this process and stored.

Superpixel models read per-image PyG graphs, not pixels: they are evaluated through the same test
``Batches`` that trained them (built from the test images in order), so every view works for them
too; the gallery shows the original digit of each graph.

Problems surface as one-line errors: :class:`~core.training.store.CheckpointError` (no checkpoint, missing
or corrupt file, weights that do not fit the model), :class:`~core.training.store.RunNotFoundError`,
``UserInputError`` / ``DataUnavailableError`` from the data and config.

Exports: ``config_json(run)``, ``metrics_csv(epochs)``, ``projector_bundle(features, labels)``
(TensorBoard Embedding Projector TSVs). No streamlit here.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from core.config import shown_path
from core.errors import DataUnavailableError, UserInputError
from core.models import MODELS
from core.training.evaluation import StoredEvaluation, checkpoint_file_version
from core.training.jobs import BusyError, JobState  # noqa: F401  (BusyError: for the pages)
from core.training.store import METRIC_COLUMNS, CheckpointError, Run, as_run

if TYPE_CHECKING:
    import torch

TSNE_MAX_POINTS = 1000  # t-SNE maps the first this many test items' features
TSNE_PERPLEXITIES = (5, 10, 20, 30, 50)
EVALUATION_LIMIT_S = 300.0  # a worker evaluating one run's checkpoint is stopped after this long
EVALUATION_POOL = {"workers": 1, "waiting": 4, "limit_s": EVALUATION_LIMIT_S, "keep": 64, "per_owner": 1}


@dataclass(frozen=True)
class RunEvaluation:
    """One run's checkpoint evaluated on its test set (arrays are numpy, rows in test-set order)."""

    run_id: int
    logits: np.ndarray  # (n, C) float32
    preds: np.ndarray  # (n,) int64
    labels: np.ndarray  # (n,) int64
    accuracy: float  # fraction correct
    confusion: np.ndarray  # (C, C) int64: rows = true class, columns = predicted class
    per_class_accuracy: np.ndarray  # (C,) float64, NaN for a class absent from the test set
    misclassified: np.ndarray  # (k,) int64 indices into the test set
    features: np.ndarray  # (m, D) float32 penultimate features of the first m = min(n, FEATURE_POINTS)
    images: np.ndarray  # (n, H, W) float32 test images in [0, 1] (superpixel runs: the source digits)
    classes: tuple[str, ...]
    model_kind: str  # "image" or "superpixel"
    checkpoint: str

    @property
    def num_test(self) -> int:
        return len(self.labels)

    @property
    def probabilities(self) -> np.ndarray:
        z = self.logits - self.logits.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)


RunLike = Run | Mapping[str, Any]  # a stored Run, or its dict form (get_run, list_runs) as the pages still pass it


def stored_run(run_id: int, store=None) -> Run:
    """Run ``run_id`` from ``store`` (default: the data folder's); :class:`RunNotFoundError` if there is none."""
    from core.training.store import open_store

    return open_store(store).require_run(int(run_id))


def stored_run_of(run_id: int, model: str, what: str, store=None):
    """(run, its validated RunConfig, its checkpoint's state) for a stored run of ``model``; ``UserInputError``
    naming ``what`` (e.g. "a GAT run") when it is another model, ``CheckpointError`` without a usable checkpoint."""
    from core.training.runs import validate

    run = stored_run(run_id, store)
    cfg = validate(run_config(run))
    if cfg.model != model:
        raise UserInputError("run", f"run {run_id} is a {cfg.model!r} run, not {what} ({model!r})")
    return run, cfg, checkpoint_state(run)


def run_config(run: RunLike):
    """The run's :class:`RunConfig` (raises ``UserInputError`` for a config this version cannot read)."""
    return as_run(run).run_config()


def checkpoint_version(run: RunLike) -> str:
    """``"<checkpoint path>:<mtime in ns>"``: what a page caches a reopened run under, so a retrained or replaced
    checkpoint is read afresh; :class:`CheckpointError` when there is none."""
    return checkpoint_file_version(checkpoint_file(run))


def checkpoint_file(run: RunLike) -> Path:
    """The run's checkpoint path; :class:`CheckpointError` if none was recorded or the file is gone."""
    run = as_run(run)
    if not run.checkpoint:
        why = {
            "queued": "it has not started",
            "running": "it is still training",
            "failed": f"it failed: {run.error}" if run.error else "it failed before finishing an epoch",
            "interrupted": "it was interrupted before finishing",
        }.get(run.status, "none was saved")
        raise CheckpointError(f"run {run.id} has no checkpoint ({why})")
    source = Path(run.checkpoint).expanduser()
    if not source.is_file():
        raise CheckpointError(f"checkpoint {shown_path(source)} of run {run.id} does not exist (moved or deleted?)")
    return source


def checkpoint_state(run: RunLike) -> tuple[Path, Mapping[str, Any]]:
    """(path, state dict) of a stored run's checkpoint; CheckpointError when missing, corrupt or not weights."""
    from core.training.store import load_checkpoint

    source = checkpoint_file(run)
    state = load_checkpoint(source)  # CheckpointError when missing / corrupt / not plain weights
    if not isinstance(state, Mapping):
        raise CheckpointError(f"checkpoint {shown_path(source)} holds a {type(state).__name__}, not a state dict")
    return source, state


def load_weights(
    model: torch.nn.Module, run: RunLike, what: str, loaded: tuple[Path, Mapping[str, Any]] | None = None
) -> None:
    """Load ``run``'s checkpoint (or ``loaded``, from checkpoint_state) into ``model``, strictly.

    Raises CheckpointError naming ``what`` (e.g. "a ChebNet") when the weights do not fit the model.
    Both modes' keys are tried (``load_state_strict``); the model is left in eval mode.
    """
    from core.training.store import load_state_strict

    source, state = loaded or checkpoint_state(run)
    try:
        load_state_strict(model, state)
    except (RuntimeError, KeyError, ValueError) as err:
        first = str(err).strip().splitlines()
        detail = " ".join(line.strip() for line in first[1:3]) if len(first) > 1 else (first[0] if first else "")
        raise CheckpointError(
            f"checkpoint {shown_path(source)} does not fit {what} built from run "
            f"{as_run(run).id}'s settings ({detail[:300]})"
        ) from err


def _build(run: RunLike):
    """(model with the checkpoint's weights, cfg, dataset, test Batches) for a stored run."""
    from core.training.runs import build_everything, validate

    cfg = validate(run_config(run))
    loaded = checkpoint_state(run)  # a missing or corrupt checkpoint fails before the (slower) build
    ds, _, test, model, _ = build_everything(cfg)
    load_weights(model, run, f"a {cfg.model} model", loaded)
    return model, cfg, ds, test


def load_run_model(run_id: int, store=None):
    """(model on the CPU in eval mode with the run's weights, RunConfig, ImageDataset).

    Raises :class:`CheckpointError` when the checkpoint is missing, corrupt, or does not fit the
    model the stored settings describe; :class:`RunNotFoundError` for an unknown run id.
    """
    run = stored_run(run_id, store)
    model, cfg, ds, _ = _build(run)
    return model, cfg, ds


def stored_evaluation(run_id: int, store=None) -> RunEvaluation | None:
    """The run's stored evaluation of its current checkpoint; None when there is none yet (a run stored before
    evaluations were, a stopped run, a replaced checkpoint). Reads only: the store and the data set's test images.
    :class:`CheckpointError` without a checkpoint, :class:`RunNotFoundError` for an unknown run."""
    from core.training.evaluation import load_evaluation
    from core.training.store import open_store

    store = open_store(store)
    run = store.require_run(int(run_id))
    version = checkpoint_version(run)
    stored = load_evaluation(store, run.id)
    if stored is None or stored.version != version:
        return None
    return _run_evaluation(run, stored)


def evaluation_pool():
    """The process-wide pool that evaluates runs without a stored evaluation (``EVALUATION_POOL``)."""
    from core.training.jobs import pool

    return pool("evaluation", **EVALUATION_POOL)


def _job_key(run_id: int, store) -> tuple[tuple, str, int]:
    from core.training.store import open_store

    store = open_store(store)
    run = store.require_run(int(run_id))
    db = store.location  # what a job reopens it with: a SQLite path or a PostgreSQL URL
    return ("evaluation", db, run.id, checkpoint_version(run)), db, run.id


def request_evaluation(run_id: int, store=None, owner: str | None = None) -> JobState:
    """Have the run's checkpoint evaluated and stored, once, in a worker process; where that job is. Asking again
    joins the same job (or gets its outcome); :class:`BusyError` when the pool has no room (see
    ``core.training.jobs``); a failed job's ``error`` is the one-line error evaluating raised."""
    key, db, rid = _job_key(run_id, store)
    return evaluation_pool().submit(key, store_evaluation, (db, rid), owner=owner)


def evaluation_state(run_id: int, store=None) -> JobState | None:
    """Where the job evaluating the run's current checkpoint is (None: no such job, or long forgotten)."""
    return evaluation_pool().state(_job_key(run_id, store)[0])


def stored_tsne(run_id: int, perplexity: int, store=None) -> np.ndarray | None:
    """The run's stored t-SNE map ((n, 2) float32 of its first ``TSNE_MAX_POINTS`` test items' features) at
    ``perplexity``, computed for its current checkpoint; None when there is none yet."""
    from core.training.store import open_store

    store = open_store(store)
    run = store.require_run(int(run_id))
    stored = store.load_artifact(run.id, _tsne_artifact(perplexity))
    if not isinstance(stored, dict) or stored.get("version") != checkpoint_version(run):
        return None
    try:
        xy = np.asarray(stored.get("xy"), dtype=np.float32)
    except (TypeError, ValueError):
        return None
    return xy if xy.ndim == 2 and xy.shape[1:] == (2,) else None


def request_tsne(run_id: int, perplexity: int, store=None, owner: str | None = None) -> JobState:
    """Have the run's t-SNE map at ``perplexity`` computed (from its stored evaluation) and stored, once, in a worker
    of the evaluation pool; where that job is (see :func:`request_evaluation`)."""
    perplexity = _perplexity(perplexity)
    key, db, rid = _job_key(run_id, store)
    return evaluation_pool().submit((*key, "tsne", perplexity), store_tsne, (db, rid, perplexity), owner=owner)


def tsne_state(run_id: int, perplexity: int, store=None) -> JobState | None:
    """Where the job computing the run's t-SNE map at ``perplexity`` is (None: no such job)."""
    return evaluation_pool().state((*_job_key(run_id, store)[0], "tsne", _perplexity(perplexity)))


def store_tsne(db_path: str, run_id: int, perplexity: int) -> int:
    """Compute run ``run_id``'s t-SNE map at ``perplexity`` from its stored evaluation and store it (what a t-SNE
    job runs); the number of points."""
    from core.analysis.embeddings import tsne_2d
    from core.training.store import store_at

    store = store_at(db_path)
    run = store.require_run(int(run_id))
    version = checkpoint_version(run)
    ev = stored_evaluation(run_id, store) or evaluate_run(run_id, store)
    xy = tsne_2d(ev.features[:TSNE_MAX_POINTS], perplexity=perplexity, seed=0)
    store.save_artifact(
        int(run_id),
        _tsne_artifact(perplexity),
        {"version": version, "perplexity": perplexity, "xy": np.round(xy, 5).tolist()},
    )
    return len(xy)


def _tsne_artifact(perplexity: int) -> str:
    return f"tsne-{_perplexity(perplexity)}"


def _perplexity(value: Any) -> int:
    if isinstance(value, bool) or value not in TSNE_PERPLEXITIES:
        raise UserInputError("perplexity", f"choose from {', '.join(map(str, TSNE_PERPLEXITIES))}, got {value!r}")
    return int(value)


def wait_for_evaluation(run_id: int, store=None, timeout: float = EVALUATION_LIMIT_S) -> JobState | None:
    """Block until the job evaluating the run's current checkpoint ends (scripts, tests); its state."""
    return evaluation_pool().wait(_job_key(run_id, store)[0], timeout)


def store_evaluation(db_path: str, run_id: int) -> int:
    """Evaluate run ``run_id`` of the store at ``db_path`` and store it as its ``"evaluation"`` artifact (what an
    evaluation job runs); the artifact's size in bytes."""
    from core.training.evaluation import save_evaluation
    from core.training.store import store_at

    store = store_at(db_path)
    return save_evaluation(store, run_id, _evaluate(store.require_run(int(run_id))))


def evaluate_run(run_id: int, store=None) -> RunEvaluation:
    """The run's evaluation: the stored one, else computed in this process and stored (the CLI, scripts, tests;
    pages use :func:`stored_evaluation` and :func:`request_evaluation`, which never evaluate in the server)."""
    from core.training.evaluation import save_evaluation
    from core.training.store import open_store

    store = open_store(store)
    found = stored_evaluation(run_id, store)
    if found is not None:
        return found
    run = store.require_run(int(run_id))
    stored = _evaluate(run)
    save_evaluation(store, run.id, stored)
    return _run_evaluation(run, stored)


_evaluations = 0  # evaluations computed in this process (tests check that stored ones are only read)


def evaluations_in_this_process() -> int:
    """How many times this process evaluated a checkpoint (:func:`evaluate_run` without a stored one)."""
    return _evaluations


def clear_cache() -> None:
    """Forget the test images kept for evaluations (a new data folder, say)."""
    _test_images.cache_clear()


def _evaluate(run: RunLike) -> StoredEvaluation:
    """One pass of the run's checkpoint over its test set, as stored."""
    global _evaluations
    from core.config import quick_mode
    from core.training.evaluation import evaluate_model

    version = checkpoint_version(run)  # before loading: a checkpoint replaced meanwhile reads as stale later
    model, cfg, ds, test = _build(run)
    _evaluations += 1
    stored = evaluate_model(
        model,
        test,
        ds.classes,
        version=version,
        model_kind=cfg.spec().inputs,  # IMAGE_INPUTS or SUPERPIXEL_INPUTS
        data=cfg.data,
        quick=cfg.training.quick or quick_mode(),
    )
    assert stored is not None  # None only when a should_stop ends the pass, and none is given
    return stored


@lru_cache(maxsize=4)
def _test_images(data: str, quick: bool, folder: str) -> np.ndarray:
    """(n, H, W) float32 test images of data set ``data`` (read-only; ``folder`` keys the data folder)."""
    from core.data.datasets import load_dataset

    images = np.asarray(load_dataset(data, quick=quick).x_test.numpy(), dtype=np.float32)
    images.flags.writeable = False
    return images


def _run_evaluation(run: Run, stored: StoredEvaluation) -> RunEvaluation:
    """A stored evaluation with what follows from it (predictions, confusion, per class, mistakes) and its test
    images; :class:`DataUnavailableError` when the data set's test images are no longer the ones evaluated."""
    from core.config import data_dir

    images = _test_images(stored.data, stored.quick, str(data_dir()))
    if len(images) != len(stored.labels):
        raise DataUnavailableError(
            f"run {run.id} was evaluated on {len(stored.labels)} test images of "
            f"{stored.data}, but that test set now has {len(images)}"
        )
    logits, labels = stored.logits, stored.labels
    num_classes = logits.shape[1] if logits.ndim == 2 and logits.shape[1] else len(stored.classes)
    preds = stored.preds
    confusion = confusion_matrix(labels, preds, num_classes)
    support = confusion.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = np.where(support > 0, np.diag(confusion) / np.maximum(support, 1), np.nan)
    return RunEvaluation(
        run_id=run.id,
        logits=logits,
        preds=preds,
        labels=labels,
        accuracy=float((preds == labels).mean()) if len(labels) else float("nan"),
        confusion=confusion,
        per_class_accuracy=per_class.astype(np.float64),
        misclassified=np.flatnonzero(preds != labels).astype(np.int64),
        features=stored.features,
        images=images,
        classes=stored.classes,
        model_kind=stored.model_kind,
        checkpoint=str(checkpoint_file(run)),
    )


def confusion_matrix(
    labels: Sequence[int] | np.ndarray, preds: Sequence[int] | np.ndarray, num_classes: int = 10
) -> np.ndarray:
    """(C, C) int64 counts: entry [t, p] = test items of true class t predicted as p."""
    true, said = np.asarray(labels, dtype=np.int64), np.asarray(preds, dtype=np.int64)
    out = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(out, (true, said), 1)
    return out


# ----------------------------------------------------------------------------- exports


def config_json(run: RunLike) -> str:
    """The run as pretty JSON: its settings (``config``, a RunConfig dict), summary, device, versions.

    ``RunConfig.from_dict(json.loads(text)["config"])`` rebuilds the exact settings.
    """
    run = as_run(run)
    doc = {
        "run_id": run.id,
        "label": run.name,
        "status": run.status,
        "created_at": run.created_at,
        "device": run.device,
        "error": run.error,
        "config": run.config,
        "summary": run.summary.to_dict(),
        "versions": run.versions,
    }
    return json.dumps(doc, indent=2, sort_keys=False, default=str) + "\n"


def metrics_csv(epochs: Iterable[Mapping[str, Any]]) -> str:
    """One row per epoch: ``epoch``, the store's metric columns, then any extra metrics (sorted)."""
    rows = [dict(e) for e in epochs]
    base = ["epoch", *METRIC_COLUMNS]
    extra = sorted({k for r in rows for k in r} - set(base))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=base + extra, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in base + extra})
    return buf.getvalue()


def projector_bundle(
    features: Any,
    labels: Sequence[int] | np.ndarray,
    preds: Sequence[int] | np.ndarray | None = None,
    indices: Sequence[int] | np.ndarray | None = None,
) -> tuple[str, str]:
    """(vectors.tsv, metadata.tsv) for the TensorBoard Embedding Projector (projector.tensorflow.org).

    vectors: one row per point, the D floats tab-separated, no header. metadata: the Projector reads
    a header row only when there are two or more columns, so it is ``label<TAB>index`` (plus ``pred``
    and ``correct`` when ``preds`` is given) followed by one row per point, in the same order.
    """
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"features must be (n, D), got shape {x.shape}")
    y = np.asarray(labels).reshape(-1)
    if len(y) != len(x):
        raise ValueError(f"{len(x)} feature rows but {len(y)} labels")
    idx = np.arange(len(x)) if indices is None else np.asarray(indices).reshape(-1)
    if len(idx) != len(x):
        raise ValueError(f"{len(x)} feature rows but {len(idx)} indices")
    vectors = "".join("\t".join(f"{v:.6g}" for v in row) + "\n" for row in x)
    header = ["label", "index"]
    if preds is not None:
        p = np.asarray(preds).reshape(-1)
        if len(p) != len(x):
            raise ValueError(f"{len(x)} feature rows but {len(p)} predictions")
        header += ["pred", "correct"]
        body = [
            f"{int(a)}\t{int(i)}\t{int(b)}\t{'yes' if int(a) == int(b) else 'no'}"
            for a, i, b in zip(y, idx, p, strict=True)
        ]
    else:
        body = [f"{int(a)}\t{int(i)}" for a, i in zip(y, idx, strict=True)]
    metadata = "\t".join(header) + "\n" + "".join(line + "\n" for line in body)
    return vectors, metadata


# ----------------------------------------------------------------------------- comparing runs

MISSING = "—"  # what a table shows for a setting a run lacks, and (as st.dataframe's placeholder) a missing number
_MISSING = MISSING
# What "Settings that differ" calls each RunConfig setting that is neither a model's (its spec names those:
# ``Setting.listed``) nor sweepable (the sweep's label).
SETTING_LABELS: dict[str, str] = {
    "graph": "Graph (graph)",
    "schedule": "Learning-rate schedule (schedule)",
    "augment": "Augmentation (augment)",
    "batch_size": "Batch size (batch_size)",
    "device": "Device (device)",
    "quick": "Quick mode (quick)",
    "parent": "Continued from run (parent)",
}
GRAPH_PARAM_PREFIX = "Graph parameter: "


def setting_label(key: str) -> str:
    """A readable, complete name for a flat setting key (see :func:`flat_settings`): ``K`` -> 'Chebyshev order (K)',
    ``graph_params.k`` -> 'Graph parameter: k-NN neighbours (k)', ``graph_params.cutoff`` -> 'Graph parameter:
    cutoff'. Every key keeps its name in it, so two settings never get the same label."""
    from core.training.sweep import SWEEPABLE

    head, dot, sub = key.partition(".")
    if dot and head == "graph_params":
        known = sub in SWEEPABLE and SWEEPABLE[sub].where == "graph"
        return GRAPH_PARAM_PREFIX + (SWEEPABLE[sub].label if known else sub)
    if dot:
        return f"{head}: {sub}"
    if key in SETTING_LABELS:
        return SETTING_LABELS[key]
    if key in SWEEPABLE:
        return SWEEPABLE[key].label
    own = MODELS.all_settings().get(key)
    return own.listed if own is not None else key


def flat_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """A run config one level deep: ``graph_params`` entries become ``graph_params.<name>``."""
    out: dict[str, Any] = {}
    for key, value in (config or {}).items():
        if isinstance(value, Mapping):
            for sub, v in value.items():
                out[f"{key}.{sub}"] = v
        else:
            out[key] = value
    return out


def settings_diff(runs: Sequence[RunLike], readable: bool = False) -> list[dict[str, Any]]:
    """Only the settings that differ between ``runs``: ``[{"setting": label, "#3": v, "#5": w}, ...]``.

    ``setting`` is the readable, complete name of :func:`setting_label` (e.g. 'Graph parameter: k-NN neighbours
    (k)', never a key cut short). Columns are ``#<run id>`` in the order given; values are strings (JSON for
    non-strings, so a table column has one type); a setting a run lacks, or that is None, shows as "—". With
    fewer than two runs every setting is listed (nothing to diff against). ``readable``: a layer type reads as
    people say it ("ChebNet", not "cheb"; :func:`shown_value`).
    """
    stored = [as_run(r) for r in runs]
    flats = [flat_settings(r.config) for r in stored]
    keys: list[str] = []
    for f in flats:
        keys += [k for k in f if k not in keys]
    rows = []
    for key in keys:
        values = [f.get(key, _MISSING) for f in flats]
        if len(stored) >= 2 and all(
            json.dumps(v, sort_keys=True, default=str) == json.dumps(values[0], sort_keys=True, default=str)
            for v in values
        ):
            continue
        row: dict[str, Any] = {"setting": setting_label(key)}
        for r, v in zip(stored, values, strict=True):
            text = shown_value(key, v) if readable else v if isinstance(v, str) else json.dumps(v, default=str)
            row[f"#{r.id}"] = _MISSING if v is None else text
        rows.append(row)
    return rows


def runs_table(runs: Sequence[RunLike], readable: bool = False) -> list[dict[str, Any]]:
    """One flat row per run for tables: id, status, model, graph, data, epochs, accuracy, speed, label.

    Text cells are never None: what a run does not have (yet) reads "—" (a model that reads pixels has no graph;
    a queued run has no device). Number cells (test accuracy, parameters, images/s) stay numbers or None, so a
    NumberColumn formats them: pandas makes a missing one NaN, and ``st.dataframe(..., placeholder=MISSING)``
    shows it as "—" (st.dataframe's own placeholder for a missing value is the text "None").

    ``readable`` (the pages' tables): the model and graph as people say them ("ChebNet", "8-neighbour grid") and the
    label from the run's config (``core.training.runs.run_title``), so a run stored under an older name reads the
    same; otherwise the stored short names and the stored label.
    """
    from core.graphs import describe_graph
    from core.training.runs import run_title

    rows = []
    for r in map(as_run, runs):
        c, s = r.config, r.summary
        model, graph, label = c.get("model"), c.get("graph"), r.name
        if readable:
            model = shown_value("model", model) if model else model
            graph = describe_graph(graph, c.get("graph_params")) if graph else graph
            label = run_title(r, with_id=False)
        rows.append(
            {
                "run": r.id,
                "status": _text(r.status),
                "model": _text(model),
                "graph": _text(graph),  # — : a model that reads pixels
                "data": _text(c.get("data")),
                "epochs": c.get("epochs"),
                "test accuracy": _number(s.test_accuracy),
                "parameters": _number(s.parameters),
                "images/s": _number(s.images_per_second),
                "device": _text(r.device),
                "label": _text(label),
            }
        )
    return rows


def shown_value(key: str, value: Any) -> str:
    """A setting's value as a table shows it: a layer type (``model``, a superpixel net's ``conv``) by its short
    title ("ChebNet"), anything else as text (JSON for non-strings)."""
    from core.models import MODELS
    from core.models.superpixel_net import SUPERPIXEL_TITLES

    if key == "conv" and isinstance(value, str) and value in SUPERPIXEL_TITLES:
        return SUPERPIXEL_TITLES[value].split(" (")[0]
    if key == "model" and isinstance(value, str) and value in MODELS:
        return MODELS.short(value)
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _text(value: Any) -> str:
    return MISSING if value is None or value == "" else str(value)


def _number(value: Any) -> float | None:
    """A number, or None for a missing or non-numeric one (a stored summary is JSON anyone could have written)."""
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None
