"""k-nearest-neighbour graphs on pixel coordinates."""

from __future__ import annotations

import functools

import numpy as np

from core.errors import UserInputError
from core.graphs.base import Graph
from core.graphs.grid import check_size, dense_to_graph, pixel_dist2, pixel_positions


def knn_mask(dist2: np.ndarray, k: int) -> np.ndarray:
    r"""Symmetrised k-NN mask from an (N, N) matrix of squared distances.

    ``mask[i, j]`` is True when :math:`j \in \mathcal{N}_k(i)` or :math:`i \in \mathcal{N}_k(j)`,
    where :math:`\mathcal{N}_k(i)` are the ``k`` nodes closest to ``i`` other than ``i`` itself.
    Ties are broken by node index (a stable sort), so the result is deterministic.
    """
    n = dist2.shape[0]
    d = np.array(dist2, dtype=np.float64)  # (N, N) copy
    np.fill_diagonal(d, np.inf)  # a node is never its own neighbour
    nearest = np.argsort(d, axis=1, kind="stable")[:, :k]  # (N, k)
    mask = np.zeros((n, n), dtype=bool)
    mask[np.arange(n)[:, None], nearest] = True  # row i: j in N_k(i)
    return mask | mask.T  # union of i -> j and j -> i


@functools.lru_cache(maxsize=4)
def nearest_order(size: int) -> np.ndarray:
    """(N, N - 1) every pixel's other pixels, nearest first (ties by node index), read-only; kept per size (int16
    at 28 x 28: 1.2 MB), so a k-NN graph of any k is a slice of it: ``knn_mask`` without the (N, N) sort."""
    d = pixel_dist2(size).astype(np.float64)  # (N, N)
    np.fill_diagonal(d, np.inf)  # a node is never its own neighbour
    n = size * size
    order = np.argsort(d, axis=1, kind="stable")[:, : n - 1]  # as knn_mask sorts
    order = order.astype(np.int16 if n <= np.iinfo(np.int16).max else np.int32)
    order.setflags(write=False)
    return order


def pixel_knn_mask(size: int, k: int) -> np.ndarray:
    """``knn_mask(pixel_dist2(size), k)``, from the cached ``nearest_order``."""
    n = size * size
    mask = np.zeros((n, n), dtype=bool)
    mask[np.arange(n)[:, None], nearest_order(size)[:, :k]] = True  # row i: j in N_k(i)
    return mask | mask.T  # union of i -> j and j -> i


def gaussian_weights(dist2: np.ndarray, sigma: float) -> np.ndarray:
    r"""(N, N) :math:`\exp(-d_{ij}^2 / \sigma^2)` from squared distances ``dist2``."""
    return np.exp(-dist2 / sigma**2)


def check_sigma(sigma: float) -> None:
    if isinstance(sigma, bool) or not isinstance(sigma, (int, float, np.number)) or not sigma > 0:
        raise UserInputError("sigma", f"must be a number > 0, got {sigma!r}")


def check_k(k: int, n: int, name: str = "k") -> None:
    """Raise ``UserInputError(name, ...)`` unless ``1 <= k < n``."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise UserInputError(name, f"must be an integer >= 1, got {k!r}")
    if k >= n:
        raise UserInputError(name, f"{name}={k} must be smaller than the number of nodes N={n}")


def knn(size: int = 28, k: int = 8, sigma: float | None = None) -> Graph:
    r"""k-nearest-neighbour graph of the pixels of a ``size x size`` image.

    With :math:`\mathcal{N}_k(i)` the ``k`` pixels closest to pixel ``i`` (Euclidean distance on
    pixel coordinates, self excluded, ties broken by node index),

    .. math::
        A_{ij} = w_{ij} \ \text{if}\ j \in \mathcal{N}_k(i) \ \text{or}\ i \in \mathcal{N}_k(j),
        \qquad w_{ij} = 1 \ \text{or}\ \exp\!\left(-\frac{d_{ij}^2}{\sigma^2}\right),

    where the Gaussian weight (when ``sigma`` is given) uses coordinates normalised to
    ``[0, 1]`` (``col / (size - 1)``, ``row / (size - 1)``), as :func:`gaussian` does. The union
    makes the graph symmetric, so a node can have more than ``k`` neighbours.

    Args:
        size: image side in pixels; ``N = size**2`` nodes.
        k: neighbours per node, ``1 <= k < N``.
        sigma: Gaussian bandwidth in normalised units; ``None`` for unit weights.

    Returns:
        Graph with ``edge_index`` (2, E), ``edge_weight`` (E,), ``pos`` (N, 2).
    """
    check_size(size)
    check_k(k, size * size)
    if sigma is not None:
        check_sigma(sigma)
    pos = pixel_positions(size)  # (N, 2)
    dist2 = pixel_dist2(size)  # (N, N) exact integers, so ties are exact
    weight = None if sigma is None else gaussian_weights(dist2 / (size - 1) ** 2, sigma)
    params = {"size": int(size), "k": int(k), "sigma": None if sigma is None else float(sigma)}
    return dense_to_graph(pixel_knn_mask(size, k), weight, pos, "knn", params)
