"""Gaussian-kernel graphs on normalised pixel coordinates (Defferrard et al.'s MNIST graph)."""

from __future__ import annotations

import numpy as np
import torch

from core.errors import UserInputError
from core.graphs.base import Graph
from core.graphs.grid import check_size, complete_edge_index, dense_to_graph, pixel_dist2, pixel_positions
from core.graphs.knn import check_k, check_sigma, gaussian_weights, pixel_knn_mask


def gaussian(
    size: int = 28,
    sigma: float = 0.05,
    cutoff: float | None = None,
    topk: int | None = None,
) -> Graph:
    r"""Fully connected graph of the pixels with Gaussian-kernel weights.

    Pixel coordinates are normalised to ``[0, 1]``: :math:`p_i = (\text{col}, \text{row}) / (\text{size} - 1)`,
    and with :math:`d_{ij} = \lVert p_i - p_j \rVert_2`

    .. math::
        A_{ij} = \exp\!\left(-\frac{d_{ij}^2}{\sigma^2}\right) \quad (i \neq j), \qquad A_{ii} = 0.

    The distance is squared (a widely copied tutorial uses :math:`d_{ij}` unsquared).
    Two horizontally adjacent pixels of a ``3 x 3`` image have :math:`d = 0.5`, so
    :math:`A_{ij} = e^{-0.25/\sigma^2}`. Without sparsification there are ``N (N - 1)`` edges
    (weights that underflow to 0 are kept as edges).

    Sparsification (both optional, applied together):
        * ``topk``: keep each node's ``topk`` largest weights (= nearest pixels, ties broken by
          node index), then symmetrise as the union of i -> j and j -> i;
        * ``cutoff``: drop edges whose weight is below ``cutoff``.

    Args:
        size: image side in pixels; ``N = size**2`` nodes.
        sigma: kernel bandwidth in normalised units, > 0.
        cutoff: minimum kept weight in ``[0, 1]``, or ``None``.
        topk: neighbours kept per node, ``1 <= topk < N``, or ``None``.

    Returns:
        Graph with ``edge_index`` (2, E), ``edge_weight`` (E,), ``pos`` (N, 2) in pixels.
    """
    check_size(size)
    check_sigma(sigma)
    n = size * size
    if cutoff is not None and (
        isinstance(cutoff, bool) or not isinstance(cutoff, (int, float, np.number)) or not 0.0 <= cutoff <= 1.0
    ):
        raise UserInputError("cutoff", f"must be a number in [0, 1], got {cutoff!r}")
    if topk is not None:
        check_k(topk, n, name="topk")
    pos = pixel_positions(size)  # (N, 2)
    dist2 = pixel_dist2(size)  # (N, N) squared pixel distances, exact integers (cached per size)
    params = {
        "size": int(size),
        "sigma": float(sigma),
        "cutoff": None if cutoff is None else float(cutoff),
        "topk": None if topk is None else int(topk),
    }
    if cutoff is None and topk is None:  # every pair: the weights off the diagonal, in dense_to_graph's order
        off = ~np.eye(n, dtype=bool)  # (N, N)
        weight = gaussian_weights(dist2[off] / (size - 1) ** 2, sigma)  # (N (N - 1),) the same values, elementwise
        return Graph(
            edge_index=complete_edge_index(n),
            edge_weight=torch.as_tensor(weight, dtype=torch.float32),
            num_nodes=n,
            pos=torch.as_tensor(pos, dtype=torch.float32),
            kind="gaussian",
            params=params,
        )
    weight = gaussian_weights(dist2 / (size - 1) ** 2, sigma)  # (N, N), normalised coordinates
    mask = ~np.eye(n, dtype=bool)  # (N, N) all pairs i != j
    if topk is not None:
        mask &= pixel_knn_mask(size, topk)
    if cutoff is not None:
        mask &= weight >= cutoff
    return dense_to_graph(mask, weight, pos, "gaussian", params)
