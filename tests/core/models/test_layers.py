"""Shared-graph layers against PyG's reference layers, run per image on the same graph and weights."""

from __future__ import annotations

import copy
import io
from typing import Any

import pytest
import torch
import torch.nn.functional as F
import torch_geometric.nn as pyg
from torch import nn
from torch.testing import assert_close
from torch_geometric.data import Batch, Data

from core.config import REPO_ROOT
from core.graphs.base import Graph
from core.graphs.normalize import NORMS, normalize
from core.models.layers import (
    ChebConv,
    GATConv,
    GCNConv,
    GINConv,
    LearnedEdgeConv,
    SAGEConv,
    SharedGraph,
    propagate,
    propagate_linear,
)
from core.models.layers.registry import LAYERS

B = 3  # images per batch
ATOL: dict[str, Any] = dict(atol=1e-5, rtol=0.0)  # float32, outputs of order 1


def grid_graph(side: int = 5) -> Graph:
    """side x side pixels, 8-neighbour, unweighted, both directions stored."""
    src, dst = [], []
    for r in range(side):
        for c in range(side):
            for dr in (-1, 0, 1):
                for dc in (-1, 0, 1):
                    rr, cc = r + dr, c + dc
                    if (dr or dc) and 0 <= rr < side and 0 <= cc < side:
                        src.append(rr * side + cc)
                        dst.append(r * side + c)
    rows, cols = torch.meshgrid(torch.arange(side), torch.arange(side), indexing="ij")
    pos = torch.stack([cols.flatten(), rows.flatten()], dim=1).float()
    ei = torch.tensor([src, dst])
    return Graph(ei, torch.ones(ei.shape[1]), side * side, pos, kind="grid")


def random_graph(n: int = 20, p: float = 0.3, weighted: bool = True, seed: int = 0) -> Graph:
    """Random symmetric graph; the last node is isolated (exercises zero degrees)."""
    g = torch.Generator().manual_seed(seed)
    upper = torch.triu(torch.rand(n, n, generator=g) < p, diagonal=1)
    upper[:, -1] = False
    w = torch.rand(n, n, generator=g) * 0.9 + 0.1 if weighted else torch.ones(n, n)
    a = torch.where(upper, w, torch.zeros(())).float()
    a = a + a.T
    dst, src = a.nonzero(as_tuple=True)
    return Graph(torch.stack([src, dst]), a[dst, src], n, torch.rand(n, 2, generator=g) * 27, kind="random")


GRAPHS = {"grid": grid_graph, "weighted": random_graph, "unweighted": lambda: random_graph(weighted=False)}


def randomize(module: nn.Module, seed: int = 0) -> nn.Module:
    """Random non-zero values for every parameter (biases included) so nothing passes by accident."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.5)
    return module


def per_image(ref: nn.Module, x: torch.Tensor, graph: Graph, weighted: bool) -> torch.Tensor:
    """PyG layer run on each image separately: (B, N, C) -> (B, N, C_out)."""
    args = (graph.edge_index, graph.edge_weight) if weighted else (graph.edge_index,)
    return torch.stack([ref(xb, *args) for xb in x])


def check(ours: nn.Module, ref: nn.Module, graph: Graph, sparse: bool, weighted: bool, c_in: int) -> None:
    randomize(ours)
    ref.load_state_dict(ours.state_dict())  # same names as PyG: strict copy of every weight
    x = torch.randn(B, graph.num_nodes, c_in, generator=torch.Generator().manual_seed(1))
    got = ours(x, SharedGraph(graph, sparse=sparse))
    assert_close(got, per_image(ref, x, graph, weighted), **ATOL)


# ---------------------------------------------------------------------------------- propagation


def test_propagate_sparse_and_dense_agree():
    g = random_graph()
    x = torch.randn(B, g.num_nodes, 4)
    dense = g.to_dense()
    want = torch.einsum("ij,bjc->bic", dense, x)
    coo = dense.to_sparse()
    for adj in (dense, coo, coo.to_sparse_csr()):
        assert_close(propagate(adj, x), want, **ATOL)


@pytest.mark.parametrize("c_in,c_out", [(6, 3), (3, 6)])  # W before / after the graph product
def test_propagate_linear_either_order(c_in, c_out):
    g = random_graph()
    x, w = torch.randn(B, g.num_nodes, c_in), torch.randn(c_out, c_in)
    want = torch.einsum("ij,bjc,dc->bid", g.to_dense(), x, w)
    assert_close(propagate_linear(g.to_sparse(), x, w), want, **ATOL)


# --------------------------------------------------------------------------------- SharedGraph


@pytest.mark.parametrize("norm", list(NORMS))
def test_shared_graph_adj_is_the_normalised_graph(norm):
    g = random_graph()
    want = normalize(g, norm).to_dense()
    for sparse in (True, False):
        a = SharedGraph(g, sparse=sparse).adj(norm)
        assert (a.layout == torch.sparse_csr) == sparse
        assert_close(a.to_dense(), want, **ATOL)


def test_shared_graph_picks_sparse_by_density():
    assert SharedGraph(grid_graph(28)).adj("gcn").layout == torch.sparse_csr  # ~1% dense
    n = 30
    ii, jj = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
    off = ii != jj
    full = Graph(torch.stack([jj[off], ii[off]]), torch.rand(n * (n - 1)), n, torch.rand(n, 2))
    assert SharedGraph(full).adj("gcn").layout == torch.strided  # complete graph: dense matmul


def test_shared_graph_cache_follows_moves_and_casts():
    sg = SharedGraph(grid_graph(), sparse=True)
    a = sg.adj("gcn")
    assert sg.adj("gcn") is a  # cached per norm
    assert sg.adj("rw") is not a
    owner = nn.Sequential(nn.Linear(2, 2))
    owner.graph = sg
    owner.to(torch.float64)  # moving/casting the owning model reaches the graph's _apply
    a64 = sg.adj("gcn")
    assert a64 is not a and a64.dtype == torch.float64 and sg.edge_weight.dtype == torch.float64
    assert_close(a64.to_dense().float(), a.to_dense())
    sg.to("cpu")
    assert sg.adj("gcn").device.type == "cpu"
    meta = SharedGraph(grid_graph()).to("meta")  # a device change without a GPU: dense, on that device
    assert meta.adj("gcn").device.type == "meta" and meta.adj("gcn").shape == (25, 25)
    assert "edge_index" not in sg.state_dict()  # rebuilt from config, not saved with the model


def test_shared_graph_with_filled_cache_deepcopies_and_saves():
    sg = SharedGraph(grid_graph(), sparse=True)
    a = sg.adj("gcn")  # sparse CSR tensors support neither deepcopy nor pickling
    buf = io.BytesIO()
    torch.save(nn.ModuleList([sg]), buf)
    buf.seek(0)
    for other in (copy.deepcopy(sg), torch.load(buf, weights_only=False)[0]):
        assert_close(other.adj("gcn").to_dense(), a.to_dense())
    assert sg.adj("gcn") is a  # the original keeps its cache


def test_adjacency_cached_in_inference_mode_still_trains():
    sg, conv = SharedGraph(grid_graph(), sparse=True), GCNConv(3, 4)
    x = torch.randn(B, 25, 3)
    with torch.inference_mode():
        conv(x, sg)  # first use fills the cache
    x.requires_grad_(True)
    conv(x, sg).sum().backward()
    assert x.grad is not None and conv.lin.weight.grad.abs().sum() > 0


# ------------------------------------------------------------------------------- against PyG


@pytest.mark.parametrize("graph", ["grid", "weighted"])
@pytest.mark.parametrize("sparse", [True, False])
@pytest.mark.parametrize("c_in,c_out", [(4, 6), (6, 3)])
def test_gcn_matches_pyg(graph, sparse, c_in, c_out):
    check(GCNConv(c_in, c_out), pyg.GCNConv(c_in, c_out), GRAPHS[graph](), sparse, True, c_in)


@pytest.mark.parametrize("K", [1, 2, 3, 5])
@pytest.mark.parametrize("graph", ["grid", "weighted"])
@pytest.mark.parametrize("sparse", [True, False])
def test_cheb_matches_pyg(K, graph, sparse):
    ref = pyg.ChebConv(4, 5, K=K, normalization="sym")  # lambda_max defaults to 2 for "sym"
    check(ChebConv(4, 5, K=K), ref, GRAPHS[graph](), sparse, True, 4)


@pytest.mark.parametrize("graph", ["grid", "unweighted"])
@pytest.mark.parametrize("sparse", [True, False])
@pytest.mark.parametrize("normalize_out", [False, True])
def test_sage_matches_pyg(graph, sparse, normalize_out):
    ref = pyg.SAGEConv(4, 6, aggr="mean", normalize=normalize_out)
    check(SAGEConv(4, 6, normalize=normalize_out), ref, GRAPHS[graph](), sparse, False, 4)


@pytest.mark.parametrize("graph", ["grid", "unweighted"])
@pytest.mark.parametrize("sparse", [True, False])
@pytest.mark.parametrize("train_eps", [False, True])
def test_gin_matches_pyg(graph, sparse, train_eps):
    ours = GINConv(4, 6, eps=0.3, train_eps=train_eps)
    ref = pyg.GINConv(nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 6)), eps=0.3, train_eps=train_eps)
    check(ours, ref, GRAPHS[graph](), sparse, False, 4)


@pytest.mark.parametrize("graph", ["grid", "unweighted"])
@pytest.mark.parametrize("heads", [1, 3])
@pytest.mark.parametrize("concat", [True, False])
def test_gat_matches_pyg(graph, heads, concat):
    ours = GATConv(4, 5, heads=heads, concat=concat)
    check(ours, pyg.GATConv(4, 5, heads=heads, concat=concat), GRAPHS[graph](), True, False, 4)


def test_gat_without_self_loops_matches_pyg():
    ours = GATConv(4, 5, heads=2, add_self_loops=False)
    check(ours, pyg.GATConv(4, 5, heads=2, add_self_loops=False), grid_graph(), True, False, 4)


@pytest.mark.parametrize(
    "ours,ref",
    [
        (lambda: GCNConv(4, 6), lambda: pyg.GCNConv(4, 6)),
        (lambda: GATConv(4, 5, heads=2), lambda: pyg.GATConv(4, 5, heads=2)),
    ],
    ids=["gcn", "gat"],
)
def test_shared_graph_equals_pyg_block_diagonal_batch(ours, ref):
    g = grid_graph()
    ours, ref = randomize(ours()), ref()
    ref.load_state_dict(ours.state_dict())
    x = torch.randn(B, g.num_nodes, 4)
    batch = Batch.from_data_list([Data(x=xb, edge_index=g.edge_index, num_nodes=g.num_nodes) for xb in x])
    want = ref(batch.x, batch.edge_index).view(B, g.num_nodes, -1)
    assert_close(ours(x, SharedGraph(g)), want, **ATOL)


# ----------------------------------------------------------------------------- learned edges


def test_learned_edges_get_gradients_and_drive_the_output():
    sg = SharedGraph(grid_graph(), sparse=True)
    conv = LearnedEdgeConv(3, 4)
    x = torch.randn(B, 25, 3)
    out = conv(x, sg)
    out.square().sum().backward()
    for name, p in conv.edge_mlp.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    with torch.no_grad():
        conv.edge_mlp[0].weight.add_(0.5)
    assert (conv(x, sg) - out).abs().max() > 1e-3


@pytest.mark.parametrize("norm", ["rw", "sym"])
def test_learned_forward_is_dense_adjacency_product(norm):
    g = grid_graph()
    conv = randomize(LearnedEdgeConv(3, 4, norm=norm))
    x = torch.randn(B, 25, 3)
    a = conv.dense_adjacency(SharedGraph(g))  # (N, N)
    want = torch.einsum("ij,bjc,dc->bid", a, x, conv.lin.weight) + conv.bias
    for sparse in (True, False):
        assert_close(conv(x, SharedGraph(g, sparse=sparse)), want, **ATOL)
    sg = SharedGraph(g)
    raw = conv.edge_weights(sg, normalized=False)
    assert raw.shape == (g.num_edges + 25,) and (raw > 0).all()  # every edge plus one loop per node
    r = torch.zeros(25, 25).index_put(tuple(conv.edge_index(sg).flip(0)), raw, accumulate=True)
    d = r.sum(dim=1)  # learned in-degrees
    want_a = r / d[:, None] if norm == "rw" else d.rsqrt()[:, None] * r * d.rsqrt()[None, :]
    assert_close(a, want_a, **ATOL)


def test_learned_diff_inputs_give_the_same_filter_everywhere():
    sg = SharedGraph(grid_graph())
    a = LearnedEdgeConv(1, 1, inputs="diff", norm="rw").dense_adjacency(sg).detach()
    interior = [6, 7, 12, 18]  # nodes (row, col) with all 8 neighbours
    filters = [a[i].view(5, 5).roll((2 - i // 5, 2 - i % 5), dims=(0, 1)) for i in interior]
    for f in filters[1:]:
        assert_close(f, filters[0], **ATOL)


class OffsetTable(nn.Module):
    """Stands in for the edge MLP: looks up a 3x3 kernel's entries by pixel offset (d col, d row)."""

    def __init__(self, kernel: torch.Tensor):  # (C_out, C_in, 3, 3)
        super().__init__()
        self.table = nn.Parameter(kernel.permute(2, 3, 0, 1).reshape(9, -1))  # (9, C_out * C_in), o * C_in + c

    def forward(self, offsets: torch.Tensor) -> torch.Tensor:  # (E, 2) -> (E, C_out * C_in)
        index = ((offsets[:, 1] + 1) * 3 + (offsets[:, 0] + 1)).long()  # row-major position in the 3x3 window
        return self.table[index]


def test_learned_pair_edge_sets_on_the_8_neighbour_grid_are_a_3x3_convolution():
    """Offsets in, one edge set per channel pair, no normalisation: exactly conv2d (zero padding)."""
    side, c_in, c_out = 7, 3, 4
    g = torch.Generator().manual_seed(0)
    kernel, bias = torch.randn(c_out, c_in, 3, 3, generator=g), torch.randn(c_out, generator=g)
    conv = LearnedEdgeConv(c_in, c_out, inputs="offset", norm="none", activation="none", edge_sets="pair")
    conv.edge_mlp = OffsetTable(kernel)
    with torch.no_grad():
        conv.bias.copy_(bias)
    images = torch.randn(B, c_in, side, side, generator=g)
    nodes = images.permute(0, 2, 3, 1).reshape(B, side * side, c_in)  # node = row * side + col
    want = F.conv2d(images, kernel, bias, padding=1).permute(0, 2, 3, 1).reshape(B, side * side, c_out)
    assert_close(conv(nodes, SharedGraph(grid_graph(side))), want, **ATOL)
    assert conv.lin is None and "edge_sets=pair" in repr(conv)


def test_learned_out_edge_sets_give_each_output_channel_its_own_adjacency():
    sg = SharedGraph(grid_graph())
    conv = randomize(LearnedEdgeConv(3, 4, inputs="offset", activation="tanh", edge_sets="out"))
    x = torch.randn(B, 25, 3)
    h = x @ conv.lin.weight.t()  # (B, N, C_out)
    want = torch.stack([conv.dense_adjacency(sg, o) @ h[:, :, o].unsqueeze(-1) for o in range(4)], -1)
    assert_close(conv(x, sg), want.squeeze(-2) + conv.bias, **ATOL)
    assert conv.edge_weights(sg).shape == (sg.edges("sum")[0].shape[1], 4)


def test_tanh_weights_are_signed_and_rw_normalises_their_magnitudes():
    sg = SharedGraph(grid_graph())
    conv = randomize(LearnedEdgeConv(2, 2, inputs="offset", activation="tanh", norm="rw", edge_sets="pair"))
    w = conv.edge_weights(sg)  # (E', 4)
    assert (w < 0).any() and (w > 0).any()  # a filter can subtract: an edge detector, not only a blur
    dst = conv.edge_index(sg)[1]
    row_sums = torch.zeros(25, 4).index_add(0, dst, w.abs())
    assert_close(row_sums, torch.ones(25, 4), **ATOL)
    x = torch.randn(B, 25, 2, requires_grad=True)
    conv(x, sg).square().sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in conv.edge_mlp.parameters())


def test_learned_rejects_unknown_options():
    for kw in ({"activation": "relu"}, {"edge_sets": "many"}, {"norm": "l2"}, {"inputs": "polar"}):
        with pytest.raises(ValueError):
            LearnedEdgeConv(2, 2, **kw)


# ------------------------------------------------------------------------- registry and plumbing


@pytest.mark.parametrize("name", ["gcn", "cheb", "sage", "gin", "gat", "learned"])
def test_registry_builds_layers_that_train(name):
    layer = LAYERS.get(name)(3, 8, K=3, heads=2)  # options of other layers are ignored
    x = torch.randn(B, 25, 3, requires_grad=True)
    out = layer(x, SharedGraph(grid_graph(), sparse=True))
    assert out.shape == (B, 25, 16 if name == "gat" else 8)
    out.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert repr(layer).startswith(type(layer).__name__ + "(3, 8")


@pytest.mark.parametrize("name", ["gcn", "cheb", "sage", "gin", "gat", "learned"])
def test_reset_parameters_changes_weights(name):
    layer = LAYERS.get(name)(3, 8)
    before = [p.detach().clone() for p in layer.parameters()]
    layer.reset_parameters()
    assert any(not torch.equal(b, p) for b, p in zip(before, layer.parameters(), strict=True))


def test_cheb_rejects_order_zero():
    with pytest.raises(ValueError):
        ChebConv(3, 4, K=0)


def test_local_initialisers_match_pyg_draw_for_draw():
    """core.models.layers.inits replaces torch_geometric's (150 MB to import): same RNG draws, same values."""
    from torch_geometric.nn import inits as pyg

    from core.models.layers import inits

    for shape in [(32, 5), (4, 1, 16), (1, 1, 8)]:
        torch.manual_seed(3)
        a = torch.empty(shape)
        inits.glorot(a)
        torch.manual_seed(3)
        b = torch.empty(shape)
        pyg.glorot(b)
        assert torch.equal(a, b)
    mlp = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    torch.manual_seed(5)
    inits.reset(mlp)
    ours = [p.clone() for p in mlp.parameters()]
    torch.manual_seed(5)
    pyg.reset(mlp)
    assert all(torch.equal(x, y) for x, y in zip(ours, mlp.parameters(), strict=True))
    bias = torch.ones(4)
    inits.zeros(bias)
    assert torch.equal(bias, torch.zeros(4))


def test_segment_softmax_matches_pyg_softmax_values_and_gradients():
    from torch_geometric.utils import softmax as pyg_softmax

    from core.models.layers.inits import segment_softmax

    g = torch.Generator().manual_seed(0)
    index = torch.tensor([0, 0, 1, 3, 3, 3, 1, 0])  # node 2 has no incoming entries
    src = (torch.randn(8, 2, 3, generator=g) * 5).requires_grad_()  # (E, B, H), large values: needs the max shift
    ours = segment_softmax(src, index, num_nodes=4)
    ref = pyg_softmax(src, index, num_nodes=4)
    assert torch.allclose(ours, ref, atol=1e-6)
    sums = torch.zeros(4, 2, 3).index_add_(0, index, ours)
    assert torch.allclose(sums[[0, 1, 3]], torch.ones(3, 2, 3), atol=1e-6)
    w = torch.randn(8, 2, 3, generator=g)
    (g1,) = torch.autograd.grad((ours * w).sum(), src)
    (g2,) = torch.autograd.grad((ref * w).sum(), src)
    assert torch.allclose(g1, g2, atol=1e-6)


def test_fixed_graph_models_do_not_import_torch_geometric():
    import subprocess
    import sys

    code = (
        "import sys; from core.training.runs import RunConfig, build_everything; "
        "build_everything(RunConfig.make(model='gat', quick=True)); "
        "build_everything(RunConfig.make(model='gin', quick=True)); "
        "print('torch_geometric' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO_ROOT,
    )
    assert out.stdout.strip().splitlines()[-1] == "False"


def test_offset_weights_from_distinct_offsets_equal_the_per_edge_mlp():
    from core.graphs import build_graph

    sg = SharedGraph(build_graph("complete", size=6))  # 36 * 36 edges with loops, 121 distinct offsets
    conv = randomize(LearnedEdgeConv(2, 3, inputs="offset", activation="tanh", norm="none", edge_sets="out"))
    offsets, inverse = conv._distinct_offsets(sg)
    assert offsets.shape == (121, 2) and inverse.shape == (36 * 36,)
    per_edge = torch.tanh(conv.edge_mlp(conv.edge_features(sg)))  # (E', 3) the MLP on every edge
    assert_close(conv.edge_weights(sg), per_edge, **ATOL)


def test_edge_mlp_learns_a_stroke_detector_on_a_toy_task():
    """A few Adam steps move the edge MLP far from its start and fit a signed (Sobel) 3x3 filter."""
    side = 8
    g = torch.Generator().manual_seed(0)
    sobel = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]) / 4
    images = torch.rand(16, 1, side, side, generator=g)
    target = F.conv2d(images, sobel.view(1, 1, 3, 3), padding=1).reshape(16, side * side, 1)  # (B, N, 1)
    nodes = images.reshape(16, side * side, 1)
    torch.manual_seed(0)
    conv = LearnedEdgeConv(
        1, 1, hidden_channels=16, inputs="offset", activation="tanh", norm="none", edge_sets="pair", bias=False
    )
    sg = SharedGraph(grid_graph(side))
    start = [p.detach().clone() for p in conv.edge_mlp.parameters()]
    opt = torch.optim.Adam(conv.parameters(), lr=0.02)
    first = F.mse_loss(conv(nodes, sg), target).item()
    for _ in range(150):
        loss = F.mse_loss(conv(nodes, sg), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.05 * first  # the filter was learned, not only rescaled
    moved = sum((p.detach() - s).norm() for p, s in zip(conv.edge_mlp.parameters(), start, strict=True))
    assert moved > 1.0
    w = conv.dense_adjacency(sg)[27].view(side, side)[2:5, 2:5]  # pixel (3, 3)'s learned 3x3 filter
    assert_close(w.detach(), sobel, atol=0.05, rtol=0)
