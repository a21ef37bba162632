"""Filters that change with the digit: a real GAT run's attention (a softmax, what PyG's GATConv returns for the
layer's own input), a real superpixel run's graph (the data pipeline's) and attention, the superpixel mixing rows
(what each PyG layer applies), links to runs that cannot be shown."""

from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from core.analysis.digit_filters import (
    Attention,
    attention_filter,
    attention_frames,
    gat_attention,
    gat_layer_inputs,
    load_gat_run,
    pyg_gat,
    run_problem,
)
from core.analysis.superpixel_filters import (
    SUPERPIXEL_MIXING,
    digit_graph,
    graph_batch,
    load_superpixel_run,
    superpixel_digit,
    superpixel_filter,
    superpixel_mixing,
)
from core.data.datasets import load_dataset
from core.errors import UserInputError
from core.training.runs import RunConfig, execute
from core.training.store import CheckpointError, RunNotFoundError, RunStore, checkpoint_path, save_checkpoint

GAT: dict[str, Any] = dict(model="gat", hidden=8, layers=2, heads=2, epochs=1, quick=True)
SP_GAT: dict[str, Any] = dict(
    model="superpixel", graph="superpixels", conv="gat", hidden=16, layers=2, heads=4, epochs=1, quick=True
)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny GAT run and a tiny superpixel GAT run, trained for one quick epoch on real digits, and the test set."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GRAPHCONV_DATA_DIR", str(tmp_path_factory.mktemp("digit-filters-data")))
        store = RunStore()
        gat_id = execute(RunConfig.make(**GAT), store)["run_id"]
        sp_id = execute(RunConfig.make(**SP_GAT), store)["run_id"]
        ds = load_dataset("mnist-5k", quick=True)
        yield store, load_gat_run(gat_id, store), load_superpixel_run(sp_id, store), ds


def _softmax_sums(att: Attention) -> np.ndarray:
    """(N, H) sum of every node's incoming coefficients, per head."""
    out = np.zeros((att.num_nodes, att.heads))
    np.add.at(out, att.edge_index[1], att.alpha.astype(np.float64))
    return out


# ----------------------------------------------------------------------------- GAT runs on pixel graphs


def test_gat_attention_is_a_softmax_and_what_pyg_returns_for_the_layers_input(trained):
    from torch_geometric.nn import GATConv

    from core.models.graph_net import conv_node_major, pool_node_major

    _, run, _, ds = trained
    image = ds.x_test[5].numpy()  # (28, 28) a real test digit
    digit = gat_attention(run, image)
    assert [a.num_nodes for a in digit.layers] == [784, 196] and [a.heads for a in digit.layers] == [2, 2]
    assert [(i.side, i.heads, i.self_loops) for i in run.layers] == [(28, 2, True), (14, 2, True)]
    # the layers' inputs, by hand: pixels -> layer 1 -> ReLU -> 2x2 pooling -> layer 2
    h = torch.from_numpy(image).reshape(784, 1, 1)  # (N, B, C) node-major, one image
    inputs = []
    with torch.no_grad():
        for conv, g, pool in zip(run.model.convs, run.model.graphs, run.model.pool_after, strict=True):
            inputs.append(h[:, 0].clone())  # (N_l, C_in)
            h = F.relu(conv_node_major(conv, h, g))
            if pool:
                h = pool_node_major(h, round(g.num_nodes**0.5))
    hooked, logits = gat_layer_inputs(run, image)
    for att, x, seen, conv, g in zip(digit.layers, inputs, hooked, run.model.convs, run.model.graphs, strict=True):
        assert torch.allclose(seen, x, atol=1e-6)
        sums = _softmax_sums(att)
        assert np.allclose(sums, 1.0, atol=1e-5)  # a softmax over every node's neighbours, per head
        # a direct call of the layer (PyG's GATConv with this layer's weights) with return_attention_weights
        direct = GATConv(conv.in_channels, conv.out_channels, heads=conv.heads, concat=True).eval()
        direct.load_state_dict(conv.state_dict())
        with torch.no_grad():
            out, (ei, alpha) = direct(x, g.edges("none")[0], return_attention_weights=True)
            assert torch.allclose(out, conv(x[None], g)[0], atol=1e-5)  # PyG's layer is the run's layer
        assert np.array_equal(att.edge_index, ei.numpy()) and np.allclose(att.alpha, alpha.numpy(), atol=1e-6)
        assert len(ei[1]) == g.edges("none")[0].shape[1] + g.num_nodes  # the graph's edges plus a loop per pixel
    assert np.allclose(
        digit.probabilities,
        torch.softmax(run.model(torch.from_numpy(image)[None, None]), 1)[0].detach().numpy(),
        atol=1e-5,
    )
    assert np.allclose(digit.probabilities, torch.softmax(logits, 1)[0].numpy())


def test_gat_attention_by_its_formula_for_one_pixel(trained):
    _, run, _, ds = trained
    image = ds.x_test[0].numpy()
    att = gat_attention(run, image).layer(0)
    conv = run.model.convs[0]
    x = torch.from_numpy(image).reshape(784, 1)  # (N, 1) the first layer reads the pixels
    node, (r, c) = 14 * 28 + 13, (14, 13)
    with torch.no_grad():
        w = conv.lin(x).view(784, conv.heads, conv.out_channels)  # (N, H, C)
        src = (w * conv.att_src).sum(-1)  # (N, H)
        dst = (w * conv.att_dst).sum(-1)
        nbrs = [(r + dr) * 28 + c + dc for dr in (-1, 0, 1) for dc in (-1, 0, 1)]  # 8 neighbours and itself
        alpha = torch.softmax(F.leaky_relu(src[nbrs] + dst[node], conv.negative_slope), dim=0)  # (9, H)
    for h in range(conv.heads):
        row = att.row(node, h)
        assert np.allclose(row[nbrs], alpha[:, h].numpy(), atol=1e-5)
        assert np.count_nonzero(row) == 9 and row.sum() == pytest.approx(1.0, abs=1e-5)
    mean = attention_filter(att, (r, c))  # the mean over heads: still sums to 1
    assert mean.shape == (28, 28) and mean.sum() == pytest.approx(1.0, abs=1e-5)
    assert np.allclose(mean.ravel()[nbrs], alpha.mean(1).numpy(), atol=1e-5)


def test_attention_changes_with_the_digit_and_animates(trained):
    _, run, _, ds = trained
    a, b = (gat_attention(run, ds.x_test[i].numpy()).layer(0) for i in (0, 1))
    assert not np.allclose(a.dense(), b.dense(), atol=1e-4)  # unlike a fixed graph's filter
    second = gat_attention(run, ds.x_test[0].numpy()).layer(1)
    frames = attention_frames(second, [(0, 0), (7, 7), (13, 13)], head=1)
    assert [f.pixel for f in frames] == [(0, 0), (7, 7), (13, 13)]
    assert all(f.image.shape == (14, 14) and f.image.sum() == pytest.approx(1.0, abs=1e-5) for f in frames)
    assert np.count_nonzero(frames[0].image) == 4  # a corner: 3 neighbours and itself
    assert np.allclose(frames[1].image, attention_filter(second, (7, 7), 1))


def test_gat_errors(trained):
    store, run, sp, ds = trained
    att = gat_attention(run, ds.x_test[0].numpy()).layer(1)
    with pytest.raises(UserInputError, match="head: must be an integer in \\[0, 1\\]"):
        att.row(0, 2)
    with pytest.raises(UserInputError, match="pixel"):
        attention_filter(att, (14, 0))  # layer 2 is 14 x 14
    with pytest.raises(UserInputError, match="layer: must be an integer in \\[0, 1\\]"):
        run.layer(2)
    with pytest.raises(UserInputError, match="image: must be a 28×28"):
        gat_attention(run, np.zeros((14, 14)))
    with pytest.raises(UserInputError, match="not a GAT run"):
        load_gat_run(sp.run_id, store)
    with pytest.raises(UserInputError, match="not a superpixel run"):
        load_superpixel_run(run.run_id, store)
    with pytest.raises(RunNotFoundError):
        load_gat_run(999, store)
    assert [r["id"] for r in store.runs_with_weights("gat")] == [run.run_id]
    assert [r["id"] for r in store.runs_with_weights("superpixel")] == [sp.run_id]
    twin = pyg_gat(run.model.convs[0])
    state = torch.get_rng_state()
    pyg_gat(run.model.convs[1])
    assert torch.equal(state, torch.get_rng_state())  # building a twin draws nothing from torch's stream
    assert all(
        torch.equal(a, b)
        for a, b in zip(twin.state_dict().values(), run.model.convs[0].state_dict().values(), strict=True)
    )


# ----------------------------------------------------------------------------- superpixel runs


def test_superpixel_digit_graph_is_the_data_pipelines(trained):
    from core.graphs.superpixel_dataset import superpixel_graphs

    _, _, sp, ds = trained
    _, test = superpixel_graphs(ds, sp.cfg.graph_params)  # what the run was tested on (cached on disk)
    for i in (0, 7):
        g = digit_graph(sp.cfg.graph_params, ds.x_test[i].numpy())
        assert torch.equal(g.edge_index, test[i].edge_index)
        assert torch.allclose(g.x, test[i].x) and torch.allclose(g.edge_weight, test[i].edge_weight)
        assert g.segments.shape == (28, 28) and g.segments.max() == g.num_nodes - 1


def test_superpixel_gat_attention_is_a_softmax_and_a_direct_call_of_the_layer(trained):
    from core.models.superpixel_net import fourier_features

    _, _, sp, ds = trained
    digit = superpixel_digit(sp, ds.x_test[3].numpy())
    g = digit.graph
    assert sp.conv == "gat" and sp.heads == 4 and len(digit.attention.layers) == 2
    batch = graph_batch(g)
    model = sp.model
    with torch.no_grad():  # the network by hand (eval: no dropout), calling each layer directly
        h = model.embed(fourier_features(batch.x))  # (N, W)
        for conv, norm, att in zip(model.convs, model.norms, digit.attention.layers, strict=True):
            out, (ei, alpha) = conv(h, batch.edge_index, return_attention_weights=True)
            assert np.array_equal(att.edge_index, ei.numpy()) and np.allclose(att.alpha, alpha.numpy(), atol=1e-6)
            assert np.allclose(_softmax_sums(att), 1.0, atol=1e-5)  # every node's weights sum to 1, per head
            h = h + F.relu(norm(out))
        logits = model.classifier(model.mlp(torch.cat([h.mean(0), h.max(0).values])[None]))
    assert np.allclose(digit.probabilities, torch.softmax(logits, 1)[0].numpy(), atol=1e-5)
    node = digit.node_at((14, 14))
    assert node == g.segments[14, 14]
    filt = superpixel_filter(sp, digit, node, layer=1, head=2)
    assert np.allclose(filt, digit.attention.layer(1).row(node, 2)) and filt.sum() == pytest.approx(1.0, abs=1e-5)
    neighbours = set(g.edge_index[0][g.edge_index[1] == node].tolist()) | {node}
    assert set(np.flatnonzero(filt)) <= neighbours
    gcn = superpixel_filter(sp, digit, node, attention=False)  # the graph's gcn-normalised row, for comparison
    assert np.allclose(gcn, superpixel_mixing(sp, g).to_dense()[node].numpy())
    assert set(np.flatnonzero(gcn)) == neighbours


def _stored_superpixel(store, **settings):
    """A finished superpixel run (initial weights, no training) with ``settings``, rebuilt."""
    from core.models import MODELS

    cfg = RunConfig.make(model="superpixel", graph="superpixels", hidden=16, layers=2, epochs=1, quick=True, **settings)
    model = MODELS.get("superpixel")(cfg.model_config())
    if cfg.value("conv") == "gin":
        with torch.no_grad():
            for i, conv in enumerate(model.convs):
                conv.eps.fill_(0.25 * (i + 1))  # a trained-looking eps per layer
    run_id = store.create_run(cfg.to_dict())
    store.finish(
        run_id, {"test_accuracy": 0.1}, checkpoint=str(save_checkpoint(model.state_dict(), checkpoint_path(run_id)))
    )
    return load_superpixel_run(run_id, store)


@pytest.mark.parametrize("conv", ["gcn", "sage", "gin", "cheb"])
def test_superpixel_mixing_rows_are_what_the_layer_applies(conv, trained):
    _, _, _, ds = trained
    store = RunStore()
    run = _stored_superpixel(store, conv=conv, K=2)
    digit = superpixel_digit(run, ds.x_test[1].numpy())
    assert digit.attention is None
    g, layer = digit.graph, 1
    m = superpixel_mixing(run, g, layer).to_dense()  # (N, N)
    layer_conv = run.model.convs[layer]
    x = torch.randn(g.num_nodes, run.model.width)
    ei, w = g.edge_index, g.edge_weight.float()
    with torch.no_grad():
        if conv == "gcn":  # Â (x W) + b
            want, got = m @ layer_conv.lin(x) + layer_conv.bias, layer_conv(x, ei, w)
        elif conv == "sage":  # lin_l(mean over neighbours) + lin_r(x)
            want, got = layer_conv.lin_l(m @ x) + layer_conv.lin_r(x), layer_conv(x, ei)
            assert np.allclose(np.diag(m.numpy()), 0)
        elif conv == "gin":  # nn((1 + eps) x_i + sum over neighbours)
            want, got = layer_conv.nn(m @ x), layer_conv(x, ei)
            assert np.allclose(np.diag(m.numpy()), 1.5)  # this layer's 1 + eps
        else:  # ChebConv, K = 2: lins[0](x) + lins[1](L~ x) + b
            want = layer_conv.lins[0](x) + layer_conv.lins[1](m @ x) + layer_conv.bias
            got = layer_conv(x, ei, w)
    assert torch.allclose(want, got, atol=1e-4)
    assert SUPERPIXEL_MIXING[conv][2]  # shown as the layer's own mixing
    node = digit.node_at((10, 10))
    assert np.allclose(superpixel_filter(run, digit, node, layer), m[node].numpy())


def test_links_to_runs_that_cannot_be_shown(trained, tmp_path):
    store, run, sp, _ = trained
    assert run_problem(run.run_id, "gat", store) is None and run_problem(sp.run_id, "superpixel", store) is None
    assert run_problem(sp.run_id, "gat", store) == f"run {sp.run_id} is a 'superpixel' run, not a GAT run"
    assert run_problem(run.run_id, "superpixel", store) == f"run {run.run_id} is a 'gat' run, not a superpixel run"
    assert run_problem(12345, "gat", store) == "there is no run 12345"
    assert run_problem(None, "gat", store) == "not a run id"
    queued = store.create_run(RunConfig.make(**GAT).to_dict())
    assert "has no checkpoint (it has not started)" in run_problem(queued, "gat", store)
    gone = store.create_run(RunConfig.make(**GAT).to_dict())
    store.finish(gone, {}, checkpoint=str(tmp_path / "gone.pt"))
    assert "does not exist" in run_problem(gone, "gat", store)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_gat_run(gone, store)
