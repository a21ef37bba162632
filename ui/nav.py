"""The page registry: the one place a page's file, title, icon, URL path and menu section are written.

``app.py`` builds ``st.navigation`` from :data:`PAGES`; pages and ui helpers link with ``st.page_link(page("train"),
...)`` and ``st.switch_page(page(...))``, which take Streamlit's page objects rather than path strings, so a page's
file is named here and nowhere else.

Each page stays a file in ``app_pages/`` (its ``render()`` runs when Streamlit runs the file as ``__main__``) rather
than a callable given to ``st.Page``: Streamlit's ``AppTest.switch_page`` reaches a page only by the script path
``st.navigation`` registered, and a callable page registers none, so a callable page could not be opened by a test
through this navigation. Not ``pages/``: a folder of that name puts Streamlit in its legacy multipage mode until
``st.navigation`` has run once, and a shared ``/train`` link on a fresh server would skip ``app.py``.

URL paths never change: shared links (``/train?model=cheb``) were written with them. The default page is served at
``/``; its ``url_path`` is left to Streamlit (inferred from the file name, as it always was), so its page hash, which
Streamlit derives from that name, stays what it was.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st
from streamlit.navigation.page import StreamlitPage


@dataclass(frozen=True)
class PageEntry:
    """One page of the app: where it lives, what the menu shows, where it is served."""

    key: str  # the name code uses for it: page("train")
    file: str  # relative to the app's root (app.py's folder)
    title: str
    icon: str
    url_path: str  # "" for the default page, served at /
    section: str  # the menu's heading
    default: bool = False


PAGES: tuple[PageEntry, ...] = (
    PageEntry("start", "app_pages/start.py", "Start here", ":material/flag:", "", "Explore", default=True),
    PageEntry("graph", "app_pages/graph_builder.py", "Graph Builder", ":material/hub:", "graph", "Explore"),
    PageEntry("playground", "app_pages/playground.py", "Playground", ":material/draw:", "playground", "Explore"),
    PageEntry("lessons", "app_pages/lessons.py", "Lessons", ":material/school:", "lessons", "Explore"),
    PageEntry("train", "app_pages/train.py", "Train", ":material/model_training:", "train", "Train"),
    PageEntry("results", "app_pages/results.py", "Results", ":material/analytics:", "results", "Insight"),
    PageEntry("compare", "app_pages/compare.py", "Compare runs", ":material/compare_arrows:", "compare", "Insight"),
    PageEntry("karate", "app_pages/karate.py", "KarateClub", ":material/groups:", "karate", "Insight"),
    PageEntry("spectral", "app_pages/spectral.py", "Spectral view", ":material/graphic_eq:", "spectral", "Insight"),
    PageEntry("filters", "app_pages/filters.py", "Filters", ":material/filter_center_focus:", "filters", "Insight"),
    PageEntry("node", "app_pages/node.py", "One node", ":material/calculate:", "node", "Insight"),
    PageEntry(
        "equivariance",
        "app_pages/equivariance.py",
        "Equivariance",
        ":material/rotate_right:",
        "equivariance",
        "Equivariance",
    ),
    PageEntry("groups", "app_pages/groups.py", "Groups", ":material/category:", "groups", "Equivariance"),
)
_BY_KEY = {e.key: e for e in PAGES}


def entry(key: str) -> PageEntry:
    """The registry entry of page ``key``; a KeyError names the unknown key (a typo in code, not user input)."""
    return _BY_KEY[key]


def page(key: str) -> StreamlitPage:
    """Page ``key`` as the object ``st.page_link`` and ``st.switch_page`` take. Built during a script run (``st.Page``
    resolves its file against the running app's folder), equal in file and URL path to the one ``app.py`` registered,
    which ``st.page_link`` checks."""
    e = entry(key)
    return st.Page(e.file, title=e.title, icon=e.icon, url_path=e.url_path or None, default=e.default)


def navigation() -> dict[str, list[StreamlitPage]]:
    """Every page by menu section, in registry order: what ``st.navigation`` takes."""
    sections: dict[str, list[StreamlitPage]] = {}
    for e in PAGES:
        sections.setdefault(e.section, []).append(page(e.key))
    return sections
