"""Links between pages: a finished run opens on every insight page that can show it, by the URL keys those pages read.

One table says which page shows which run, so the Train page's buttons, the Results page and the Start page agree.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Optional

import streamlit as st

# page -> (label, icon, the run's link parameters or None when the page cannot show that run)
RunParams = Callable[[int, Mapping[str, Any]], Optional[dict[str, str]]]
_IMAGE_MODELS = ("mlp", "cnn", "gcn", "cheb", "sage", "gin", "gat", "learned", "escnn", "tutorial")


def _results(run_id: int, cfg: Mapping[str, Any]) -> Optional[dict[str, str]]:
    return {"run": str(run_id)}


def _playground(run_id: int, cfg: Mapping[str, Any]) -> Optional[dict[str, str]]:
    return {"pg_runs": str(run_id)} if cfg.get("model") in _IMAGE_MODELS and cfg.get("model") != "tutorial" else None


def _filters(run_id: int, cfg: Mapping[str, Any]) -> Optional[dict[str, str]]:
    model = cfg.get("model")
    if model == "learned":
        return {"f_src": "learned", "f_run": str(run_id)}
    if model == "gat":  # a pixel's attention over its neighbours, per digit
        return {"f_src": "gat", "f_grun": str(run_id)}
    if model == "superpixel":  # a superpixel's row of its layer's matrix (attention for GAT)
        return {"f_src": "superpixel", "f_sprun": str(run_id)}
    return None  # gcn, cheb, sage, gin: their filters are the fixed graph's, not the run's (Spectral shows cheb's)


def _spectral(run_id: int, cfg: Mapping[str, Any]) -> Optional[dict[str, str]]:
    return {"s_run": str(run_id)} if cfg.get("model") == "cheb" else None


def _equivariance(run_id: int, cfg: Mapping[str, Any]) -> Optional[dict[str, str]]:
    return ({"eq_open": str(run_id)} if cfg.get("model") in _IMAGE_MODELS and cfg.get("model") != "tutorial"
            else None)


def _node(run_id: int, cfg: Mapping[str, Any]) -> Optional[dict[str, str]]:
    from core.analysis.node_arithmetic import KINDS  # the graph layers whose arithmetic the One node page writes out

    return {"nd_run": str(run_id)} if cfg.get("model") in KINDS else None


RUN_PAGES: dict[str, tuple[str, str, RunParams]] = {
    "app_pages/results.py": ("Results", ":material/analytics:", _results),
    "app_pages/playground.py": ("Playground", ":material/draw:", _playground),
    "app_pages/filters.py": ("Filters", ":material/filter_center_focus:", _filters),
    "app_pages/spectral.py": ("Spectral view", ":material/graphic_eq:", _spectral),
    "app_pages/equivariance.py": ("Equivariance", ":material/rotate_right:", _equivariance),
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
