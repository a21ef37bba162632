"""A run's evaluation on its test set, computed once per checkpoint and stored with the run.

What the Results page shows of a run (predictions, confusion, per-class accuracy, mistakes, embeddings)
comes from one pass of its final model over its test set. The worker that trained the run makes that
pass as the run ends (``core.training.runs.execute``) and stores it as the run-level artifact
``"evaluation"``: the logits, the labels and the penultimate features of the first ``FEATURE_POINTS`` test
items, as one compressed ``.npz`` blob (no pickles), with the version of the checkpoint it evaluated
(:func:`checkpoint_file_version`: path and modification time). A reader that finds a blob of another
version (a replaced checkpoint) or none (a run stored before this existed) evaluates again, once, and
stores the new one (``core.analysis.results``).

Measured sizes (compressed float32): quick mode's 200 test images, 72 kB (MLP, 128 features) to 213 kB (CNN,
512 features); mnist-5k's 1,000, 373 kB to 794 kB; against a CNN's or ChebNet's 6.5 MB checkpoint. Reading one
back takes 10-30 ms. The test images are not stored: they are the data set's, reloaded by name.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

EVALUATION_ARTIFACT = "evaluation"
FEATURE_POINTS = 2000  # penultimate features kept (the first test items)
FORMAT = 1  # of the stored blob; another is read as none (evaluated again)


@dataclass(frozen=True)
class StoredEvaluation:
    """One checkpoint's pass over its test set, as stored (rows in test-set order)."""

    version: str  # the checkpoint it evaluated (checkpoint_file_version)
    logits: np.ndarray  # (n, C) float32
    labels: np.ndarray  # (n,) int64
    features: np.ndarray  # (m, D) float32, m = min(n, FEATURE_POINTS)
    classes: tuple[str, ...]
    model_kind: str  # "image" or "superpixel"
    data: str  # the data set, and whether in its quick form: where the test images come from
    quick: bool
    seconds: float = 0.0  # how long the pass took

    @property
    def preds(self) -> np.ndarray:
        return self.logits.argmax(axis=1).astype(np.int64) if len(self.logits) else np.zeros(0, np.int64)


def checkpoint_file_version(path: str | Path) -> str:
    """``"<resolved path>:<mtime in ns>"`` of a checkpoint file (OSError when it is gone)."""
    source = Path(path).expanduser()
    return f"{source.resolve()}:{source.stat().st_mtime_ns}"


def batch_outputs(
    model,
    batches: Iterable[tuple[Any, Any]],
    max_features: int | None = None,
    should_stop: Callable[[], bool | str] | None = None,  # something true stops (True, or the trainer's reason)
):
    """(logits (n, C), labels (n,), features (m, D)) over any batches, image tensors or PyG ``Batch`` es.

    One forward pass: ``logits = classifier(features)``. Only the first ``max_features`` rows of the
    features are kept (all when ``None``). Eval mode, ``no_grad``, the model's mode restored. ``None`` when
    ``should_stop()`` said so between batches.
    """
    import torch

    from core.training.snapshots import device_of, has_features

    if not has_features(model):
        raise TypeError(f"{type(model).__name__} has no penultimate features (no .features / .classifier)")
    device, was_training = device_of(model), model.training
    logits, labels, feats, kept = [], [], [], 0
    try:
        model.eval()
        with torch.no_grad():
            for x, y in batches:
                if should_stop is not None and should_stop():
                    return None
                f = model.features(x.to(device)).float().flatten(1)
                logits.append(model.classifier(f).float().cpu())
                labels.append(y.cpu())
                if max_features is None or kept < max_features:
                    take = len(f) if max_features is None else min(len(f), max_features - kept)
                    feats.append(f[:take].cpu())
                    kept += take
    finally:
        model.train(was_training)
    if not logits:
        return np.zeros((0, 0), np.float32), np.zeros(0, np.int64), np.zeros((0, 0), np.float32)
    return (
        torch.cat(logits).numpy(),
        torch.cat(labels).numpy().astype(np.int64),
        torch.cat(feats).numpy() if feats else np.zeros((0, 0), np.float32),
    )


def evaluate_model(
    model,
    test,
    classes: Iterable[str],
    *,
    version: str,
    model_kind: str,
    data: str,
    quick: bool,
    should_stop: Callable[[], bool | str] | None = None,
) -> StoredEvaluation | None:
    """``model``'s pass over the test ``Batches`` (None when ``should_stop`` ended it early)."""
    import time

    t0 = time.perf_counter()
    out = batch_outputs(model, test, max_features=FEATURE_POINTS, should_stop=should_stop)
    if out is None:
        return None
    logits, labels, features = out
    return StoredEvaluation(
        version=version,
        logits=logits.astype(np.float32),
        labels=labels.astype(np.int64),
        features=features.astype(np.float32),
        classes=tuple(str(c) for c in classes),
        model_kind=model_kind,
        data=str(data),
        quick=bool(quick),
        seconds=time.perf_counter() - t0,
    )


def evaluation_bytes(ev: StoredEvaluation) -> bytes:
    """The blob stored as artifact ``"evaluation"``: a compressed ``.npz`` of plain arrays and a JSON header."""
    meta = {
        "format": FORMAT,
        "version": ev.version,
        "classes": list(ev.classes),
        "model_kind": ev.model_kind,
        "data": ev.data,
        "quick": ev.quick,
        "seconds": round(float(ev.seconds), 4),
    }
    labels = (
        ev.labels.astype(np.uint8)
        if len(ev.labels) and ev.labels.min() >= 0 and ev.labels.max() < 256
        else ev.labels.astype(np.int64)
    )
    buf = io.BytesIO()
    np.savez_compressed(
        buf,
        meta=np.array(json.dumps(meta)),
        logits=ev.logits.astype(np.float32),
        labels=labels,
        features=ev.features.astype(np.float32),
    )
    return buf.getvalue()


def read_evaluation(blob: Any) -> StoredEvaluation | None:
    """The stored evaluation in ``blob`` (artifact ``"evaluation"``), or None when it is missing, of another
    format, or unreadable (it is then evaluated again). Never unpickles."""
    if not isinstance(blob, (bytes, bytearray, memoryview)):
        return None
    try:
        with np.load(io.BytesIO(bytes(blob)), allow_pickle=False) as npz:
            meta = json.loads(str(npz["meta"][()]))
            if not isinstance(meta, dict) or meta.get("format") != FORMAT:
                return None
            logits, labels, features = (np.asarray(npz[k]) for k in ("logits", "labels", "features"))
        if logits.ndim != 2 or labels.shape != (len(logits),) or features.ndim != 2 or len(features) > len(logits):
            return None
        return StoredEvaluation(
            version=str(meta["version"]),
            logits=logits.astype(np.float32, copy=False),
            labels=labels.astype(np.int64),
            features=features.astype(np.float32, copy=False),
            classes=tuple(str(c) for c in meta["classes"]),
            model_kind=str(meta["model_kind"]),
            data=str(meta["data"]),
            quick=bool(meta["quick"]),
            seconds=float(meta.get("seconds") or 0.0),
        )
    except (ValueError, KeyError, TypeError, OSError, EOFError):
        return None


def load_evaluation(store, run_id: int) -> StoredEvaluation | None:
    """Run ``run_id``'s stored evaluation (of whatever checkpoint version), or None."""
    return read_evaluation(store.load_artifact(int(run_id), EVALUATION_ARTIFACT))


def save_evaluation(store, run_id: int, ev: StoredEvaluation) -> int:
    """Store ``ev`` as run ``run_id``'s artifact ``"evaluation"`` (replacing any older one); its size in bytes."""
    blob = evaluation_bytes(ev)
    store.save_artifact(int(run_id), EVALUATION_ARTIFACT, blob)
    return len(blob)
