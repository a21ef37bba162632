"""Every registered model (escnn has its own tests) on real MNIST digits: shapes, features, gradients,
graph levels, graph checks and batch independence."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.data import Batch, Data

from core.data.datasets import load_dataset
from core.errors import UserInputError
from core.graphs import build_graph
from core.models import MODELS, NEEDS_FIXED_GRAPH
from core.models.graph_net import FIXED_GRAPH_LAYERS, GraphNet

B = 3
IMAGE_MODELS = [n for n in MODELS.names() if n not in ("escnn", "superpixel")]  # includes tutorial
GRAPH_MODELS = sorted(NEEDS_FIXED_GRAPH)


@pytest.fixture(scope="module")
def digits() -> torch.Tensor:
    ds = load_dataset("mnist-5k", quick=True)
    return ds.x_train[:B].unsqueeze(1)  # (B, 1, 28, 28) in [0, 1]


@pytest.fixture(scope="module")
def grid8():
    return build_graph("grid", size=28, neighbours=8)


@pytest.fixture(scope="module")
def superpixel_batch():
    ds = load_dataset("mnist-5k", quick=True)
    graphs = [build_graph("superpixels", image=ds.x_train[i].numpy()) for i in range(2)]
    return Batch.from_data_list(
        [Data(x=g.x.float(), edge_index=g.edge_index, edge_weight=g.edge_weight) for g in graphs]
    ), graphs


def build(name: str, graph, **cfg):
    """Model ``name`` with ``cfg``'s values of the settings it has (one call site sets K and heads for every model)."""
    torch.manual_seed(0)
    return MODELS.get(name)(MODELS.config(name, **{k: v for k, v in cfg.items() if k in MODELS.settings(name)}), graph)


def test_registry_lists_every_model():
    assert set(MODELS.names()) >= {"mlp", "cnn", "gcn", "cheb", "sage", "gin", "gat", "learned", "superpixel", "escnn"}
    assert set(GRAPH_MODELS) == set(FIXED_GRAPH_LAYERS)
    with pytest.raises(UserInputError) as e:
        MODELS.get("resnet")
    assert e.value.param == "model"


@pytest.mark.parametrize("name", IMAGE_MODELS)
def test_image_model_logits_and_features(name, digits, grid8):
    model = build(name, grid8 if name in NEEDS_FIXED_GRAPH else None).eval()
    with torch.no_grad():
        logits, feats = model(digits), model.features(digits)
        again = model.classifier(feats)
    assert logits.shape == (B, 10) and torch.isfinite(logits).all()
    assert feats.dim() == 2 and feats.shape[0] == B and feats.shape[1] > 0
    torch.testing.assert_close(logits, again)
    assert model.num_parameters() == sum(p.numel() for p in model.parameters()) > 0


@pytest.mark.parametrize("name", GRAPH_MODELS)
def test_graph_model_backward_reaches_every_parameter(name, digits, grid8):
    model = build(name, grid8, hidden=8).train()
    labels = torch.arange(B)
    torch.nn.functional.cross_entropy(model(digits), labels).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing
    zero = [n for n, p in model.named_parameters() if p.grad.abs().sum() == 0]
    assert not zero, f"parameters without gradient signal: {zero}"
    # the graph is rebuilt from the config, not stored with the weights
    assert not [k for k in model.state_dict() if k.endswith(("edge_index", "edge_weight"))]


@pytest.mark.parametrize(
    "layers, readout, levels, out_size",
    [
        (1, "pool", [784], 14),
        (2, "pool", [784, 196], 7),
        (3, "pool", [784, 196, 49], 7),  # 7 is odd: no pooling after the third layer
        (2, "global", [784, 784], 28),
    ],
)
def test_graph_levels(layers, readout, levels, out_size, grid8, digits):
    model = build("cheb", grid8, layers=layers, readout=readout, hidden=4, K=2)
    assert [g.num_nodes for g in model.graphs] == levels
    assert model.out_size == out_size
    # each level is the same kind of graph on the coarser layout: an 8-neighbour grid of side s
    for g in model.graphs:
        side = round(g.num_nodes**0.5)
        assert g.kind == "grid" and g.num_edges == build_graph("grid", size=side, neighbours=8).num_edges
    feats = model.node_features(digits)
    assert [f.shape[:2] for f in feats] == [(B, n) for n in levels]


def test_coarse_knn_graph_keeps_k_below_node_count(digits):
    g = build_graph("knn", size=28, k=60)
    model = build("gcn", g, layers=3, hidden=4)
    assert [s.num_nodes for s in model.graphs] == [784, 196, 49]
    assert model(digits).shape == (B, 10)


@pytest.mark.parametrize("name", GRAPH_MODELS)
def test_fixed_graph_models_refuse_superpixels_and_no_graph(name, superpixel_batch):
    _, graphs = superpixel_batch
    for graph in (graphs[0], None):
        with pytest.raises(UserInputError) as e:
            build(name, graph)
        assert e.value.param == "graph"


def test_graph_net_refuses_non_square_graph():
    g = build_graph("superpixels", image=load_dataset("mnist-5k", quick=True).x_train[0].numpy())
    with pytest.raises(UserInputError) as e:
        GraphNet(g.with_(kind="grid"), "gcn")
    assert e.value.param == "graph"


@pytest.mark.parametrize("name", ["cheb", "gat"])
def test_batch_independence(name, digits, grid8):
    model = build(name, grid8, hidden=8, K=3, heads=2).eval()
    with torch.no_grad():
        together = model(digits)
        alone = torch.cat([model(digits[i : i + 1]) for i in range(B)])
    torch.testing.assert_close(together, alone, atol=1e-5, rtol=0)
    assert not torch.allclose(together[0], together[1])  # different digits, different logits


def test_gaussian_graph_gcn_runs_dense(digits):
    g = build_graph("gaussian", size=28, sigma=0.05)
    assert g.num_edges == 784 * 783  # fully connected (weights only)
    model = build("gcn", g, hidden=4)
    assert [s.num_nodes for s in model.graphs] == [784, 196]
    assert [s.adj("gcn").layout for s in model.graphs] == [torch.strided, torch.strided]  # dense matrices
    logits = model.eval()(digits)
    assert logits.shape == (B, 10) and torch.isfinite(logits).all()


@pytest.mark.parametrize("conv", ["gcn", "gat", "gin", "sage", "gatedgcn", "monet", "pna", "cheb"])
def test_superpixel_model(conv, superpixel_batch):
    batch, graphs = superpixel_batch
    assert all(20 < g.num_nodes < 200 for g in graphs)
    model = build("superpixel", None, conv=conv, hidden=8, heads=2, K=2, layers=2)
    model.train()
    logits = model(batch)
    assert logits.shape == (2, 10)
    torch.nn.functional.cross_entropy(logits, torch.tensor([0, 1])).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing

    model.eval()
    with torch.no_grad():
        logits, feats = model(batch), model.features(batch)
        alone = torch.cat(
            [
                model(Batch.from_data_list([Data(x=g.x.float(), edge_index=g.edge_index, edge_weight=g.edge_weight)]))
                for g in graphs
            ]
        )
    assert feats.shape[0] == 2 and feats.dim() == 2
    torch.testing.assert_close(logits, model.classifier(feats))
    torch.testing.assert_close(logits, alone, atol=1e-5, rtol=0)


def test_superpixel_edge_weights_reach_the_layers_that_read_them(superpixel_batch):
    batch, _ = superpixel_batch
    for conv, reads in (("gcn", True), ("gatedgcn", True), ("pna", True), ("sage", False)):
        model = build("superpixel", None, conv=conv, hidden=8, layers=2).eval()
        other = batch.clone()
        other.edge_weight = batch.edge_weight.flip(0)
        with torch.no_grad():  # node features: the readout MLP of a width-8 net may be all dead ReLUs
            changed = not torch.allclose(model.node_features(batch), model.node_features(other))
        assert changed == reads, conv


@pytest.mark.parametrize("conv", ["gcn", "gat", "gatedgcn", "pna"])
def test_superpixel_width_is_sized_to_100k_parameters(conv):
    from core.models.superpixel_net import PARAM_BUDGET

    model = build("superpixel", None, conv=conv, hidden=0, layers=4)  # hidden 0: sized to the budget
    n = sum(p.numel() for p in model.parameters())
    assert abs(n - PARAM_BUDGET) < 0.03 * PARAM_BUDGET, n
    if conv == "gat":
        assert model.width % 4 == 0
    torch.manual_seed(0)
    again = MODELS.get("superpixel")(MODELS.config("superpixel", conv=conv, hidden=0, layers=4))
    torch.manual_seed(0)
    fixed = MODELS.get("superpixel")(MODELS.config("superpixel", conv=conv, hidden=model.width, layers=4))
    # sizing drew no random numbers: the sized model equals one built at that width from the same seed
    assert all(torch.equal(a, b) for a, b in zip(again.state_dict().values(), fixed.state_dict().values(), strict=True))


def test_superpixel_model_rejects_unknown_conv():
    with pytest.raises(UserInputError) as e:
        build("superpixel", None, conv="transformer")
    assert e.value.param == "conv"


def test_node_major_pooling_is_2x2_max_pooling_without_copies():
    from core.models.graph_net import pool_node_major

    g = torch.Generator().manual_seed(0)
    B, C, s = 3, 5, 8
    img = torch.randn(B, C, s, s, generator=g)
    h = img.permute(2, 3, 0, 1).reshape(s * s, B, C).contiguous()  # node-major (N, B, C)
    out = pool_node_major(h, s)  # (N/4, B, C)
    expected = torch.nn.functional.max_pool2d(img, 2).permute(2, 3, 0, 1).reshape(s * s // 4, B, C)
    assert torch.equal(out, expected)
    assert out.is_contiguous()


@pytest.mark.parametrize("name", GRAPH_MODELS)
def test_node_major_network_matches_layer_by_layer_reference(name, digits, grid8):
    """GraphNet's node-major pipeline equals applying each layer's (B, N, C) forward and pooling on images."""
    model = build(name, grid8, hidden=8).eval()
    with torch.no_grad():
        feats = model.node_features(digits)
        h, size = digits.reshape(B, -1, 1), model.side
        for conv, graph, pool, got in zip(model.convs, model.graphs, model.pool_after, feats, strict=True):
            h = torch.relu(conv(h, graph))  # (B, N, C)
            assert torch.allclose(got, h, atol=1e-5)
            if pool:
                img = h.transpose(1, 2).reshape(B, -1, size, size)
                h = torch.nn.functional.max_pool2d(img, 2).flatten(2).transpose(1, 2)
                size //= 2


# ----------------------------------------------------------------------------- the tutorial's one-layer net


def test_tutorial_gaussian_adjacency_is_the_stated_kernel(digits):
    from core.models.tutorial_net import TUTORIAL_CUTOFF, TUTORIAL_SIGMA

    model = build("tutorial", None, adjacency="gaussian")
    a = model.adj  # (784, 784) D^-1/2 A D^-1/2
    rows, cols = torch.arange(784) // 28, torch.arange(784) % 28
    p = torch.stack([cols, rows], 1).double() / 27
    k = torch.exp(-(torch.cdist(p, p) ** 2) / TUTORIAL_SIGMA**2)
    k = torch.where(k >= TUTORIAL_CUTOFF, k, torch.zeros_like(k)).fill_diagonal_(0.0)
    d = k.sum(1).rsqrt()
    torch.testing.assert_close(a.double(), d[:, None] * k * d[None, :], atol=1e-6, rtol=1e-5)
    out = model(digits)
    torch.testing.assert_close(out, model.classifier(digits.flatten(1) @ a.t()))


def test_tutorial_learned_edges_span_every_pixel_pair(digits):
    from core.models.tutorial_net import TUTORIAL_CUTOFF, TUTORIAL_SIGMA

    model = build("tutorial", None, adjacency="learned")
    assert model.graph.num_nodes == 784 and model.conv.edge_index(model.graph).shape[1] == 784 * 784
    assert model.conv.inputs == "abs" and model.conv.activation == "tanh" and model.conv.norm == "none"
    torch.nn.functional.cross_entropy(model(digits), torch.arange(B)).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.conv.edge_mlp.parameters())
    assert build("tutorial", None, adjacency="learned-offset").conv.inputs == "offset"
    local = build("tutorial", None, adjacency="learned-local")  # learned weights on the Gaussian kernel's pairs
    pairs = local.conv.edge_index(local.graph)  # (2, E): the kernel's edges and one loop per pixel
    gaussian = build_graph("gaussian", size=28, sigma=TUTORIAL_SIGMA, cutoff=TUTORIAL_CUTOFF)
    loops = torch.arange(784).repeat(2, 1)
    want = torch.cat([gaussian.edge_index, loops], 1)
    assert {tuple(e) for e in pairs.t().tolist()} == {tuple(e) for e in want.t().tolist()}
    offsets = local.graph.pos[pairs[0]] - local.graph.pos[pairs[1]]  # (E, 2) in pixels
    assert (offsets**2).sum(1).max() == 8  # the kernel's reach: offsets up to (2, 2)
    assert local.conv.inputs == "offset" and local.conv.activation == "tanh"
    torch.nn.functional.cross_entropy(local(digits), torch.arange(B)).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in local.conv.edge_mlp.parameters())
    frozen = build("tutorial", None, adjacency="learned", edge_frozen=True)
    assert not any(p.requires_grad for p in frozen.conv.edge_mlp.parameters())
    with pytest.raises(UserInputError) as e:
        build("tutorial", None, adjacency="knn")
    assert e.value.param == "adjacency"


def test_fourier_features_on_hand_picked_positions():
    from core.models.superpixel_net import fourier_features

    x = torch.tensor([[0.7, 0.5, 0.0], [0.0, 0.25, 1.0]])  # [intensity, x, y]
    f = fourier_features(x, frequencies=2)  # (2, 3 + 8): x, then sin(pi k x), sin(pi k y), cos(pi k x), cos(pi k y)
    assert f.shape == (2, 11)
    torch.testing.assert_close(f[:, :3], x)
    r = 2**-0.5
    expected = torch.tensor(
        [
            [1.0, 0.0, 0.0, 0.0, 0.0, -1.0, 1.0, 1.0],  # x = 0.5: sin(pi/2), sin(pi); y = 0
            [r, 1.0, 0.0, 0.0, r, 0.0, -1.0, 1.0],
        ]
    )  # x = 0.25; y = 1: sin(pi), cos(pi), cos(2pi)
    torch.testing.assert_close(f[:, 3:], expected, atol=1e-6, rtol=0)


def test_superpixel_positions_raw_or_fourier(superpixel_batch):
    batch, _ = superpixel_batch
    raw = build("superpixel", None, conv="sage", hidden=16, layers=2, positions="raw")
    fourier = build("superpixel", None, conv="sage", hidden=16, layers=2)  # the default
    assert raw.embed.in_features == 3 and fourier.embed.in_features == 3 + 32
    assert "positions=fourier" in repr(fourier)
    assert fourier(batch).shape == raw(batch).shape == (2, 10)
    # sized to the same budget either way
    sized = [build("superpixel", None, conv="gcn", hidden=0, layers=4, positions=p) for p in ("raw", "fourier")]
    assert all(abs(sum(q.numel() for q in m.parameters()) - 100_000) < 2_000 for m in sized)
