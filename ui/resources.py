"""Engine objects shared by every session of the server: data sets, graphs, the run manager and its store.

Cached once per process; a store or training set-up that cannot be used ends the page with one clear message.
Graphs and loaded runs live in caches bounded in bytes (``ui.byte_cache``): ``GRAPHS`` (the Graph Builder, Filters
and Spectral pages), ``RUNS`` (the checkpoints the Playground, Equivariance, Filters and One node pages reopen) and
``GIFS`` (the Filters page's animations); pages decorate their own loaders with ``cached(RUNS, ...)``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import streamlit as st

from core.config import quick_mode
from core.errors import UserInputError
from ui.byte_cache import MB, ByteLRU, cached
from ui.display import plain  # an error's text quoted inert, without the server's paths

T = TypeVar("T")

# A dense 28x28 graph (613,872 edges) holds its two edge indices once (9.8 MB each, shared by every dense graph) and
# 4.9 MB of weights (raw and normalised) per sigma, so 48 MB keeps the shared part and about 5 such graphs (or
# thousands of grid and k-NN graphs). 64 MB let the server peak at 1,061 MB in the abuse benchmark (target 1.0 GB).
GRAPH_CACHE_MB = 48
GRAPHS = ByteLRU(GRAPH_CACHE_MB * MB, "graphs")
# A loaded run: its model's parameters and buffers (6.6 MB for the default CNN or ChebNet), its data set's tensors
# when it keeps one (the Equivariance page's: 3.8 MB in quick mode), whatever else the loader returns. 128 MB keeps
# about 19 default runs, or a learned-edge run of 60 MB of weights twice (the Filters page: trained and untrained); a
# larger run (GRAPHCONV_RUN_MB allows weights up to ~250 MB when activations are small) is returned but not kept, so
# it loads again on each page that needs it rather than pushing the server past its 1.0 GB.
RUN_CACHE_MB = 128
RUNS = ByteLRU(RUN_CACHE_MB * MB, "loaded runs")
# The Filters page's GIFs: 0.2 to 1.5 MB for 196 frames of 224x224 (at most 196 x 224 x 224 bytes = 9.8 MB).
GIF_CACHE_MB = 32
GIFS = ByteLRU(GIF_CACHE_MB * MB, "animations")


@st.cache_resource(show_spinner="Loading data set…")
def dataset(name: str = "mnist-5k", quick: bool | None = None):
    from core.data.datasets import load_dataset

    return load_dataset(name, quick=quick_mode() if quick is None else quick)


@cached(GRAPHS)
def graph(kind: str, params_json: str, norm: str, image_key: str | None = None, _image: Any = None):
    """(raw graph, normalised graph, facts). ``image_key`` identifies ``_image`` (superpixels only).

    ``facts`` is the normalised graph's summary plus ``raw_symmetric``, computed once per graph rather than on
    every rerun, and without the dense N x N matrices ``Graph.summary`` builds (``graph_facts``).
    """
    from core.graphs import build_graph, normalize

    params = json.loads(params_json)
    g = build_graph(kind, image=_image, **params) if _image is not None else build_graph(kind, **params)
    normed = normalize(g, norm)
    return g, normed, graph_facts(g, normed)


def graph_facts(raw, normed) -> dict[str, Any]:
    """``normed.summary()`` plus ``raw_symmetric``, the same values, from the edge lists: a dense graph's summary
    built two (N, N) matrices for its symmetry checks, the most of a Graph Builder sigma step on the server."""
    deg = normed.degrees()
    return {
        "kind": normed.kind,
        "params": normed.params,
        "num_nodes": normed.num_nodes,
        "num_edges": normed.num_edges,
        "self_loops": normed.num_self_loops,
        "symmetric": is_symmetric(normed),
        "mean_degree": round(float(deg.mean()), 6) if normed.num_nodes else 0.0,
        "raw_symmetric": is_symmetric(raw),
    }


def is_symmetric(g, atol: float = 1e-6) -> bool:
    """``g.is_symmetric(atol)`` (A == A^T, weights included) from the edge list: each edge's weight against its
    reverse's. A dense graph's shared edge index finds the reverse by arithmetic; another, by a sort; an edge list
    with duplicate or unpaired edges is left to ``Graph.is_symmetric``."""
    import numpy as np

    from core.graphs.grid import complete_edge_index, is_complete_edge_index

    n, e = g.num_nodes, g.num_edges
    ei = g.edge_index
    w = g.edge_weight.detach()
    src, dst = ei[0].numpy(), ei[1].numpy()
    plain = e == n * (n - 1) and is_complete_edge_index(ei, n)
    looped = not plain and e == n * n and n > 1 and ei is complete_edge_index(n, self_loops=True)
    if (
        plain or looped
    ):  # edge (j -> i) sits at i (N - 1) + j - [j > i]; its reverse (i -> j) at j (N - 1) + i - [i > j]
        m = n * (n - 1)
        s, d = src[:m], dst[:m]
        rev = np.concatenate([s * (n - 1) + d - (d > s), np.arange(m, e)])  # loops are their own reverse
    else:
        key = dst * n + src
        order = np.argsort(key, kind="stable")
        sorted_key = key[order]
        if e and (sorted_key[1:] == sorted_key[:-1]).any():
            return g.is_symmetric(atol)  # duplicate edges: summed by the dense matrix
        at = np.searchsorted(sorted_key, src * n + dst).clip(max=max(e - 1, 0))
        if e and not (sorted_key[at] == src * n + dst).all():
            return g.is_symmetric(atol)  # an edge without its reverse (symmetric only if its weight is 0)
        rev = order[at]
    w = w.numpy()
    return bool(np.allclose(w, w[rev], rtol=1e-5, atol=atol)) if e else True  # torch.allclose's test, 10x faster


def manager():
    """The process-wide background run manager (survives reruns and page reloads; one per data folder).

    A run database that cannot be opened (corrupt, locked, newer schema) ends the page with one clear
    message instead of a traceback; the file is left as it was. So does a training set-up that cannot be
    used (a bad ``GRAPHCONV_CPUS``, a Ray cluster that cannot be reached)."""
    from core.training.runner import get_manager
    from core.training.store import StoreError

    try:
        return get_manager()
    except StoreError as err:
        st.error(f"Run store unavailable — {plain(err)}", icon=":material/database:")
        st.stop()
    except UserInputError as err:
        st.error(f"Training unavailable — {plain(err)}", icon=":material/error:")
        st.stop()


def store():
    """The run store every page reads and writes (the run manager's), one per data folder."""
    return manager().store


def from_store(read: Callable[[Any], T], then: Callable[[], None] | None = None) -> T:
    """``read(store())``; a store that cannot be read (corrupt, locked, newer schema) shows one clear message,
    runs ``then`` (e.g. a page's notices) and ends the page. The one place pages say "Run store unavailable"."""
    from core.training.store import StoreError

    try:
        return read(store())
    except StoreError as err:
        st.error(f"Run store unavailable — {plain(err)}", icon=":material/database:")
        if then is not None:
            then()
        st.stop()
