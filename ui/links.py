"""Links between pages: a finished run opens on every insight page that can show it, by the URL keys those pages read.

One table says which page shows which run (from each model's spec, ``ModelSpec.pages``), so the Train page's buttons, the Results page and the Start page agree.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import streamlit as st

# page -> (label, icon, the run's link parameters or None when the page cannot show that run)
RunParams = Callable[[int, Mapping[str, Any]], dict[str, str] | None]


def _spec(cfg: Mapping[str, Any]):
    """The spec of the run's model (``core.models.spec.ModelSpec``), None for a model no longer registered."""
    from core.models import MODELS

    model = cfg.get("model")
    return MODELS.spec(model) if isinstance(model, str) and model in MODELS else None


def _shown_on(page: str, key: str) -> RunParams:
    """A page that shows the runs of every model whose spec lists ``page``, by link key ``key``."""

    def params(run_id: int, cfg: Mapping[str, Any]) -> dict[str, str] | None:
        spec = _spec(cfg)
        return {key: str(run_id)} if spec is not None and page in spec.pages else None

    return params


def _results(run_id: int, cfg: Mapping[str, Any]) -> dict[str, str] | None:
    return {"run": str(run_id)}


def _filters(run_id: int, cfg: Mapping[str, Any]) -> dict[str, str] | None:
    """Models whose filters are their own (learned edges, attention, superpixel layers) declare the Filters page's
    source and run key; a fixed-graph net's filters are its graph's, not the run's (Spectral shows ChebNet's)."""
    spec = _spec(cfg)
    if spec is None or spec.filters is None:
        return None
    source, key = spec.filters
    return {"f_src": source, key: str(run_id)}


def _node(run_id: int, cfg: Mapping[str, Any]) -> dict[str, str] | None:
    spec = _spec(cfg)  # the graph layers whose arithmetic the One node page writes out
    return {"nd_run": str(run_id)} if spec is not None and spec.node_arithmetic else None


RUN_PAGES: dict[str, tuple[str, str, RunParams]] = {
    "app_pages/results.py": ("Results", ":material/analytics:", _results),
    "app_pages/playground.py": ("Playground", ":material/draw:", _shown_on("playground", "pg_runs")),
    "app_pages/filters.py": ("Filters", ":material/filter_center_focus:", _filters),
    "app_pages/spectral.py": ("Spectral view", ":material/graphic_eq:", _shown_on("spectral", "s_run")),
    "app_pages/equivariance.py": ("Equivariance", ":material/rotate_right:", _shown_on("equivariance", "eq_open")),
    "app_pages/node.py": ("One node's arithmetic", ":material/calculate:", _node),
}


def run_links(run_id: int, config: Mapping[str, Any]) -> list[tuple[str, str, str, dict[str, str]]]:
    """(page, label, icon, query params) for every insight page that can show run ``run_id``."""
    out = []
    for page, (label, icon, params) in RUN_PAGES.items():
        query = params(run_id, config or {})
        if query is not None:
            out.append((page, label, icon, query))
    return out


def open_run_buttons(run_id: int, config: Mapping[str, Any], container=st, exclude: str = "") -> None:
    """A row of links that open run ``run_id`` on each insight page that can show it (but page ``exclude``)."""
    links = [link for link in run_links(run_id, config) if link[0] != exclude]
    if not links:
        return
    cols = container.columns(len(links))
    for col, (page, label, icon, query) in zip(cols, links):
        col.page_link(page, label=label, icon=icon, query_params=query)
