"""The Graph Builder through app.py's navigation: sigma changes the main picture, the kernel profile sits beside it for
Gaussian weights, the caption says what sigma does; and the graph cache's facts are the graph's own."""

import json

import numpy as np
import pytest

from core.graphs import NORMS, build_graph, normalize
from tests.ui.ui_helpers import no_errors, open_page

PAGE = "app_pages/graph_builder.py"


def charts(at) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def edge_paths(spec: dict) -> tuple[str, ...]:
    return tuple(s["path"] for s in spec["layout"].get("shapes", []) if s.get("type") == "path")


def captions(at) -> str:
    return " ".join(c.value for c in at.caption)


def test_sigma_changes_the_main_picture_and_the_kernel_profile(app):
    at = open_page(app, PAGE)
    at.radio(key="kind").set_value("gaussian").run()
    seen = {}
    for sigma in (0.05, 0.3, 1.0):
        at.slider(key="gaussian_sigma").set_value(sigma).run()
        no_errors(at)
        graph, kernel, _, _ = charts(at)  # graph over the digit, kernel profile, filter, degrees
        assert graph["layout"]["title"]["text"] == f"Gaussian-kernel graph, σ = {sigma:g} · digit #0"
        assert kernel["layout"]["title"]["text"] == f"Edge weight against distance, σ = {sigma:g}"
        assert any(a["text"].strip() == f"σ = {sigma:g}" for a in kernel["layout"]["annotations"])
        text = captions(at)
        assert f"at σ = {sigma:g}" in text and "σ sets how far a pixel reaches" in text
        seen[sigma] = (edge_paths(graph), text)
    assert len({paths for paths, _ in seen.values()}) == 3  # the drawn edges differ, not only a label
    assert "the 299,702 lighter than 0.05 are not drawn" in seen[0.05][1]  # 7,234 of 306,936 pairs weigh >= 0.05
    assert "green: all 783 of node 406's" in seen[1.0][1]  # at sigma 1 the chosen pixel reaches every other


def test_the_kernel_profile_appears_for_weighted_knn_only(app):
    at = open_page(app, PAGE)
    at.radio(key="kind").set_value("knn").run()
    assert len(at.get("plotly_chart")) == 3 and "σ sets" not in captions(at)  # unit weights: no kernel
    at.toggle(key="knn_sigma_on").set_value(True).run()
    no_errors(at)
    kernel = charts(at)[1]
    marks = {a["text"].strip() for a in kernel["layout"]["annotations"]}
    assert "8th nearest of node 406" in marks and "σ = 0.01" in marks


def test_a_digit_step_keeps_the_edges_and_changes_only_the_image(app):
    """The digit changes the picture under the graph, not the graph: the edges drawn stay the same."""
    at = open_page(app, PAGE)
    first = charts(at)
    at.slider(key="digit").set_value(1).run()
    no_errors(at)
    second = charts(at)
    assert edge_paths(first[0]) == edge_paths(second[0]) and edge_paths(first[0])
    assert first[0]["data"][0] != second[0]["data"][0]  # the image heatmap
    assert first[1:] == second[1:]  # filter and degrees: the same figures


@pytest.mark.parametrize(
    "kind, params",
    [
        ("gaussian", {"sigma": 0.05}),
        ("gaussian", {"sigma": 0.3, "cutoff": 0.2}),
        ("gaussian", {"sigma": 0.2, "topk": 6}),
        ("knn", {"k": 8}),
        ("knn", {"k": 5, "sigma": 0.1}),
        ("grid", {"neighbours": 4}),
        ("complete", {}),
    ],
)
def test_the_graph_caches_facts_are_the_graphs_summary(kind, params):
    from ui.resources import graph_facts

    g = build_graph(kind, **params)
    for norm in NORMS:
        normed = normalize(g, norm)
        assert graph_facts(g, normed) == {**normed.summary(), "raw_symmetric": g.is_symmetric()}, norm


def test_the_fast_symmetry_check_sees_one_changed_weight():
    from ui.resources import is_symmetric

    for g in (build_graph("gaussian", sigma=0.1), build_graph("knn", k=3)):
        w = g.edge_weight.clone()
        w[7] += 0.01
        bent = g.with_(edge_weight=w)
        assert is_symmetric(g) and not is_symmetric(bent) and not bent.is_symmetric()
    one_way = build_graph("grid", neighbours=4)  # drop one direction of an edge
    keep = np.ones(one_way.num_edges, bool)
    keep[0] = False
    cut = one_way.with_(edge_index=one_way.edge_index[:, keep], edge_weight=one_way.edge_weight[keep])
    assert not is_symmetric(cut) and not cut.is_symmetric()
