"""Engine objects shared by every session of the server: data sets, graphs, the run manager and its store.

Cached once per process (``st.cache_resource``); a store or training set-up that cannot be used ends the page with
one clear message.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Optional, TypeVar

import streamlit as st

from core.config import quick_mode
from core.errors import UserInputError
from ui.display import plain  # an error's text quoted inert, without the server's paths

T = TypeVar("T")


@st.cache_resource(show_spinner="Loading data set…")
def dataset(name: str = "mnist-5k", quick: Optional[bool] = None):
    from core.data.datasets import load_dataset

    return load_dataset(name, quick=quick_mode() if quick is None else quick)


@st.cache_resource(show_spinner=False, max_entries=64)
def graph(kind: str, params_json: str, norm: str, image_key: Optional[str] = None, _image: Any = None):
    """(raw graph, normalised graph, facts). ``image_key`` identifies ``_image`` (superpixels only).

    ``facts`` is the normalised graph's summary plus ``raw_symmetric``, computed once per graph (the
    symmetry check builds an N x N matrix) rather than on every rerun.
    """
    from core.graphs import build_graph, normalize

    params = json.loads(params_json)
    g = build_graph(kind, image=_image, **params) if _image is not None else build_graph(kind, **params)
    normed = normalize(g, norm)
    return g, normed, {**normed.summary(), "raw_symmetric": g.is_symmetric()}


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


def from_store(read: Callable[[Any], T], then: Optional[Callable[[], None]] = None) -> T:
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
