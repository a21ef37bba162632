"""Links between pages: a finished run opens on every insight page that can show it, by the URL keys those pages read.

One table says which page shows which run (from each model's spec, ``ModelSpec.pages``), so the Train page's
buttons, the Results page and the Start page agree; each link's keys are its page's schema
(``ui/page_queries.py``) and each page is the registry's (``ui/nav.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import streamlit as st

from ui import nav
from ui.linked_runs import defs_for
from ui.page_queries import (
    EquivarianceQuery,
    FiltersQuery,
    NodeQuery,
    PageQuery,
    PlaygroundQuery,
    ResultsQuery,
    SpectralQuery,
)

RunParams = Callable[[int, Mapping[str, Any]], dict[str, str] | None]


def _spec(cfg: Mapping[str, Any]):
    """The spec of the run's model (``core.models.spec.ModelSpec``), None for a model no longer registered."""
    from core.models import MODELS

    model = cfg.get("model")
    return MODELS.spec(model) if isinstance(model, str) and model in MODELS else None


def _shown_on(name: str, query: Callable[[int], PageQuery]) -> RunParams:
    """A page that shows the runs of every model whose spec lists page ``name``, linked by ``query(run_id)``."""

    def params(run_id: int, cfg: Mapping[str, Any]) -> dict[str, str] | None:
        spec = _spec(cfg)
        return query(run_id).to_query() if spec is not None and name in spec.pages else None

    return params


def _results(run_id: int, cfg: Mapping[str, Any]) -> dict[str, str] | None:
    return ResultsQuery(run=run_id).to_query()


def _filters(run_id: int, cfg: Mapping[str, Any]) -> dict[str, str] | None:
    """Models whose filters are their own (learned edges, attention, superpixel layers) declare the Filters page's
    source; a fixed-graph net's filters are its graph's, not the run's (Spectral shows ChebNet's)."""
    spec = _spec(cfg)
    if spec is None or spec.filters is None:
        return None
    source, _ = spec.filters  # the source's run key is FiltersQuery's
    return FiltersQuery(source=source, run=run_id).to_query()


def _node(run_id: int, cfg: Mapping[str, Any]) -> dict[str, str] | None:
    spec = _spec(cfg)  # the graph layers whose arithmetic the One node page writes out
    return NodeQuery(run=run_id).to_query() if spec is not None and spec.node_arithmetic else None


# page key (ui/nav.py) -> (label, icon, the run's link parameters or None when the page cannot show that run)
RUN_PAGES: dict[str, tuple[str, str, RunParams]] = {
    "results": ("Results", ":material/analytics:", _results),
    "playground": ("Playground", ":material/draw:", _shown_on("playground", lambda i: PlaygroundQuery(runs=(i,)))),
    "filters": ("Filters", ":material/filter_center_focus:", _filters),
    "spectral": ("Spectral view", ":material/graphic_eq:", _shown_on("spectral", lambda i: SpectralQuery(run=i))),
    "equivariance": (
        "Equivariance",
        ":material/rotate_right:",
        _shown_on("equivariance", lambda i: EquivarianceQuery(open=i)),
    ),
    "node": ("One node's arithmetic", ":material/calculate:", _node),
}


def run_pages(run_id: int, config: Mapping[str, Any]) -> list[tuple[str, str, str, dict[str, str]]]:
    """(page key of ``ui/nav.py``, label, icon, query params) for every insight page that can show run ``run_id``."""
    out = []
    for key, (label, icon, params) in RUN_PAGES.items():
        query = params(run_id, config or {})
        if query is not None:
            out.append((key, label, icon, query))
    return out


def run_links(run_id: int, config: Mapping[str, Any]) -> list[tuple[str, str, str, dict[str, str]]]:
    """(page file, label, icon, query params) for every insight page that can show run ``run_id``: the file is what
    a test's ``AppTest.switch_page`` takes."""
    return [(nav.entry(key).file, label, icon, query) for key, label, icon, query in run_pages(run_id, config)]


def open_run_buttons(run_id: int, config: Mapping[str, Any], container=st, exclude: str = "") -> None:
    """A row of links that open run ``run_id`` on each insight page that can show it (but page ``exclude``, a page
    key of ``ui/nav.py``)."""
    links = [link for link in run_pages(run_id, config) if link[0] != exclude]
    if not links:
        return
    cols = container.columns(len(links))
    carried = defs_for([run_id])  # what the run is, so the link keeps its meaning on another server (run_defs)
    for col, (key, label, icon, query) in zip(cols, links, strict=True):
        col.page_link(nav.page(key), label=label, icon=icon, query_params={**query, **carried})
