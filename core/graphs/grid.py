"""Pixel-lattice graphs: every pixel is a node, edges join touching pixels.

Also home of the lattice helpers the other pixel builders share (node positions, exact
pairwise distances, dense mask -> edge list, and the one edge index every dense graph of N nodes shares).
"""

from __future__ import annotations

import functools
import threading
import weakref

import numpy as np
import torch

from core.errors import UserInputError
from core.graphs.base import Graph


def check_size(size: int) -> None:
    """Raise ``UserInputError("size", ...)`` unless ``size`` is an integer >= 2."""
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 2:
        raise UserInputError("size", f"must be an integer >= 2, got {size!r}")


def pixel_positions(size: int) -> np.ndarray:
    """(N, 2) int64 pixel coordinates (x=col, y=row) of a ``size x size`` image in row-major
    order, so node ``n = row * size + col``."""
    rows, cols = np.divmod(np.arange(size * size), size)  # (N,), (N,)
    return np.stack([cols, rows], axis=1)  # (N, 2)


def pairwise_offsets(pos: np.ndarray) -> np.ndarray:
    """(N, N, 2) offsets ``pos[i] - pos[j]`` (exact for integer ``pos``)."""
    return pos[:, None, :] - pos[None, :, :]  # (N, N, 2)


@functools.lru_cache(maxsize=4)
def pixel_dist2(size: int) -> np.ndarray:
    """(N, N) squared pixel distances between the pixels of a ``size x size`` image, exact integers, read-only.

    Kept per size (1.2 MB at 28 x 28 in int16, int32 past 129 pixels a side): the Graph Builder's k and sigma
    steps reuse it instead of the (N, N, 2) offsets (9.8 MB, the most of a k-NN graph's build)."""
    d2 = (pairwise_offsets(pixel_positions(size)) ** 2).sum(-1)  # (N, N) int64
    d2 = d2.astype(np.int16 if 2 * (size - 1) ** 2 <= np.iinfo(np.int16).max else np.int32)
    d2.setflags(write=False)
    return d2


# One (2, N (N - 1)) edge index per N while any graph holds it (a weak cache): every dense graph of N nodes (complete,
# a Gaussian kernel without sparsification, ...) shares it, so a new sigma costs its weights, not 9.8 MB of indices.
_COMPLETE: weakref.WeakValueDictionary[tuple[int, bool], torch.Tensor] = weakref.WeakValueDictionary()
_COMPLETE_LOCK = threading.Lock()


def complete_edge_index(n: int, self_loops: bool = False) -> torch.Tensor:
    """(2, N (N - 1)) int64 edge index of every pair i != j, sorted by (target i, source j) as ``dense_to_graph``
    writes it; with ``self_loops``, then (i, i) for each node in order, as ``normalize`` appends them.

    Shared and read-only: the same tensor for every caller while any graph holds it (never write into it)."""
    with _COMPLETE_LOCK:
        index = _COMPLETE.get((n, self_loops))
        if index is None:
            if self_loops:
                loops = torch.arange(n, dtype=torch.long).repeat(2, 1)  # (2, N)
                index = torch.cat([_plain_complete(n), loops], dim=1)  # (2, N^2)
            else:
                index = _plain_complete(n)
            _COMPLETE[(n, self_loops)] = index
        return index


def _plain_complete(n: int) -> torch.Tensor:
    """``complete_edge_index(n)`` for a caller that holds the lock (builds it when no graph holds it)."""
    index = _COMPLETE.get((n, False))
    if index is None:
        tgt, src = np.nonzero(~np.eye(n, dtype=bool))  # (E,), (E,) row-major: by target, then source
        index = torch.as_tensor(np.stack([src, tgt]), dtype=torch.long)  # (2, E)
        _COMPLETE[(n, False)] = index
    return index


def is_complete_edge_index(edge_index: torch.Tensor, n: int) -> bool:
    """True when ``edge_index`` is the shared ``complete_edge_index(n)`` itself (the same tensor, not a copy)."""
    with _COMPLETE_LOCK:
        return _COMPLETE.get((n, False)) is edge_index


def dense_to_graph(
    mask: np.ndarray,  # (N, N) bool, mask[i, j] = keep edge j -> i
    weight: np.ndarray | None,  # (N, N) float, or None for weight 1
    pos: np.ndarray,  # (N, 2) (x=col, y=row)
    kind: str,
    params: dict,
    x: torch.Tensor | None = None,
    segments: np.ndarray | None = None,
) -> Graph:
    """Turn a dense edge mask into a :class:`Graph`. Edges come out sorted by (target i, source j).

    A mask of every pair i != j (a dense graph) gets the shared ``complete_edge_index``."""
    n = int(mask.shape[0])
    kept = int(mask.sum())
    if n > 1 and kept == n * (n - 1) and not mask.diagonal().any():
        edge_index = complete_edge_index(n)  # (2, E) shared
    else:
        tgt, src = np.nonzero(mask)  # (E,), (E,)
        edge_index = torch.as_tensor(np.stack([src, tgt]), dtype=torch.long)  # (2, E)
    w = np.ones(kept) if weight is None else weight[mask]  # (E,) in the same row-major order as np.nonzero
    return Graph(
        edge_index=edge_index,
        edge_weight=torch.as_tensor(w, dtype=torch.float32),  # (E,)
        num_nodes=n,
        pos=torch.as_tensor(pos, dtype=torch.float32),  # (N, 2)
        kind=kind,
        params=params,
        x=x,
        segments=segments,
    )


def grid(size: int = 28, neighbours: int = 8) -> Graph:
    r"""The regular pixel grid of a ``size x size`` image.

    Nodes are pixels in row-major order (``node = row * size + col``), ``pos = (col, row)``.
    With :math:`p_i` the integer pixel coordinates,

    .. math::
        A_{ij} = 1 \ \text{if}\ \lVert p_i - p_j \rVert_1 = 1 \quad (4\text{-neighbour}), \qquad
        A_{ij} = 1 \ \text{if}\ \lVert p_i - p_j \rVert_\infty = 1 \quad (8\text{-neighbour}),

    else 0. Both directions are stored, no self-loops. A ``28 x 28`` 8-neighbour grid has
    784 nodes and 5,940 directed edges.

    Args:
        size: image side in pixels; ``N = size**2`` nodes.
        neighbours: 4 (up/down/left/right) or 8 (also the diagonals).

    Returns:
        Graph with ``edge_index`` (2, E), ``edge_weight`` (E,) of ones, ``pos`` (N, 2).
    """
    check_size(size)
    if neighbours not in (4, 8):
        raise UserInputError("neighbours", f"must be 4 or 8, got {neighbours!r}")
    pos = pixel_positions(size)  # (N, 2)
    off = np.abs(pairwise_offsets(pos))  # (N, N, 2)
    dist = off.sum(-1) if neighbours == 4 else off.max(-1)  # (N, N) L1 or L-inf distance
    return dense_to_graph(dist == 1, None, pos, "grid", {"size": int(size), "neighbours": int(neighbours)})


def complete(size: int = 28) -> Graph:
    r"""Every pair of pixels: the dense graph of the graph-convolution tutorial's learned edges.

    :math:`A_{ij} = 1` for all :math:`i \neq j` (both directions, no self-loops), so a ``28 x 28`` image
    gives 784 nodes and 784 * 783 = 613,872 edges. A layer that learns its own edge weights
    (``LearnedEdgeConv``) can then learn any filter shape over the whole image.

    Args:
        size: image side in pixels; ``N = size**2`` nodes.

    Returns:
        Graph with ``edge_index`` (2, N (N - 1)), ``edge_weight`` of ones, ``pos`` (N, 2).
    """
    check_size(size)
    n = size * size
    return dense_to_graph(~np.eye(n, dtype=bool), None, pixel_positions(size), "complete", {"size": int(size)})
