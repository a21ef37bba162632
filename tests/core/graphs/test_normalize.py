"""Normalisations checked against dense matrices computed by hand (numpy, float64)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.errors import UserInputError
from core.graphs import NORMS, Graph, build_graph, normalize

GRAPHS = {
    "grid8": lambda: build_graph("grid", size=3, neighbours=8),
    "knn": lambda: build_graph("knn", size=4, k=3),
    "gaussian": lambda: build_graph("gaussian", size=4, sigma=0.4),  # weighted, complete
}


@pytest.fixture(params=list(GRAPHS))
def graph(request: pytest.FixtureRequest) -> Graph:
    return GRAPHS[request.param]()


def dense(g: Graph) -> np.ndarray:
    return g.to_dense().double().numpy()


def test_none_is_the_adjacency(graph: Graph) -> None:
    np.testing.assert_allclose(dense(normalize(graph, "none")), dense(graph), rtol=1e-6)


def test_sum_adds_the_identity(graph: Graph) -> None:
    a, out = dense(graph), dense(normalize(graph, "sum"))
    np.testing.assert_allclose(out, a + np.eye(len(a)), rtol=1e-6)
    np.testing.assert_allclose(out.sum(1), a.sum(1) + 1, rtol=1e-6)  # row sums = degree + 1


def test_rw_rows_sum_to_one(graph: Graph) -> None:
    a, out = dense(graph), dense(normalize(graph, "rw"))
    np.testing.assert_allclose(out.sum(1), np.ones(len(a)), rtol=1e-5)
    np.testing.assert_allclose(out, a / a.sum(1, keepdims=True), rtol=1e-5)


def test_sym(graph: Graph) -> None:
    a = dense(graph)
    d = np.diag(a.sum(1) ** -0.5)
    np.testing.assert_allclose(dense(normalize(graph, "sym")), d @ a @ d, rtol=1e-5)


def test_gcn_matches_kipf_welling(graph: Graph) -> None:
    a_tilde = dense(graph) + np.eye(graph.num_nodes)
    d = np.diag(a_tilde.sum(1) ** -0.5)
    out = normalize(graph, "gcn")
    np.testing.assert_allclose(dense(out), d @ a_tilde @ d, rtol=1e-5)
    assert out.num_self_loops == graph.num_nodes and out.is_symmetric()


def test_cheb_is_the_scaled_laplacian(graph: Graph) -> None:
    a = dense(graph)
    n = len(a)
    d = np.diag(a.sum(1) ** -0.5)
    lap = np.eye(n) - d @ a @ d
    lam_max = 2.0
    np.testing.assert_allclose(dense(normalize(graph, "cheb")), 2 * lap / lam_max - np.eye(n), rtol=1e-5, atol=1e-7)


def test_grid_gcn_values_by_hand() -> None:
    # 3 x 3 4-neighbour grid: corner degree 2, centre 4; with self-loops 3 and 5.
    out = dense(normalize(build_graph("grid", size=3, neighbours=4), "gcn"))
    assert out[0, 0] == pytest.approx(1 / 3)
    assert out[4, 4] == pytest.approx(1 / 5)
    assert out[1, 0] == pytest.approx(1 / np.sqrt(3 * 4))  # edge-centre (deg 3 + 1) to corner (2 + 1)


def test_normalize_records_norm_and_leaves_input_alone() -> None:
    g = build_graph("grid", size=3, neighbours=8)
    before = g.edge_weight.clone()
    for norm in NORMS:
        out = normalize(g, norm)
        assert out.params == {**g.params, "norm": norm} and out.kind == "grid"
    assert torch.equal(g.edge_weight, before) and "norm" not in g.params


def test_existing_self_loops_are_replaced_not_doubled() -> None:
    ei = torch.tensor([[0, 1, 0], [1, 0, 0]])  # 0 <-> 1 plus a self-loop on 0
    g = Graph(ei, torch.tensor([1.0, 1.0, 5.0]), 2, torch.zeros(2, 2))
    out = normalize(g, "sum")
    assert out.num_self_loops == 2
    np.testing.assert_allclose(dense(out), [[1.0, 1.0], [1.0, 1.0]])


def test_isolated_nodes_stay_zero() -> None:
    g = Graph(torch.tensor([[0, 1], [1, 0]]), torch.ones(2), 3, torch.zeros(3, 2))  # node 2 isolated
    for norm in ("rw", "sym", "cheb"):
        out = dense(normalize(g, norm))
        assert np.isfinite(out).all() and not out[2].any()


def test_unknown_norm() -> None:
    with pytest.raises(UserInputError) as e:
        normalize(build_graph("grid", size=3), "laplacian")
    assert e.value.param == "norm"
