"""The page registry (ui/nav.py) and the pages' URL schemas (ui/page_queries.py).

Shared links name pages by URL path and settings by URL key: both must read as they did, whatever the code calls them.
"""

import importlib

import pytest

from tests.ui.ui_helpers import ROOT, no_errors, open_page
from ui import nav
from ui.page_queries import (
    CompareQuery,
    EquivarianceQuery,
    FiltersQuery,
    NodeQuery,
    PlaygroundQuery,
    ResultsQuery,
    SpectralQuery,
    TrainQuery,
)

# the URL paths links were shared with before the registry existed ("" is the Start page, served at /)
SHARED_PATHS = {
    "start": "",
    "graph": "graph",
    "playground": "playground",
    "lessons": "lessons",
    "train": "train",
    "results": "results",
    "compare": "compare",
    "karate": "karate",
    "spectral": "spectral",
    "filters": "filters",
    "node": "node",
    "equivariance": "equivariance",
    "groups": "groups",
}


def test_every_page_keeps_its_url_path_and_lives_in_app_pages():
    assert {e.key: e.url_path for e in nav.PAGES} == SHARED_PATHS
    assert [e.key for e in nav.PAGES if e.default] == ["start"]
    for e in nav.PAGES:
        assert e.file.startswith("app_pages/") and (ROOT / e.file).is_file(), e.file
    assert not (ROOT / "pages").exists()  # a pages/ folder would put Streamlit in its legacy mode (app.py)


@pytest.mark.parametrize("entry", nav.PAGES, ids=lambda e: e.key)
def test_a_page_module_imports_without_drawing_and_has_render(entry):
    """Streamlit runs a page's file as __main__; imported, it only defines its functions (no Streamlit call runs
    outside a script run, which would warn or fail)."""
    module = importlib.import_module(entry.file.removesuffix(".py").replace("/", "."))
    assert callable(module.render)


def test_a_page_link_built_from_the_registry_opens_its_page(app):
    at = open_page(app, "app_pages/start.py")
    no_errors(at)
    links = {link.proto.label: link.proto.page for link in at.get("page_link")}
    assert links["Graph Builder"] == "graph" and links["Results of a run"] == "results"


@pytest.mark.parametrize(
    ("query", "link"),
    [
        (ResultsQuery(run=4), {"run": "4"}),
        (PlaygroundQuery(runs=(3, 5)), {"pg_runs": "3,5"}),
        (EquivarianceQuery(open=2), {"eq_open": "2"}),
        (SpectralQuery(run=9), {"s_run": "9"}),
        (NodeQuery(run=1), {"nd_run": "1"}),
        (CompareQuery(runs=(1, 2), sweep="sweep:17:K"), {"cmp_runs": "1,2", "sw_show": "sweep:17:K"}),
        (FiltersQuery("learned", 6), {"f_src": "learned", "f_run": "6"}),
        (FiltersQuery("gat", 6), {"f_src": "gat", "f_grun": "6"}),
        (FiltersQuery("superpixel", 6), {"f_src": "superpixel", "f_sprun": "6"}),
        (
            FiltersQuery("graph", graph={"f_kind": "grid", "grid_neighbours": "8"}),
            {"f_src": "graph", "f_kind": "grid", "grid_neighbours": "8"},
        ),
        (
            TrainQuery("escnn", {"group": "C8", "data": "mnist-rot"}),
            {"model": "escnn", "group": "C8", "data": "mnist-rot"},
        ),
        (ResultsQuery(), {}),
    ],
)
def test_each_schema_writes_the_keys_shared_links_use_and_reads_them_back(query, link):
    assert query.to_query() == link
    assert type(query).from_query(link) == query


def test_a_schema_reads_a_bad_value_as_unset():
    assert ResultsQuery.from_query({"run": "12abc"}) == ResultsQuery()
    assert PlaygroundQuery.from_query({"pg_runs": "3,x,5"}) == PlaygroundQuery(runs=(3, 5))
    assert FiltersQuery.from_query({"f_src": "nonsense", "f_run": "2"}) == FiltersQuery()
