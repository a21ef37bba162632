"""A lesson's links to the pages that explain its result, written through each page's URL schema.

``core.analysis.lesson_rows.explain_links`` says which pages and what on them (a page key, the runs, the sweep
group, the fixed graph or the KarateClub training: :class:`~core.analysis.lesson_rows.LessonLink`); this module
turns each into the page's query (``ui/page_queries.py``) and its page object (``ui/nav.py``), so a lesson's link
keys are the ones every other link to that page writes. Links shared before keep their keys and values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import streamlit as st

from core.analysis.lesson_rows import LessonLink, explain_links
from core.analysis.lessons import Lesson
from core.training.store.groups import RunGroup
from ui.nav import page
from ui.page_queries import (
    CompareQuery,
    EquivarianceQuery,
    FiltersQuery,
    KarateQuery,
    PageQuery,
    ResultsQuery,
    SpectralQuery,
)


def _filters_source(model: str) -> str:
    """The Filters page's source for a run of ``model``: the one its spec declares (its own filters)."""
    from core.models import MODELS

    spec = MODELS.spec(model) if model in MODELS else None
    if spec is None or spec.filters is None:
        raise ValueError(f"the Filters page cannot show a run of model {model!r}")
    return spec.filters[0]


def link_query(link: LessonLink) -> PageQuery:
    """The query of ``link``'s page that opens what the link names; a ValueError names a link its page cannot take
    (a lesson written wrong, not user input)."""
    one = link.runs[0] if len(link.runs) == 1 else None
    if link.page == "filters":
        if link.graph is not None:
            return FiltersQuery.fixed_graph(link.graph.kind, link.graph.params, link.graph.norm)
        if one is not None:
            return FiltersQuery(source=_filters_source(link.model), run=one)
    elif link.page == "spectral" and one is not None:
        return SpectralQuery(run=one)
    elif link.page == "equivariance" and one is not None:
        return EquivarianceQuery(open=one)
    elif link.page == "results" and one is not None:
        return ResultsQuery(run=one)
    elif link.page == "compare" and (link.runs or link.sweep is not None):
        return CompareQuery(runs=link.runs, sweep=link.sweep)
    elif link.page == "karate" and link.karate is not None:
        k = link.karate
        return KarateQuery(model=k.model, epochs=k.epochs, lr=k.lr, seed=k.seed)
    raise ValueError(f"no link to page {link.page!r} for {link}")


def lesson_links(
    lesson: Lesson, rows: Sequence[Mapping[str, Any]], launch: RunGroup | None = None
) -> list[tuple[str, str, dict[str, str]]]:
    """(page key, label, query params) of each page that explains ``lesson``'s result on ``rows``."""
    return [(link.page, link.label, link_query(link).to_query()) for link in explain_links(lesson, rows, launch)]


def show_lesson_links(lesson: Lesson, rows: Sequence[Mapping[str, Any]], launch: RunGroup | None = None) -> None:
    """The pages that explain the result, as links under a heading (nothing when there are none)."""
    links = lesson_links(lesson, rows, launch)
    if links:
        st.markdown("**Pages that explain the result**")
        for key, label, query in links:
            st.page_link(page(key), label=label, query_params=query, icon=":material/open_in_new:")
