"""Laplacian eigenvectors, graph Fourier transform and ChebConv frequency responses (core.analysis.spectral)."""

from typing import cast

import numpy as np
import pytest
import torch

from core.analysis.spectral import (
    cheb_frequency_response,
    chebyshev_basis,
    graph_fourier_transform,
    laplacian,
    laplacian_eigenvectors,
    low_pass,
    low_pass_series,
)
from core.errors import UserInputError
from core.graphs import build_graph
from core.graphs.base import Graph
from core.models.layers import ChebConv, SharedGraph


def _undirected(edges, n, weights=None) -> Graph:
    src = [a for a, b in edges] + [b for a, b in edges]
    dst = [b for a, b in edges] + [a for a, b in edges]
    w = list(weights) * 2 if weights is not None else [1.0] * len(src)
    return Graph(torch.tensor([src, dst], dtype=torch.long), torch.tensor(w, dtype=torch.float32), n, torch.zeros(n, 2))


def cycle(n: int) -> Graph:
    return _undirected([(i, (i + 1) % n) for i in range(n)], n)


def path(n: int) -> Graph:
    return _undirected([(i, i + 1) for i in range(n - 1)], n)


# a connected graph with uneven degrees and weights
LOPSIDED = _undirected(
    [(0, 1), (0, 2), (0, 3), (1, 2), (3, 4), (4, 5), (5, 6), (2, 6)],
    7,
    weights=[1.0, 2.0, 0.5, 1.5, 1.0, 3.0, 1.0, 0.7],
)


def test_first_eigenvector_of_combinatorial_laplacian_is_constant():
    vals, vecs = laplacian_eigenvectors(LOPSIDED, k=3, norm="comb")
    assert vals[0] == pytest.approx(0.0, abs=1e-10)
    assert vals[1] > 1e-6  # connected: only one zero eigenvalue
    np.testing.assert_allclose(vecs[:, 0], np.full(7, 1 / np.sqrt(7)), atol=1e-10)  # sign fixed: positive


def test_first_eigenvector_of_sym_laplacian_is_sqrt_degree():
    vals, vecs = laplacian_eigenvectors(LOPSIDED, k=2, norm="sym")
    deg = LOPSIDED.degrees().double().numpy()
    assert vals[0] == pytest.approx(0.0, abs=1e-10)
    np.testing.assert_allclose(vecs[:, 0], np.sqrt(deg) / np.linalg.norm(np.sqrt(deg)), atol=1e-10)


def test_two_components_have_two_zero_eigenvalues():
    g = _undirected([(0, 1), (1, 2), (2, 0), (3, 4), (4, 5)], 6)
    for norm in ("sym", "comb"):
        vals, vecs = laplacian_eigenvectors(g, k=4, norm=norm)
        np.testing.assert_allclose(vals[:2], 0.0, atol=1e-10)
        assert vals[2] > 1e-3
        np.testing.assert_allclose(vecs.T @ vecs, np.eye(4), atol=1e-10)  # orthonormal


def test_sym_laplacian_eigenvalues_lie_in_0_2():
    for g in (LOPSIDED, cycle(7), build_graph("grid", size=8), build_graph("knn", size=8, k=5)):
        vals, _ = laplacian_eigenvectors(g, k=g.num_nodes, norm="sym")
        assert vals.min() >= -1e-10 and vals.max() <= 2 + 1e-10
        assert np.all(np.diff(vals) >= -1e-12)  # ascending
    # bipartite graphs reach 2 exactly (even cycle)
    assert laplacian_eigenvectors(cycle(8), k=8)[0][-1] == pytest.approx(2.0)


@pytest.mark.parametrize("n", [5, 8])
def test_cycle_and_path_match_closed_forms(n):
    vals, _ = laplacian_eigenvectors(cycle(n), k=n, norm="comb")
    np.testing.assert_allclose(vals, np.sort(2 - 2 * np.cos(2 * np.pi * np.arange(n) / n)), atol=1e-10)
    vals, _ = laplacian_eigenvectors(path(n), k=n, norm="comb")
    np.testing.assert_allclose(vals, 2 - 2 * np.cos(np.pi * np.arange(n) / n), atol=1e-10)
    # the cycle is 2-regular: sym L = comb L / 2
    vals, _ = laplacian_eigenvectors(cycle(n), k=n, norm="sym")
    np.testing.assert_allclose(vals, np.sort(1 - np.cos(2 * np.pi * np.arange(n) / n)), atol=1e-10)


def test_sparse_path_agrees_with_dense(monkeypatch):
    from core.analysis import spectral

    g = build_graph("grid", size=10)
    dense_vals, dense_vecs = laplacian_eigenvectors(g, k=6, norm="comb")
    monkeypatch.setattr(spectral, "DENSE_MAX_NODES", 10)
    vals, vecs = laplacian_eigenvectors(g, k=6, norm="comb")
    np.testing.assert_allclose(vals, dense_vals, atol=1e-8)
    np.testing.assert_allclose(np.abs(vecs[:, 0]), np.abs(dense_vecs[:, 0]), atol=1e-6)


def test_laplacian_and_input_errors():
    L = laplacian(LOPSIDED, "comb")
    np.testing.assert_allclose(L.sum(axis=1), 0.0, atol=1e-12)
    with pytest.raises(UserInputError) as err:
        laplacian_eigenvectors(LOPSIDED, norm="rw")
    assert err.value.param == "norm"
    with pytest.raises(UserInputError):
        laplacian_eigenvectors(LOPSIDED, k=0)
    with pytest.raises(UserInputError) as err:
        graph_fourier_transform(LOPSIDED, np.ones(5))
    assert err.value.param == "signal"


def test_fourier_transform_is_orthonormal_and_low_pass_rebuilds():
    g = build_graph("grid", size=8)
    x = np.random.default_rng(0).random((8, 8))
    coeffs = graph_fourier_transform(g, x)
    assert coeffs.shape == (64,)
    assert np.sum(coeffs**2) == pytest.approx(np.sum(x**2))  # Parseval
    np.testing.assert_allclose(low_pass(g, x, 64), x.ravel(), atol=1e-10)
    _, vecs = laplacian_eigenvectors(g, k=64)
    np.testing.assert_allclose(vecs @ coeffs, x.ravel(), atol=1e-10)
    assert graph_fourier_transform(g, x, k=5).shape == (5,)


def test_low_pass_series_keeps_cutoffs_below_the_node_count_with_their_energy():
    g = build_graph("grid", size=8)
    x = np.random.default_rng(1).random((8, 8))
    series = low_pass_series(g, x, (4, 16, 64, 100))
    assert series.kept == [4, 16]  # 64 would rebuild the image exactly; 100 is more than the nodes
    np.testing.assert_allclose(series.images[1], low_pass(g, x, 16).reshape(8, 8))
    coeffs = graph_fourier_transform(g, x)
    assert series.energy[0] == pytest.approx(float((coeffs[:4] ** 2).sum() / (coeffs**2).sum()))
    assert 0 < series.energy[0] < series.energy[1] < 1


# ----------------------------------------------------------------------------- Chebyshev filters


def _cheb(thetas, c_in=1, c_out=1) -> ChebConv:
    """A ChebConv with lins[k].weight filled with thetas[k] and bias 0."""
    layer = ChebConv(c_in, c_out, K=len(thetas))
    with torch.no_grad():
        for lin, t in zip(layer.lins, thetas, strict=True):
            weight = cast(torch.nn.Linear, lin).weight  # lins are Linear layers (a ModuleList reads as Module)
            weight.copy_(torch.as_tensor(t, dtype=torch.float32).expand_as(weight))
        assert layer.bias is not None  # ChebConv has a bias unless told not to
        layer.bias.zero_()
    return layer


def test_chebyshev_basis_is_cos_k_arccos():
    x = np.linspace(-1, 1, 11)
    np.testing.assert_allclose(chebyshev_basis(x, 6), np.cos(np.arange(6)[:, None] * np.arccos(x)[None]), atol=1e-12)


def test_response_of_hand_set_filters():
    lam = np.linspace(0, 2, 9)
    np.testing.assert_allclose(cheb_frequency_response(_cheb([1.0, 0.0, 0.0]), lam)[:, 0, 0], 1.0)
    np.testing.assert_allclose(cheb_frequency_response(_cheb([0.0, 1.0]), lam)[:, 0, 0], lam - 1.0)
    np.testing.assert_allclose(
        cheb_frequency_response(_cheb([0.0, 1.0]), lam, lambda_max=4.0)[:, 0, 0], 2 * lam / 4.0 - 1.0
    )
    x = lam - 1.0
    np.testing.assert_allclose(
        cheb_frequency_response(_cheb([0.5, 0.0, 2.0]), lam)[:, 0, 0], 0.5 + 2.0 * (2 * x**2 - 1), atol=1e-6
    )


def test_response_shape_follows_channels():
    layer = ChebConv(3, 5, K=4)
    resp = cheb_frequency_response(layer, np.linspace(0, 2, 7))
    assert resp.shape == (7, 3, 5)
    # entry [l, i, o] uses lins[k].weight[o, i]
    w = np.stack([lin.weight.detach().double().numpy() for lin in layer.lins])  # (K, out, in)
    basis = chebyshev_basis(np.linspace(0, 2, 7) - 1.0, 4)
    np.testing.assert_allclose(resp[:, 2, 4], basis.T @ w[:, 4, 2], atol=1e-6)


@pytest.mark.parametrize("graph", [build_graph("grid", size=6), LOPSIDED])
def test_layer_on_an_eigenvector_scales_it_by_the_response(graph):
    torch.manual_seed(0)
    layer = ChebConv(1, 3, K=4)
    with torch.no_grad():
        layer.bias.zero_()
    vals, vecs = laplacian_eigenvectors(graph, k=graph.num_nodes, norm="sym")
    u = torch.tensor(vecs.T, dtype=torch.float32).unsqueeze(-1)  # (N eigvecs as a batch, N, 1)
    out = layer(u, SharedGraph(graph)).detach().double().numpy()  # (N, N, 3)
    resp = cheb_frequency_response(layer, vals)  # (N, 1, 3)
    expected = resp[:, 0, None, :] * vecs.T[:, :, None]  # g_o(lambda_i) u_i
    np.testing.assert_allclose(out, expected, atol=1e-5)


def test_load_cheb_run_gives_the_trained_weights_and_clear_errors(tmp_path):
    from core.analysis.results import load_run_model
    from core.analysis.spectral import load_cheb_run
    from core.training.runs import RunConfig, execute
    from core.training.store import CheckpointError, RunStore, checkpoint_path, save_checkpoint

    store = RunStore()
    cfg = RunConfig.make(model="cheb", K=3, layers=1, hidden=4, epochs=1, quick=True)
    run_id = execute(cfg, store)["run_id"]
    run = store.get_run(run_id)
    assert [r["id"] for r in store.runs_with_weights("cheb")] == [run_id]
    model, graph = load_cheb_run(run)
    reference, _, ds = load_run_model(run_id, store)  # the Results page's full rebuild of the same run
    x = torch.as_tensor(ds.x_test[:8])
    with torch.no_grad():
        assert torch.equal(model(x), reference(x))
    assert graph.num_nodes == 784 and not model.training
    from core.analysis.spectral import cheb_layer_response

    shown = cheb_layer_response(run, 0, points=11)  # what the Spectral view draws for the run's layer
    np.testing.assert_allclose(shown.response, cheb_frequency_response(model.convs[0], np.linspace(0, 2, 11)))
    assert shown.K == 3 and shown.layers == 1 and shown.eigenvalues.shape == (784,)
    assert shown.eigenvalues.min() > -1e-9 and shown.eigenvalues.max() <= 2 + 1e-9
    with pytest.raises(UserInputError, match="has 1 graph layers"):
        cheb_layer_response(run, 1)

    def stored(checkpoint, config=cfg) -> dict:
        other = store.create_run(config.to_dict())
        store.finish(other, {"test_accuracy": 0.1}, checkpoint=str(checkpoint))
        return store.get_run(other)

    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint" * 40)
    with pytest.raises(CheckpointError, match="corrupt"):
        load_cheb_run(stored(bad))
    with pytest.raises(CheckpointError, match="does not exist"):
        load_cheb_run(stored(tmp_path / "gone.pt"))
    wider = RunConfig.make(model="cheb", K=3, layers=1, hidden=8, epochs=1, quick=True)
    from core.models import MODELS

    misfit = MODELS.get("cheb")(wider.model_config(), graph).state_dict()
    with pytest.raises(CheckpointError, match="does not fit a ChebNet built from run"):
        load_cheb_run(stored(save_checkpoint(misfit, checkpoint_path(998))))
    with pytest.raises(UserInputError, match="not a ChebNet"):
        load_cheb_run(stored(run["checkpoint"], RunConfig.make(model="mlp", epochs=1, quick=True)))
