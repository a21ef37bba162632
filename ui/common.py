"""Shared UI helpers: cached engine objects, parameter widgets bound to the URL, error display.

Pages import from here; ``core`` never imports streamlit.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Optional

import streamlit as st

from core.config import quick_mode
from core.errors import UserInputError

URL = "query-params"  # widgets bound to the URL: a copied link reopens the same configuration


# ---------------------------------------------------------------- cached engine objects
@st.cache_resource(show_spinner="Loading data set…")
def dataset(name: str = "mnist-5k", quick: Optional[bool] = None):
    from core.data import load_dataset

    return load_dataset(name, quick=quick_mode() if quick is None else quick)


@st.cache_resource(show_spinner=False, max_entries=64)
def graph(kind: str, params_json: str, norm: str, image_key: Optional[str] = None, _image: Any = None):
    """(raw graph, normalised graph). ``image_key`` identifies ``_image`` (superpixels only)."""
    from core.graphs import build_graph, normalize

    params = json.loads(params_json)
    g = build_graph(kind, image=_image, **params) if _image is not None else build_graph(kind, **params)
    return g, normalize(g, norm)


@st.cache_resource(show_spinner=False)
def manager():
    """The process-wide background run manager (survives reruns and page reloads)."""
    from core.runner import get_manager

    return get_manager()


def store():
    return manager().store


# ---------------------------------------------------------------- widgets
def graph_param_widgets(kind: str, container=st.sidebar, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    """One widget per builder parameter of ``kind`` (from GRAPH_PARAMS), bound to the URL as ``<kind>_<name>``."""
    from core.graphs import GRAPH_CHOICES, GRAPH_PARAMS

    values: dict[str, Any] = {}
    for name, spec in GRAPH_PARAMS[kind].items():
        if name in exclude:
            continue
        key = f"{kind}_{name}"
        choices = GRAPH_CHOICES.get(kind, {}).get(name)
        if choices is not None:
            values[name] = container.radio(name, choices, index=list(choices).index(spec.default), key=key,
                                           help=spec.help, horizontal=True, bind=URL)
            continue
        optional = spec.default is None
        if optional:
            if not container.toggle(f"use {name}", key=f"{key}_on", help=spec.help, bind=URL):
                continue
        lo, hi = spec.min, spec.max
        start = spec.default if spec.default is not None else lo
        if isinstance(start, int) and isinstance(lo, int):
            hi = min(hi, 64) if name in ("k", "topk") else hi
            values[name] = container.slider(name, lo, hi, start, key=key, help=spec.help, bind=URL)
        else:
            step = 0.01 if hi <= 1 else 0.05
            values[name] = container.slider(name, float(lo), float(hi), float(start), step=step, key=key,
                                            help=spec.help, bind=URL)
    return values


def copy_link_button(container=st.sidebar) -> None:
    """A control that shows the shareable link of this exact configuration."""
    with container.popover("Copy link", icon=":material/link:", width="stretch"):
        st.caption("Every setting lives in the URL; this link reopens the page as it is now.")
        try:
            base = st.context.url
        except Exception:
            base = ""
        query = "&".join(f"{k}={v}" for k, v in st.query_params.items())
        st.code(f"{base}?{query}" if query else base or "(open the app in a browser to get its address)",
                language=None)


def guarded(fn: Callable[[], Any], what: str = "") -> Any:
    """Run ``fn``; show a clear ``st.error`` (no stack trace) for bad input and known failures."""
    from core.errors import DataUnavailableError

    try:
        return fn()
    except UserInputError as err:
        st.error(f"Invalid setting — {err}")
    except DataUnavailableError as err:
        st.error(f"Data unavailable — {err}")
    return None


def session_id() -> Optional[str]:
    """This browser session's id (runs remember which session started them)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return ctx.session_id if ctx else None
