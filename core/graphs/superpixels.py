"""Superpixel graphs: SLIC regions of one image become the nodes (Monti et al.'s MoNet MNIST)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from skimage.segmentation import slic

from core.errors import UserInputError
from core.graphs.base import Graph
from core.graphs.grid import dense_to_graph
from core.graphs.knn import knn_mask

EDGE_MODES = ("knn", "rag")
WEIGHT_MODES = ("gaussian", "unit")


def _as_gray_image(image: Any) -> np.ndarray:
    """(H, W) float64 in [0, 1]; values above 1 are read as 0..255 and divided by 255."""
    if image is None:
        raise UserInputError("image", "a superpixel graph needs an image")
    try:
        img = np.asarray(image, dtype=np.float64)
    except (TypeError, ValueError):
        raise UserInputError("image", "must be a numeric (H, W) array") from None
    if img.ndim != 2 or min(img.shape) < 2:
        raise UserInputError("image", f"must be a 2-D (H, W) grayscale array with H, W >= 2, got shape {img.shape}")
    if not np.isfinite(img).all() or img.min() < 0 or img.max() > 255:
        raise UserInputError("image", "values must be finite and in [0, 1] or 0..255")
    return img / 255.0 if img.max() > 1.0 else img


def _region_adjacency(labels: np.ndarray, n: int) -> np.ndarray:
    """(N, N) bool: regions that touch in the label map (4-connectivity)."""
    mask = np.zeros((n, n), dtype=bool)
    for a, b in ((labels[:, :-1], labels[:, 1:]), (labels[:-1, :], labels[1:, :])):  # horizontal, vertical
        touch = a != b
        mask[a[touch], b[touch]] = True
    return mask | mask.T


def local_sigma(dist: np.ndarray, k: int) -> np.ndarray:
    """(N, 1) each row's mean distance to its ``k`` nearest others (Benchmarking GNNs' adaptive width)."""
    n = dist.shape[0]
    k = max(1, min(k, n - 1))
    nearest = np.sort(dist, axis=1)[:, 1 : k + 1]  # (N, k), column 0 is the node itself
    return nearest.mean(axis=1, keepdims=True) + 1e-8


def gaussian_affinity(pos: np.ndarray, intensity: np.ndarray, k: int) -> np.ndarray:
    r"""(N, N) symmetric affinity of Dwivedi et al.'s superpixel graphs, zero on the diagonal:

    .. math::
        A_{st} = \tfrac12\big(K_{st} + K_{ts}\big), \quad
        K_{st} = \exp\!\Big(-\big(\tfrac{\lVert c_s - c_t \rVert}{\sigma^c_s}\big)^2
                          -\big(\tfrac{|I_s - I_t|}{\sigma^I_s}\big)^2\Big)

    with :math:`\sigma_s` node s's mean distance to its ``k`` nearest (in position, in intensity).
    """
    dc = np.sqrt(((pos[:, None, :] - pos[None, :, :]) ** 2).sum(-1))  # (N, N) centroid distances
    di = np.abs(intensity[:, None] - intensity[None, :])  # (N, N) intensity differences
    kern = np.exp(-((dc / local_sigma(dc, k)) ** 2) - (di / local_sigma(di, k)) ** 2)
    a = 0.5 * (kern + kern.T)
    np.fill_diagonal(a, 0.0)
    return a


def superpixels(
    image: np.ndarray,
    segments: int = 75,
    compactness: float = 0.25,
    k: int = 8,
    edges: str = "knn",
    weights: str = "gaussian",
) -> Graph:
    r"""Superpixel graph of one grayscale image.

    SLIC (``skimage.segmentation.slic``, ``channel_axis=None``) splits the image into about
    ``segments`` regions :math:`R_s`; every region is a node with features

    .. math::
        x_s = \Big(\tfrac{1}{|R_s|}\textstyle\sum_{p \in R_s} I(p),\
        \tfrac{\bar c_s}{W - 1},\ \tfrac{\bar r_s}{H - 1}\Big)

    (mean intensity in [0, 1], normalised centroid column and row) and position
    :math:`(\bar c_s, \bar r_s)` in pixels. Edges, in both directions:

    * ``"knn"``: an edge if :math:`t \in \mathcal{N}_k(s)` or :math:`s \in \mathcal{N}_k(t)`, nearest by
      Euclidean distance between centroids, or by affinity when ``weights="gaussian"`` (as Dwivedi et al.);
      ``k`` is capped at ``N - 1``;
    * ``"rag"``: :math:`A_{st} = 1` if regions ``s`` and ``t`` share a pixel border (4-connectivity).

    ``weights="gaussian"`` weighs each edge by :func:`gaussian_affinity` (position and intensity, the
    Benchmarking-GNNs recipe, in (0, 1]); ``"unit"`` gives every edge weight 1.

    SLIC may return fewer or more regions than asked: on 28 x 28 MNIST digits the default
    ``segments=75, compactness=0.25`` gives about 73 (69 to 80). Lower ``compactness`` follows
    intensity edges more closely; higher gives square, grid-like regions.

    Args:
        image: (H, W) grayscale, floats in [0, 1] or 0..255.
        segments: approximate number of regions, >= 2.
        compactness: SLIC's trade-off between intensity and space, > 0.
        k: neighbours per node for ``edges="knn"``.
        edges: ``"knn"`` or ``"rag"`` (region adjacency).
        weights: ``"gaussian"`` or ``"unit"``.

    Returns:
        Graph with ``x`` (N, 3), ``pos`` (N, 2), ``edge_index`` (2, E), ``edge_weight`` (E,) and
        ``segments`` (H, W) int64 label map with labels ``0 .. N-1``.
    """
    img = _as_gray_image(image)  # (H, W)
    if isinstance(segments, bool) or not isinstance(segments, (int, np.integer)) or segments < 2:
        raise UserInputError("segments", f"must be an integer >= 2, got {segments!r}")
    if isinstance(compactness, bool) or not isinstance(compactness, (int, float, np.number)) or not compactness > 0:
        raise UserInputError("compactness", f"must be a number > 0, got {compactness!r}")
    if edges not in EDGE_MODES:
        raise UserInputError("edges", f"must be one of {', '.join(EDGE_MODES)}, got {edges!r}")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise UserInputError("k", f"must be an integer >= 1, got {k!r}")
    if weights not in WEIGHT_MODES:
        raise UserInputError("weights", f"must be one of {', '.join(WEIGHT_MODES)}, got {weights!r}")

    raw = slic(img, n_segments=int(segments), compactness=float(compactness), channel_axis=None, start_label=0)
    _, labels = np.unique(raw, return_inverse=True)  # relabel to 0 .. N-1
    labels = labels.reshape(img.shape).astype(np.int64)  # (H, W)
    n = int(labels.max()) + 1
    h, w = img.shape
    rows, cols = np.indices(img.shape)  # (H, W) each
    count = np.bincount(labels.ravel(), minlength=n)  # (N,)
    mean = np.bincount(labels.ravel(), weights=img.ravel(), minlength=n) / count  # (N,)
    cx = np.bincount(labels.ravel(), weights=cols.ravel(), minlength=n) / count  # (N,)
    cy = np.bincount(labels.ravel(), weights=rows.ravel(), minlength=n) / count  # (N,)
    pos = np.stack([cx, cy], axis=1)  # (N, 2) pixels
    x = torch.as_tensor(np.stack([mean, cx / (w - 1), cy / (h - 1)], axis=1), dtype=torch.float32)  # (N, 3)

    weight = gaussian_affinity(pos, mean, int(k)) if weights == "gaussian" else None  # (N, N) or None
    if edges == "rag":
        mask = _region_adjacency(labels, n)
    else:
        dist2 = ((pos[:, None, :] - pos[None, :, :]) ** 2).sum(-1)  # (N, N)
        if weight is not None:  # nearest in affinity (as Dwivedi et al.), ties broken by distance
            dist2 = (1.0 - weight) + 1e-6 * dist2 / max(float(dist2.max()), 1e-12)
        mask = knn_mask(dist2, min(int(k), n - 1))
    params = {
        "segments": int(segments),
        "compactness": float(compactness),
        "k": int(k),
        "edges": edges,
        "weights": weights,
    }
    return dense_to_graph(mask, weight, pos, "superpixels", params, x=x, segments=labels)
