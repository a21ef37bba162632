"""Penultimate-layer embeddings of a trained model, and their 2-D maps (PCA, t-SNE).

Every model exposes ``features(x) -> (B, D)``, the representation its classifier reads
(``forward(x) == classifier(features(x))``). This module extracts it and projects it to 2-D:

``pca_2d``
    Deterministic PCA (from ``core.training.snapshots``, which runs use for their per-epoch
    snapshots, so it sits below this module; imported here for the pages).
``tsne_2d``
    scikit-learn's t-SNE, seeded, initialised from PCA; the features are first reduced to at
    most 50 dimensions by the same PCA (standard practice; faster, and less noisy).
``align_2d``
    Orthogonal Procrustes: turns / mirrors one 2-D map onto another of the same points, so the
    per-epoch PCA snapshots of a run animate smoothly instead of jumping when axes flip or swap.

No streamlit here.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import torch
from torch import nn

from core.training.evaluation import batch_outputs  # noqa: F401  (one pass over batches; runs store it too)
from core.training.snapshots import FeatureModel, as_matrix, device_of, has_features, pca, pca_2d

TSNE_PCA_DIMS = 50  # features are reduced to this many PCA dimensions before t-SNE


# ----------------------------------------------------------------------------- feature extraction


def penultimate_features(model: nn.Module, images: Any, batch_size: int = 500) -> np.ndarray:
    """``model.features`` of ``images`` ((n, H, W) or (n, 1, H, W), tensor or array): float32 (n, D).

    Runs in eval mode under ``no_grad`` on the model's device; the model's train/eval mode is restored.
    Image models only (superpixel models take PyG batches: use :func:`batch_outputs`).
    """
    if not has_features(model):
        raise TypeError(f"{type(model).__name__} has no penultimate features (no .features / .classifier)")
    x = torch.as_tensor(np.asarray(images) if not isinstance(images, torch.Tensor) else images).float()
    if x.dim() == 3:
        x = x.unsqueeze(1)  # (n, 1, H, W)
    if x.dim() != 4:
        raise ValueError(f"images must be (n, H, W) or (n, 1, H, W), got shape {tuple(x.shape)}")
    device, was_training = device_of(model), model.training
    out: list[torch.Tensor] = []
    try:
        model.eval()
        with torch.no_grad():
            for start in range(0, len(x), max(1, int(batch_size))):
                features = cast(FeatureModel, model).features(x[start : start + batch_size].to(device))  # has_features
                out.append(features.float().flatten(1).cpu())
    finally:
        model.train(was_training)
    if not out:
        return np.zeros((0, 0), dtype=np.float32)
    return torch.cat(out).numpy()


# ----------------------------------------------------------------------------- t-SNE


def tsne_2d(features: Any, perplexity: float = 30.0, seed: int = 0, max_iter: int = 1000) -> np.ndarray:
    """(n, D) -> (n, 2) t-SNE map (float32), seeded and PCA-initialised: same input, same output.

    The features are reduced by :func:`pca` to at most 50 dimensions first. ``perplexity`` is lowered
    to ``(n - 1) / 3`` when there are too few points for it; fewer than 5 points fall back to PCA.
    Cost grows as n log n: keep n to a few thousand (the Results page uses at most 1,000).
    """
    from sklearn.manifold import TSNE

    x = as_matrix(features)
    n = len(x)
    if n < 5:
        return pca_2d(x)
    reduced = pca(x, k=min(TSNE_PCA_DIMS, x.shape[1])).coords.astype(np.float64)
    if not np.any(reduced):  # all points identical
        return np.zeros((n, 2), np.float32)
    perp = float(min(perplexity, max(1.0, (n - 1) / 3.0)))
    tsne = TSNE(
        n_components=2,
        perplexity=perp,
        init="pca",
        learning_rate="auto",
        random_state=int(seed),
        max_iter=max(250, int(max_iter)),
        n_jobs=1,
    )
    return tsne.fit_transform(reduced).astype(np.float32)


# ----------------------------------------------------------------------------- alignment


def align_2d(coords: Any, reference: Any) -> np.ndarray:
    """Rotate / mirror ``coords`` (n, 2) about its centre to best match ``reference`` (n, 2), same points.

    Orthogonal Procrustes (no scaling), so distances within ``coords`` are unchanged.
    """
    a = np.asarray(coords, dtype=np.float64)
    b = np.asarray(reference, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 2 or len(a) < 2:
        return a.astype(np.float32)
    ca, cb = a - a.mean(0), b - b.mean(0)
    u, _, vt = np.linalg.svd(ca.T @ cb)
    return (ca @ (u @ vt) + a.mean(0)).astype(np.float32)


def align_sequence(frames: list[Any]) -> list[np.ndarray]:
    """Align each 2-D map of the same points to the one before it (the first is kept as is)."""
    out: list[np.ndarray] = []
    for frame in frames:
        f = np.asarray(frame, dtype=np.float32)
        out.append(align_2d(f, out[-1]) if out and out[-1].shape == f.shape else f)
    return out
