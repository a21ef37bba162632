"""What a run records about its embedding each epoch, and the PCA behind it.

``pca`` / ``pca_2d``
    Centre, then the leading singular vectors (eigenvectors of the smaller Gram matrix, the same
    axes as an SVD). Deterministic, with a fixed sign convention: in each principal axis
    (a unit vector in feature space) the entry of largest magnitude is made positive, so the
    same data always gives the same picture (no mirror flips between calls).
``FeatureTap`` / ``pca_snapshot``
    The 2-D PCA of the first test images' features after every epoch (``core.training.runs.execute``
    stores it as the artifact ``"pca"``). ``FeatureTap`` costs no extra forward pass: it records
    the classifier's input during the trainer's own eval-mode test pass.

The rest of the embedding tools (t-SNE, alignment, feature extraction) are in ``core.analysis.embeddings``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol, cast

import numpy as np
import torch
from torch import nn

SNAPSHOT_POINTS = 500  # test images in each per-epoch PCA snapshot
SNAPSHOT_ARTIFACT = "pca"  # the run artifact that holds them, one per epoch


class FeatureModel(Protocol):
    """A model with a penultimate representation: ``features(x)`` (N, D) and the ``classifier`` that reads it."""

    classifier: nn.Module

    def features(self, x: torch.Tensor) -> torch.Tensor: ...


def has_features(model: nn.Module) -> bool:
    """True when the model exposes a penultimate representation (``features``) and a ``classifier``."""
    return callable(getattr(model, "features", None)) and isinstance(getattr(model, "classifier", None), nn.Module)


def device_of(model: nn.Module) -> torch.device:
    try:
        return next(model.parameters()).device
    except StopIteration:
        return torch.device("cpu")


# ----------------------------------------------------------------------------- PCA


@dataclass
class PCAResult:
    coords: np.ndarray  # (n, k) projections of the centred data
    components: np.ndarray  # (k, D) unit principal axes, rows; largest-|entry| of each is positive
    explained_variance: np.ndarray  # (k,) variance along each axis (ddof=1)
    explained_variance_ratio: np.ndarray  # (k,) share of the total variance (0 when the total is 0)
    mean: np.ndarray  # (D,)


def as_matrix(features: Any) -> np.ndarray:
    x = np.asarray(features.detach().cpu() if isinstance(features, torch.Tensor) else features, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"features must be a 2-D array (n, D), got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("features contain NaN or infinity (did the run diverge?)")
    return x


def pca(features: Any, k: int = 2) -> PCAResult:
    """Principal component analysis of the centred data (top singular vectors); deterministic signs.

    Always returns ``k`` columns: missing ones (fewer points or dimensions than ``k``) are zeros.
    """
    x = as_matrix(features)
    n, d = x.shape
    mean = x.mean(axis=0) if n else np.zeros(d)
    xc = x - mean
    coords = np.zeros((n, k))
    components = np.zeros((k, d))
    variance = np.zeros(k)
    total = float((xc**2).sum()) / (n - 1) if n >= 2 else 0.0
    m = min(k, n, d)
    if n >= 2 and m >= 1:
        vt, lam = _top_axes(xc, m)  # (m, D) unit rows, (m,) eigenvalues of Xc^T Xc, descending
        signs = np.sign(vt[np.arange(m), np.argmax(np.abs(vt), axis=1)])
        signs[signs == 0] = 1.0
        vt = vt * signs[:, None]
        components[:m] = vt
        coords[:, :m] = xc @ vt.T
        variance[:m] = np.maximum(lam, 0.0) / (n - 1)
    ratio = variance / total if total > 0 else np.zeros(k)
    return PCAResult(coords.astype(np.float32), components, variance, ratio, mean)


def _top_axes(xc: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``m`` leading right singular vectors (rows) of centred ``xc`` and their squared singular values.

    Eigen-decomposes the smaller of the two Gram matrices (D x D or n x n) for only the top ``m``
    pairs: for 500 x 3,136 features this takes a few milliseconds instead of a full SVD's half second.
    """
    from scipy.linalg import eigh

    n, d = xc.shape
    if d <= n:
        lam, vec = eigh(xc.T @ xc, subset_by_index=[d - m, d - 1])  # ascending
        return vec[:, ::-1].T.copy(), lam[::-1].copy()
    lam, u = eigh(xc @ xc.T, subset_by_index=[n - m, n - 1])
    lam, u = lam[::-1].copy(), u[:, ::-1]
    vt = (xc.T @ u).T  # rows = Xc^T u_i = s_i v_i
    norms = np.linalg.norm(vt, axis=1, keepdims=True)
    vt = np.where(norms > 0, vt / np.where(norms > 0, norms, 1.0), 0.0)
    return vt, lam


def pca_2d(features: Any) -> np.ndarray:
    """(n, D) -> (n, 2): the first two principal coordinates (float32), signs as in :func:`pca`."""
    return pca(features, k=2).coords


# ----------------------------------------------------------------------------- per-epoch snapshot


def pca_snapshot(
    model: nn.Module, batches: Iterable[tuple[Any, torch.Tensor]], limit: int = SNAPSHOT_POINTS
) -> dict[str, Any] | None:
    """``{"xy": [[x, y], ...], "labels": [...]}``: 2-D PCA of the features of the first ``limit`` items.

    ``batches`` is iterated only until ``limit`` items are seen (an unshuffled test ``Batches``:
    the same images every epoch). ``None`` for a model without ``features`` or with non-finite
    features. No random numbers are drawn, so training is unaffected; the model's mode is restored.
    """
    if not has_features(model) or limit <= 0:
        return None
    device, was_training = device_of(model), model.training
    feats, labels, seen = [], [], 0
    try:
        model.eval()
        with torch.no_grad():
            for x, y in batches:
                f = cast(FeatureModel, model).features(x.to(device)).float().flatten(1)  # has_features said so
                take = min(len(f), limit - seen)
                feats.append(f[:take].cpu())
                labels.append(y[:take].cpu())
                seen += take
                if seen >= limit:
                    break
    finally:
        model.train(was_training)
    if not feats:
        return None
    return _snapshot_dict(torch.cat(feats), torch.cat(labels).tolist())


def _snapshot_dict(features: torch.Tensor, labels: Any) -> dict[str, Any] | None:
    if len(features) == 0 or not torch.isfinite(features).all():
        return None
    xy = np.round(pca_2d(features.numpy()).astype(np.float64), 4)
    return {"xy": xy.tolist(), "labels": [int(v) for v in list(labels)[: len(features)]]}


class FeatureTap:
    """Records the features of the first ``limit`` items of the latest eval-mode pass, for free.

    A forward pre-hook on ``model.classifier`` keeps its input (the penultimate features) while the
    model is in eval mode, i.e. during the trainer's test evaluation; a train-mode call marks the
    next eval pass as a new one. :meth:`snapshot` turns what was recorded into a PCA snapshot. Does
    nothing for a model without ``features`` / ``classifier``. Call :meth:`close` to remove the hook.
    """

    def __init__(self, model: nn.Module, limit: int = SNAPSHOT_POINTS):
        self.limit = int(limit)
        self._rows: list[torch.Tensor] = []
        self._count = 0
        self._fresh = True
        self._handle = (
            cast(FeatureModel, model).classifier.register_forward_pre_hook(self._hook) if has_features(model) else None
        )

    def _hook(self, module: nn.Module, args: tuple) -> None:
        if module.training:
            self._fresh = True
            return
        if self._fresh:
            self._rows, self._count, self._fresh = [], 0, False
        if self._count >= self.limit or not args or not isinstance(args[0], torch.Tensor):
            return
        f = args[0][: self.limit - self._count].detach().float().flatten(1).cpu()
        self._rows.append(f)
        self._count += len(f)

    def snapshot(self, labels: Any) -> dict[str, Any] | None:
        """``{"xy", "labels"}`` of the recorded features (``labels``: the unshuffled test labels), or None."""
        if not self._rows:
            return None
        features = torch.cat(self._rows)
        if isinstance(labels, torch.Tensor):
            labels = labels[: len(features)].tolist()
        return _snapshot_dict(features, labels)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None


def stored_snapshots(store, run_id: int) -> list[dict[str, Any]]:
    """Run ``run_id``'s per-epoch PCA snapshots from ``store``, oldest first: ``{"epoch", "xy", "labels", ...}``."""
    out = []
    for art in store.list_artifacts(run_id, name=SNAPSHOT_ARTIFACT):
        if art["epoch"] is None:
            continue
        data = store.load_artifact(run_id, SNAPSHOT_ARTIFACT, epoch=art["epoch"])
        if isinstance(data, dict) and data.get("xy"):
            out.append({"epoch": art["epoch"], **data})
    return out
