"""One node's arithmetic against the network itself: forward hooks on the layer, its activations, its graph."""

from typing import Any

import numpy as np
import pytest
import torch

from core.analysis.node_arithmetic import (
    TERM_ADDED,
    TERM_SHARE,
    adjacency_row,
    channel_rows,
    cheb_rows,
    default_run_id,
    input_map,
    layer_io,
    load_node_run,
    neighbour_rows,
    node_arithmetic,
    node_of,
    pixel_name,
)
from core.errors import UserInputError

TOL = 1e-5
NETS: dict[
    str, tuple[str, dict[str, Any]]
] = {  # name -> (model, settings): the fixed-graph nets whose arithmetic is written out
    "gcn": ("gcn", {}),
    "cheb": ("cheb", {"K": 5}),
    "learned": ("learned", {}),
    "learned-out-sym": ("learned", {"edge_sets": "out", "edge_norm": "sym"}),
    "learned-pair-offset": (
        "learned",
        {"edge_sets": "pair", "edge_inputs": "offset", "edge_activation": "tanh", "edge_norm": "none"},
    ),
}


@pytest.fixture(scope="module")
def digit() -> np.ndarray:
    from core.data.datasets import load_dataset

    ds = load_dataset("mnist-5k", quick=True)
    image = ds.x_test[0].numpy()
    assert image.max() > 0.5  # a real digit, with ink
    return image


def build(name: str, layers: int = 3, seed: int = 0):
    """An untrained net from a real config, with random biases (so every step of the arithmetic counts)."""
    from core.graphs import build_graph
    from core.models import MODELS
    from core.training.runs import RunConfig

    model, settings = NETS[name]
    cfg = RunConfig.make(model=model, hidden=8, layers=layers, quick=True, **settings)
    torch.manual_seed(seed)
    net = MODELS.get(model)(cfg.model_config(), build_graph(cfg.graph, size=28, **cfg.graph_params)).eval()
    with torch.no_grad():
        for conv in net.convs:
            conv.bias.uniform_(-0.2, 0.2)
    return net


def nodes_of(side: int) -> list[int]:
    """Corners, edges and the centre of a side x side grid."""
    mid = side // 2
    cells = [
        (0, 0),
        (0, side - 1),
        (side - 1, 0),
        (side - 1, side - 1),
        (0, mid),
        (mid, 0),
        (side - 1, mid),
        (mid, side - 1),
        (mid, mid),
        (mid - 3, mid + 2),
    ]
    return sorted({node_of(r, c, side) for r, c in cells})


def hooked(net, layer: int, image: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(layer input (N, C_in), layer output before its ReLU (N, C_out), the network's activation (N, C_out)) as the
    network computes them: a forward (pre-)hook on the layer. ChebConv runs through ``forward_node_major`` (not
    its ``__call__``), so there the hook wraps that method."""
    conv, seen = net.convs[layer], {}

    def record(inp, out):
        seen["in"], seen["out"] = inp.detach().clone(), out.detach().clone()

    x = torch.as_tensor(image).reshape(1, 1, 28, 28)
    if hasattr(conv, "forward_node_major"):
        original = conv.forward_node_major

        def wrapped(xt, graph):
            out = original(xt, graph)
            record(xt.transpose(0, 1), out.transpose(0, 1))  # node-major (N, B, C) -> (B, N, C)
            return out

        conv.forward_node_major = wrapped
        try:
            with torch.no_grad():
                feats = net.node_features(x)
        finally:
            del conv.forward_node_major
    else:
        handle = conv.register_forward_hook(lambda _m, args, out: record(args[0], out))
        try:
            with torch.no_grad():
                feats = net.node_features(x)
        finally:
            handle.remove()
    return seen["in"][0], seen["out"][0], feats[layer][0]


@pytest.mark.parametrize("name", list(NETS))
def test_node_arithmetic_matches_the_layer_hooks_at_every_layer(name, digit):
    net = build(name)
    kind = net.layer
    worst = 0.0
    for layer in range(len(net.convs)):
        x_in, pre, act = hooked(net, layer, digit)
        side = round(net.graphs[layer].num_nodes ** 0.5)
        for node in nodes_of(side):
            na = node_arithmetic(net, digit, layer, node)
            assert na.kind == kind and na.side == side and (na.row, na.col) == divmod(node, side)
            np.testing.assert_allclose(na.pre_activation, pre[node].double().numpy(), atol=TOL, rtol=0)
            np.testing.assert_allclose(na.output, act[node].double().numpy(), atol=TOL, rtol=0)
            np.testing.assert_allclose(na.output, np.maximum(na.pre_activation, 0))
            np.testing.assert_allclose(na.network, act[node].double().numpy(), atol=0, rtol=0)  # its own value
            np.testing.assert_allclose(na.inputs, x_in[na.neighbours].double().numpy(), atol=1e-6, rtol=0)
            np.testing.assert_allclose(na.x_node, x_in[node].double().numpy(), atol=1e-6, rtol=0)
            assert na.difference < TOL
            worst = max(worst, na.difference)
            # the neighbours are the edges into the node of the graph (and weights) the layer uses
            conv, graph = net.convs[layer], net.graphs[layer]
            edge_index = conv.edge_index(graph) if kind == "learned" else graph.edges(conv.norm)[0]
            src, dst = edge_index.numpy()
            assert na.neighbours.tolist() == sorted(set(src[dst == node].tolist()))
            if kind == "gcn":
                assert node in na.neighbours  # GCN adds a self-loop
            if kind != "learned":
                dense = graph.adj(conv.norm)
                dense = dense.to_dense() if dense.layout != torch.strided else dense
                np.testing.assert_allclose(adjacency_row(na), dense[node].double().numpy(), atol=1e-7)
            # the products sum to the aggregate, and the steps add up to the pre-activation
            b = na.bias
            if na.products is not None:
                np.testing.assert_allclose(na.products.sum(axis=0), na.aggregate, atol=1e-12)
                np.testing.assert_allclose(na.products, na.edge_weights[:, None] * na.inputs, atol=1e-12)
            if na.contributions is not None:
                np.testing.assert_allclose(na.contributions.sum(axis=0) + b, na.pre_activation, atol=1e-9)
            if na.aggregate is not None and kind != "cheb":
                np.testing.assert_allclose(na.weight @ na.aggregate + b, na.pre_activation, atol=1e-9)
                rows = channel_rows(na, 1)
                assert abs(sum(r["product"] for r in rows) + b[1] - na.pre_activation[1]) < 1e-9
            inputs = layer_io(net, digit, layer)[0]
            for o in (0, na.out_channels - 1):
                rows = neighbour_rows(na, o, None)
                assert [(r["row"], r["column"]) for r in rows] == [divmod(j, side) for j in na.neighbours.tolist()]
                assert "node" not in rows[0]  # named by their place on the map, as the map names them
                if kind != "cheb":
                    assert [r["self-loop"] for r in rows] == [j == node for j in na.neighbours.tolist()]
                if na.weight is not None:  # the page's input map holds what the table's input column reads
                    values, _ = input_map(na, inputs, o, None)
                    np.testing.assert_allclose([r["input"] for r in rows], values[na.neighbours], atol=1e-9)
                if na.contributions is not None:
                    assert abs(sum(r["product"] for r in rows) + b[o] - na.pre_activation[o]) < 1e-9
    assert worst < TOL


def test_cheb_terms_are_the_chebyshev_recursion_at_the_node(digit):
    net = build("cheb", layers=2)
    shown_some = False
    for layer in range(2):
        x_in, _, _ = hooked(net, layer, digit)
        conv, graph = net.convs[layer], net.graphs[layer]
        lap = graph.adj("cheb")
        lap = (lap.to_dense() if lap.layout != torch.strided else lap).double()
        x = x_in.double()
        terms = [x, lap @ x]
        for _ in range(2, conv.K):
            terms.append(2 * lap @ terms[-1] - terms[-2])
        side = round(graph.num_nodes**0.5)
        for node in nodes_of(side):
            na = node_arithmetic(net, digit, layer, node)
            assert na.cheb_terms.shape == (conv.K, x.shape[1])
            np.testing.assert_allclose(na.cheb_terms, torch.stack(terms)[:, node].numpy(), atol=1e-9)
            np.testing.assert_allclose(na.cheb_neighbour_terms, torch.stack(terms)[:, na.neighbours].numpy(), atol=1e-9)
            np.testing.assert_allclose(na.cheb_parts.sum(axis=0) + na.bias, na.pre_activation, atol=1e-9)
            np.testing.assert_allclose(na.aggregate, na.cheb_terms[1], atol=1e-12)  # T_1: the sum of the products
            rows = cheb_rows(na, 2, 0)
            assert [r["k"] for r in rows] == list(range(conv.K))
            np.testing.assert_allclose([r["(TₖX)ᵢ, channel 0"] for r in rows], na.cheb_terms[:, 0])
            assert node not in na.neighbours  # L~ = -D^-1/2 A D^-1/2 has no diagonal on a loop-free grid
            # "term added": what each order adds, so they plus the bias make the pre-activation ...
            np.testing.assert_allclose([r[TERM_ADDED] for r in rows], na.cheb_parts[:, 2], atol=0)
            assert abs(sum(r[TERM_ADDED] for r in rows) + na.bias[2] - na.pre_activation[2]) < 1e-9
            # ... and "share": each term's size against all of them, |term| / sum |terms|, which sums to 1
            sizes = np.abs(na.cheb_parts[:, 2])
            if sizes.sum() == 0:  # a blank corner of the digit: every term 0, every share 0
                assert [r[TERM_SHARE] for r in rows] == [0.0] * conv.K
                continue
            shown_some = True
            np.testing.assert_allclose([r[TERM_SHARE] for r in rows], sizes / sizes.sum(), atol=1e-12)
            assert all(r[TERM_SHARE] >= 0 for r in rows) and abs(sum(r[TERM_SHARE] for r in rows) - 1) < 1e-12
    assert shown_some  # the shares were checked on nodes with ink, not only blank ones


@pytest.mark.parametrize("name", ["learned", "learned-out-sym", "learned-pair-offset"])
def test_learned_edge_weights_are_what_the_edge_mlp_predicted(name, digit):
    net = build(name, layers=2)
    for layer in range(2):
        conv, graph = net.convs[layer], net.graphs[layer]
        src, dst = conv.edge_index(graph).numpy()
        with torch.no_grad():
            normalised = conv.edge_weights(graph).double().numpy()
            raw = conv.edge_weights(graph, normalized=False).double().numpy()
        side = round(graph.num_nodes**0.5)
        for node in nodes_of(side)[:4]:
            na = node_arithmetic(net, digit, layer, node)
            into = np.flatnonzero(dst == node)
            into = into[np.argsort(src[into])]
            np.testing.assert_allclose(na.raw_edge_weights, raw[into], atol=1e-6)
            np.testing.assert_allclose(na.edge_weights, normalised[into], atol=1e-6)
            assert na.edge_inputs.shape[0] == len(na.neighbours) and len(na.edge_input_names) == na.edge_inputs.shape[1]
            if conv.norm == "rw":
                np.testing.assert_allclose(np.abs(na.edge_weights).sum(axis=0), 1.0, atol=1e-9)


def test_node_arithmetic_refuses_what_it_cannot_show(digit):
    net = build("gcn", layers=2)
    with pytest.raises(UserInputError, match="layer"):
        node_arithmetic(net, digit, 2, 0)
    with pytest.raises(UserInputError, match="nodes 0 to 195"):
        node_arithmetic(net, digit, 1, 196)
    with pytest.raises(UserInputError, match="28 x 28"):
        node_arithmetic(net, np.zeros((5, 5)), 0, 0)
    with pytest.raises(UserInputError, match="row"):
        node_of(28, 0, 28)
    from core.graphs import build_graph
    from core.models import MODELS

    sage = MODELS.get("sage")(MODELS.config("sage", hidden=4, layers=1), build_graph("grid", size=28))
    with pytest.raises(UserInputError, match="'sage'"):
        node_arithmetic(sage, digit, 0, 0)


def test_a_trained_stored_gcn_run_reopens_and_matches(digit):
    from core.training.runs import RunConfig, execute
    from core.training.store import RunStore

    store = RunStore()
    cfg = RunConfig.make(model="gcn", layers=2, hidden=4, epochs=1, quick=True)
    run_id = execute(cfg, store)["run_id"]
    model, loaded_cfg = load_node_run(store.get_run(run_id))
    assert loaded_cfg.model == "gcn" and not model.training
    for layer in range(2):
        _, pre, _ = hooked(model, layer, digit)
        side = round(model.graphs[layer].num_nodes ** 0.5)
        for node in nodes_of(side):
            na = node_arithmetic(model, digit, layer, node)
            np.testing.assert_allclose(na.pre_activation, pre[node].double().numpy(), atol=TOL, rtol=0)
            assert na.difference < TOL
    cnn = RunConfig.make(model="cnn", hidden=4, epochs=1, quick=True)
    other = store.create_run(cnn.to_dict())
    store.finish(other, {"test_accuracy": 0.1}, checkpoint=store.get_run(run_id)["checkpoint"])
    with pytest.raises(UserInputError, match="'cnn' run"):
        load_node_run(store.get_run(other))


# ----------------------------------------------------------------------------- steerable nets


@pytest.mark.parametrize("group,shift", [("C4", 1), ("C8", 2)])
def test_a_quarter_turn_cycles_a_steerable_fields_channels(group, shift, digit):
    from core.analysis.equivariance import Element
    from core.analysis.node_steerable import steerable_node, turned_position
    from core.models import MODELS
    from core.training.runs import RunConfig

    cfg = RunConfig.make(model="escnn", hidden=8, layers=2, quick=True, group=group)
    torch.manual_seed(0)
    net = MODELS.get("escnn")(cfg.model_config(), None).eval()
    x = torch.as_tensor(digit).reshape(1, 1, 28, 28)
    assert torch.allclose(Element(90.0).apply(x), torch.rot90(x, 1, dims=(-2, -1)), atol=1e-6)  # the page's turn
    n = int(group[1:])
    for pixel in [(8, 18), (3, 14), (20, 5)]:
        sn = steerable_node(net, digit, pixel, field=1)
        assert sn.size == 29 and sn.turned_pixel == turned_position(pixel, 29) == (28 - pixel[1], pixel[0])
        assert sn.field_size == n and sn.shift == shift
        assert sn.permutation == tuple((c + shift) % n for c in range(n))
        scale = max(1.0, float(np.abs(sn.channels).max()))
        assert np.abs(sn.channels).max() > 1e-3  # not a blank pixel
        assert sn.error < TOL * scale
        # the turned digit's channel p[c] at the turned pixel is the digit's channel c at the pixel
        for c in range(n):
            np.testing.assert_allclose(sn.turned_channels[:, sn.permutation[c]], sn.channels[:, c], atol=TOL * scale)
        r, c = pixel
        tr, tc = sn.turned_pixel
        np.testing.assert_allclose(sn.maps[:, r, c], sn.channels[1])
        np.testing.assert_allclose(sn.turned_maps[:, tr, tc], sn.turned_channels[1])
    with pytest.raises(UserInputError, match="29 x 29"):
        steerable_node(net, digit, (29, 0))
    with pytest.raises(UserInputError, match="field"):
        steerable_node(net, digit, (3, 3), field=999)
    with pytest.raises(UserInputError, match="steerable"):
        steerable_node(build("gcn", layers=1), digit, (3, 3))


# ----------------------------------------------------------------------------- the page's choices and names


def test_pixels_are_named_as_the_map_names_them():
    assert pixel_name(15, 6) == "pixel (row 15, column 6)"
    assert pixel_name(*divmod(node_of(15, 6, 28), 28)) == "pixel (row 15, column 6)"


def test_the_default_run_is_the_newest_graph_net_not_the_newest_run():
    def run(i, model):
        return {"id": i, "config": {"model": model}}

    # a newer steerable run and an older ChebNet: the ChebNet (the arithmetic story)
    assert default_run_id([run(9, "escnn"), run(4, "cheb"), run(2, "gcn")]) == 4
    assert default_run_id([run(3, "gcn"), run(7, "learned"), run(8, "escnn")]) == 7  # whatever the list's order
    assert default_run_id([run(5, "escnn"), run(6, "escnn")]) == 6  # no graph net: the newest run
    assert default_run_id([]) is None
