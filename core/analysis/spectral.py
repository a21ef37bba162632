r"""The spectral view of a graph: Laplacian eigenvectors, graph Fourier transforms, Chebyshev filters.

Laplacians (``A[i, j]`` = weight of edge j -> i, ``D`` = diag of the row sums, as everywhere else):

- ``"sym"``:  :math:`L = I - D^{-1/2} A D^{-1/2}`, eigenvalues in [0, 2]; a node without edges keeps
  :math:`L_{ii} = 1` (the convention of ``ChebConv``'s ``"cheb"`` normalisation, so the layer and
  these eigenvectors agree exactly).
- ``"comb"``: the combinatorial :math:`L = D - A`, eigenvalues in [0, 2 max degree].

``laplacian_eigenvectors`` returns the ``k`` smallest eigenpairs, ascending. Up to
``DENSE_MAX_NODES`` nodes it takes a dense ``numpy.linalg.eigh`` of the whole matrix (784 pixels: a
fraction of a second) and caches the full decomposition per graph (keyed by a hash of its edges), so
asking for more eigenvectors, or a Fourier transform, costs nothing more. Larger graphs use
``scipy.sparse.linalg.eigsh`` for the ``k`` pairs only. Signs are fixed: each eigenvector's
largest-magnitude entry is positive (the first one, constant on a connected graph for ``comb``, is
then positive everywhere).

A ChebConv filter of order K acts on the graph spectrum as the polynomial
:math:`g(\lambda) = \sum_{k<K} \theta_k T_k(2\lambda/\lambda_{max} - 1)` (one per input/output channel
pair; :math:`\tilde L = 2L/\lambda_{max} - I` has the same eigenvectors as L), which
``cheb_frequency_response`` evaluates from the layer's weights.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np
import torch

from core.errors import UserInputError
from core.graphs.base import Graph
from core.training.store import Run, as_run

LAPLACIANS: dict[str, str] = {  # name -> LaTeX shown in the UI
    "sym": r"L = I - D^{-1/2} A D^{-1/2}",
    "comb": r"L = D - A",
}
DENSE_MAX_NODES = 1000
_CACHE_SIZE = 8
_cache: OrderedDict[tuple, tuple[np.ndarray, np.ndarray]] = OrderedDict()
_cache_lock = threading.Lock()


# ----------------------------------------------------------------------------- Laplacians


def _check_norm(norm: str) -> None:
    if norm not in LAPLACIANS:
        raise UserInputError("norm", f"unknown Laplacian {norm!r} (choose from {', '.join(LAPLACIANS)})")


def _adjacency(graph: Graph) -> np.ndarray:
    """(N, N) float64 dense adjacency, symmetrised when the graph is not (the Laplacian must be)."""
    a = graph.to_dense().double().numpy()
    if not np.allclose(a, a.T, atol=1e-9):
        a = 0.5 * (a + a.T)
    return a


def laplacian(graph: Graph, norm: str = "sym") -> np.ndarray:
    """(N, N) float64 dense Laplacian ``norm`` ("sym" or "comb") of ``graph`` (see the module doc)."""
    _check_norm(norm)
    a = _adjacency(graph)
    deg = a.sum(axis=1)
    if norm == "comb":
        return np.diag(deg) - a
    inv = np.where(deg > 0, 1.0 / np.sqrt(np.where(deg > 0, deg, 1.0)), 0.0)
    return np.eye(len(a)) - inv[:, None] * a * inv[None, :]


def _fix_signs(vecs: np.ndarray) -> np.ndarray:
    """Flip each column so that its largest-magnitude entry (the first such) is positive."""
    idx = np.argmax(np.abs(vecs), axis=0)
    signs = np.sign(vecs[idx, np.arange(vecs.shape[1])])
    signs[signs == 0] = 1.0
    return vecs * signs


def _graph_key(graph: Graph, norm: str) -> tuple:
    h = hashlib.sha1()
    h.update(np.ascontiguousarray(graph.edge_index.cpu().numpy().astype(np.int64)).tobytes())
    h.update(np.ascontiguousarray(graph.edge_weight.detach().cpu().numpy().astype(np.float64)).tobytes())
    return (int(graph.num_nodes), norm, h.hexdigest())


def _full_decomposition(graph: Graph, norm: str) -> tuple[np.ndarray, np.ndarray]:
    """All eigenpairs (ascending, fixed signs) of a graph with at most DENSE_MAX_NODES nodes, cached."""
    key = _graph_key(graph, norm)
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    vals, vecs = np.linalg.eigh(laplacian(graph, norm))
    vals = np.clip(vals, 0.0, None) if norm == "comb" else np.clip(vals, 0.0, 2.0)  # round-off only
    out = (vals, _fix_signs(vecs))
    for arr in out:
        arr.flags.writeable = False
    with _cache_lock:
        _cache[key] = out
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return out


def _sparse_smallest(graph: Graph, k: int, norm: str) -> tuple[np.ndarray, np.ndarray]:
    """The k smallest eigenpairs of a large graph: largest of ``c I - L`` (c bounds the spectrum)."""
    import scipy.sparse as sp
    from scipy.sparse.linalg import eigsh

    n = graph.num_nodes
    ei = graph.edge_index.cpu().numpy()
    w = graph.edge_weight.detach().cpu().double().numpy()
    a = sp.coo_matrix((w, (ei[1], ei[0])), shape=(n, n)).tocsr()
    a = 0.5 * (a + a.T)
    deg = np.asarray(a.sum(axis=1)).ravel()
    if norm == "comb":
        lap = sp.diags(deg) - a
        c = 2.0 * float(deg.max()) if n else 0.0
    else:
        inv = np.where(deg > 0, 1.0 / np.sqrt(np.where(deg > 0, deg, 1.0)), 0.0)
        lap = sp.identity(n) - sp.diags(inv) @ a @ sp.diags(inv)
        c = 2.0
    shifted = (c * sp.identity(n) - lap).tocsr()
    m, vecs = eigsh(shifted, k=k, which="LA", v0=np.ones(n))
    vals = c - m
    order = np.argsort(vals, kind="stable")
    return np.clip(vals[order], 0.0, None), _fix_signs(vecs[:, order])


def laplacian_eigenvectors(graph: Graph, k: int = 16, norm: str = "sym") -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` smallest eigenpairs of the Laplacian ``norm`` of ``graph``.

    Returns (eigenvalues (k,) ascending float64, eigenvectors (N, k) float64 orthonormal columns).
    ``k`` is capped at N (dense) or N - 1 (sparse path). Raises ``UserInputError`` for an unknown
    ``norm`` or ``k < 1``.
    """
    _check_norm(norm)
    n = int(graph.num_nodes)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise UserInputError("k", f"must be a positive whole number, got {k!r}")
    if n <= DENSE_MAX_NODES:
        vals, vecs = _full_decomposition(graph, norm)
        k = min(int(k), n)
        return vals[:k].copy(), vecs[:, :k].copy()
    return _sparse_smallest(graph, min(int(k), n - 1), norm)


# ----------------------------------------------------------------------------- graph Fourier transform


def _as_signal(graph: Graph, signal: Any) -> np.ndarray:
    x = signal.detach().cpu().numpy() if isinstance(signal, torch.Tensor) else np.asarray(signal)
    x = x.astype(np.float64).reshape(-1)
    if x.shape[0] != graph.num_nodes:
        raise UserInputError("signal", f"has {x.shape[0]} values but the graph has {graph.num_nodes} nodes")
    return x


def graph_fourier_transform(graph: Graph, signal: Any, k: int | None = None, norm: str = "sym") -> np.ndarray:
    r"""Coefficients :math:`\hat x = U_k^T x` of ``signal`` (N values, e.g. a 28 x 28 image, flattened
    row-major like the pixel graphs' nodes) in the first ``k`` Laplacian eigenvectors (all N by
    default; graphs up to DENSE_MAX_NODES nodes for k = N). Returns (k,) float64, ordered by eigenvalue
    (low graph frequencies first)."""
    x = _as_signal(graph, signal)
    _, vecs = laplacian_eigenvectors(graph, k=graph.num_nodes if k is None else k, norm=norm)
    return vecs.T @ x


def low_pass(graph: Graph, signal: Any, m: int, norm: str = "sym") -> np.ndarray:
    """(N,) the signal rebuilt from its ``m`` lowest-frequency Fourier coefficients: :math:`U_m U_m^T x`."""
    x = _as_signal(graph, signal)
    _, vecs = laplacian_eigenvectors(graph, k=m, norm=norm)
    return vecs @ (vecs.T @ x)


class LowPass(NamedTuple):
    """A signal rebuilt from its lowest graph frequencies, for several cut-offs."""

    kept: list[int]  # coefficients kept, one per image (only cut-offs below the number of nodes)
    images: list[np.ndarray]  # (side, side) each, the rebuilt image
    energy: list[float]  # share of the signal's energy sum(x_hat^2) in those first coefficients


def low_pass_series(graph: Graph, image: Any, cutoffs: tuple[int, ...], norm: str = "sym") -> LowPass:
    """:func:`low_pass` of ``image`` (N values on a square pixel graph) for each cut-off below N, with the share
    of energy each keeps, e.g. for the Spectral view's row of reconstructions."""
    side = round(graph.num_nodes**0.5)
    coeffs = graph_fourier_transform(graph, image, norm=norm)  # (N,)
    energy = np.cumsum(coeffs**2) / max(float((coeffs**2).sum()), 1e-12)
    kept = [int(m) for m in cutoffs if 0 < m < graph.num_nodes]
    images = [low_pass(graph, image, m, norm=norm).reshape(side, side) for m in kept]
    return LowPass(kept, images, [float(energy[m - 1]) for m in kept])


# ----------------------------------------------------------------------------- Chebyshev filters


def chebyshev_basis(x: np.ndarray, K: int) -> np.ndarray:
    """(K, len(x)) with row k = T_k(x): T_0 = 1, T_1 = x, T_k = 2 x T_{k-1} - T_{k-2}."""
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    out = np.empty((K, len(x)))
    out[0] = 1.0
    if K > 1:
        out[1] = x
    for k in range(2, K):
        out[k] = 2.0 * x * out[k - 1] - out[k - 2]
    return out


def cheb_weights(cheb_layer) -> np.ndarray:
    """(K, C_in, C_out) float64: theta_k for every input/output channel pair of a ChebConv.

    The layer stores one ``nn.Linear`` per order, ``lins[k].weight`` of shape (C_out, C_in)
    (PyG's layout), so theta_k[i, o] = ``lins[k].weight[o, i]``.
    """
    lins = getattr(cheb_layer, "lins", None)
    if lins is None:
        raise UserInputError("layer", f"{type(cheb_layer).__name__} is not a ChebConv (no per-order weights)")
    return np.stack([lin.weight.detach().cpu().double().numpy().T for lin in lins])


def cheb_frequency_response(cheb_layer, lambdas: np.ndarray, lambda_max: float = 2.0) -> np.ndarray:
    r"""The learned filters as functions of the graph frequency: (len(lambdas), C_in, C_out) float64.

    Entry [l, i, o] = :math:`\sum_k \theta_k^{(i, o)} T_k(2 \lambda_l / \lambda_{max} - 1)`. Applying the
    layer (bias 0) to an eigenvector :math:`u` of :math:`L = I - D^{-1/2} A D^{-1/2}` with eigenvalue
    :math:`\lambda` in input channel i gives :math:`g_{io}(\lambda) u` in output channel o, as long as
    ``lambda_max`` is the one the layer assumes (2 for this project's ``ChebConv``).
    """
    if not lambda_max > 0:
        raise UserInputError("lambda_max", f"must be positive, got {lambda_max!r}")
    theta = cheb_weights(cheb_layer)  # (K, C_in, C_out)
    scaled = 2.0 * np.asarray(lambdas, dtype=np.float64).reshape(-1) / float(lambda_max) - 1.0
    basis = chebyshev_basis(scaled, theta.shape[0])  # (K, L)
    return np.einsum("kl,kio->lio", basis, theta)


# ----------------------------------------------------------------------------- stored ChebNet runs


def load_cheb_run(run: Run | Mapping[str, Any]):
    """(GraphNet with the run's weights, in eval mode on the CPU, and its raw pixel Graph).

    The model is rebuilt as ``core.training.runs.build_everything`` builds it (``MODELS.get("cheb")`` on the
    run's graph) without loading any data. Raises ``CheckpointError`` when the checkpoint is missing,
    unreadable, or does not fit, ``UserInputError`` when the stored settings are not a ChebNet's.
    """
    from core.analysis.results import checkpoint_state, load_weights
    from core.graphs import build_graph
    from core.models import MODELS
    from core.rng import isolated_rng
    from core.training.runs import validate

    run = as_run(run)
    cfg = validate(run.run_config())
    if cfg.model != "cheb":
        raise UserInputError("run", f"run {run.id} is a {cfg.model!r} run, not a ChebNet ('cheb')")
    loaded = checkpoint_state(run)
    graph = build_graph(cfg.graph, size=28, **cfg.graph_params)
    with isolated_rng():  # initial weights are overwritten; no training run's stream is disturbed
        model = MODELS.get("cheb")(cfg.model_config(), graph)
    load_weights(model, run, "a ChebNet", loaded)  # leaves the model in eval mode
    return model, graph


def layer_graph(model, graph: Graph, layer: int) -> Graph:
    """The (possibly coarsened) pixel graph layer ``layer`` of a GraphNet runs on."""
    from core.models.graph_net import coarse_graph

    side = round(model.graphs[layer].num_nodes ** 0.5)
    return coarse_graph(graph, side)


class ChebResponse(NamedTuple):
    """What one layer of a trained ChebNet does to graph frequencies."""

    lambdas: np.ndarray  # (P,) eigenvalues of the normalised Laplacian sampled in [0, 2]
    response: np.ndarray  # (P, C_in, C_out) g(lambda) of every filter
    eigenvalues: np.ndarray  # (n,) the eigenvalues of the graph this layer runs on (pooled layers: coarser)
    K: int  # the Chebyshev order
    layers: int  # graph layers in the net


def cheb_layer_response(run: Run | Mapping[str, Any], layer: int, points: int = 201) -> ChebResponse:
    """The frequency response of layer ``layer`` (0-based) of stored ChebNet run ``run`` (a store row), on
    ``points`` values of lambda, with the eigenvalues of that layer's graph. Raises as :func:`load_cheb_run`, and
    ``UserInputError`` for a layer the net does not have."""
    model, graph = load_cheb_run(run)
    if not 0 <= int(layer) < len(model.convs):
        raise UserInputError("layer", f"run {as_run(run).id} has {len(model.convs)} graph layers, not {layer + 1}")
    conv = model.convs[int(layer)]
    lambdas = np.linspace(0.0, 2.0, int(points))
    eigenvalues, _ = laplacian_eigenvectors(
        layer_graph(model, graph, int(layer)), k=model.graphs[int(layer)].num_nodes, norm="sym"
    )
    return ChebResponse(
        lambdas, cheb_frequency_response(conv, lambdas, lambda_max=2.0), eigenvalues, int(conv.K), len(model.convs)
    )
