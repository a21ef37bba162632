"""One node's arithmetic: how a fixed-graph layer computes the value of one node, written out as explicit sums.

For node i of graph layer l of a :class:`~core.models.graph_net.GraphNet` (GCN, ChebNet or the learned-edge net),
``node_arithmetic(model, image, layer, node)`` returns a :class:`NodeArithmetic`:

* GCN, :math:`x'_i = \\mathrm{ReLU}(W \\sum_j \\hat A_{ij} x_j + b)`: the neighbours j (the edges j -> i of
  the normalised :math:`\\hat A = \\hat D^{-1/2}(A + I)\\hat D^{-1/2}` the layer uses, from its own ``SharedGraph``),
  each neighbour's input vector :math:`x_j` (C_in), the products :math:`\\hat A_{ij} x_j`, their sum, W, b, the
  pre-activation, the ReLU and the output (C_out);
* ChebNet, :math:`x'_i = \\mathrm{ReLU}(\\sum_k \\Theta_k (T_k(\\tilde L) X)_i + b)`: the same neighbours on a
  row of the scaled Laplacian :math:`\\tilde L`, the K terms :math:`(T_k X)_i` at the node (each an explicit sum
  over the neighbours of the term before), the :math:`\\Theta_k` and each term added to the pre-activation;
* the learned-edge net: the weights its edge MLP predicted for the node's edges (raw, then normalised as the layer
  normalises them, by hand), then as GCN (one shared edge set) or per output channel ("out") or channel pair
  ("pair").

W and the :math:`\\Theta_k` are ``nn.Linear`` weights, (C_out, C_in). Everything is computed here in float64 from
the layer's parameters and graph, with explicit sums over the neighbours, and never through the layer's forward;
the layer's *input* is taken from the network itself (the digit for layer 1; the previous layer's ReLU output,
pooled when the net pools, for deeper ones). ``network`` holds the network's own activation at the node
(``GraphNet.node_features``), which the output must equal.

Steerable nets (escnn) are in :mod:`core.analysis.node_steerable`. No streamlit here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from core.errors import UserInputError
from core.models.registry import ModelsWhere
from core.training.store import Run, as_run

KINDS = ModelsWhere(lambda spec: spec.node_arithmetic)  # the fixed-graph layers whose arithmetic is written out
RUN_MODELS = ModelsWhere(lambda spec: "node" in spec.pages)  # the stored runs the One node page opens
FULL_SIDE = 28


@dataclass(frozen=True)
class NodeArithmetic:
    """Node ``node`` of graph layer ``layer`` (0-based) of a GraphNet, for one digit: every number of its sum.

    Arrays are float64 NumPy. M neighbours (the nodes j with an edge j -> node, the node itself included where
    the layer adds a self-loop), ascending by node id; C_in input, C_out output channels.
    """

    kind: str  # "gcn", "cheb" or "learned"
    layer: int  # 0-based graph layer
    side: int  # the layer's grid is side x side nodes (28, 14, 7, ...)
    node: int  # row * side + col
    neighbours: np.ndarray  # (M,) int64 node ids j
    edge_weights: np.ndarray  # (M,) Â[i, j] (cheb: L~[i, j]); learned with S > 1 edge sets: (M, S)
    inputs: np.ndarray  # (M, C_in) x_j, each neighbour's input features
    x_node: np.ndarray  # (C_in,) the node's own input features
    weight: np.ndarray | None  # (C_out, C_in) W (cheb: Θ_0 .. in cheb_weights; learned "pair": None)
    bias: np.ndarray  # (C_out,) (zeros for a layer without bias)
    contributions: np.ndarray | None  # (M, C_out) the term neighbour j adds to the pre-activation (None: cheb)
    pre_activation: np.ndarray  # (C_out,)
    output: np.ndarray  # (C_out,) after the activation
    network: np.ndarray  # (C_out,) the network's own activation at the node (float32 forward)
    products: np.ndarray | None = None  # (M, C_in) Â[i, j] x_j (one shared edge set; cheb: L~[i, j] x_j)
    aggregate: np.ndarray | None = None  # (C_in,) sum of the products: (Â X)_i (cheb: (T_1 X)_i)
    activation: str = "ReLU"
    norm: str = ""  # the normalisation of the edge weights ("gcn", "cheb", learned: "rw", "sym", "none")
    cheb_terms: np.ndarray | None = None  # (K, C_in) (T_k(L~) X)_i
    cheb_weights: np.ndarray | None = None  # (K, C_out, C_in) Θ_k as nn.Linear weights
    cheb_parts: np.ndarray | None = None  # (K, C_out) Θ_k (T_k X)_i: the term k adds to the pre-activation
    cheb_neighbour_terms: np.ndarray | None = None  # (K, M, C_in) (T_k X)_j at the neighbours
    raw_edge_weights: np.ndarray | None = None  # learned: (M,) or (M, S) what the edge MLP predicted (activated)
    edge_inputs: np.ndarray | None = None  # learned: (M, F) what the edge MLP saw for each edge
    edge_input_names: tuple[str, ...] = ()
    edge_sets: str = "shared"

    @property
    def row(self) -> int:
        return self.node // self.side

    @property
    def col(self) -> int:
        return self.node % self.side

    @property
    def rows(self) -> np.ndarray:
        return self.neighbours // self.side

    @property
    def cols(self) -> np.ndarray:
        return self.neighbours % self.side

    @property
    def difference(self) -> float:
        """max |output - the network's own activation|."""
        return float(np.abs(self.output - self.network).max()) if self.output.size else 0.0

    @property
    def in_channels(self) -> int:
        return int(self.x_node.shape[0])

    @property
    def out_channels(self) -> int:
        return int(self.output.shape[0])


# ----------------------------------------------------------------------------- the model and its inputs


def is_graph_net(model: Any) -> bool:
    return hasattr(model, "convs") and hasattr(model, "graphs") and hasattr(model, "node_features")


def _check(model: Any, layer: Any, node: Any) -> tuple[int, int, int]:
    """(layer, node, side), checked."""
    if not is_graph_net(model) or getattr(model, "layer", None) not in KINDS:
        what = getattr(model, "layer", None) or type(model).__name__
        raise UserInputError(
            "model",
            f"the node arithmetic is written out for fixed-graph nets with {', '.join(KINDS)} layers, not {what!r}",
        )
    n_layers = len(model.convs)
    if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)) or not 0 <= int(layer) < n_layers:
        raise UserInputError("layer", f"must be a graph layer between 0 and {n_layers - 1} (0-based), got {layer!r}")
    layer = int(layer)
    n = int(model.graphs[layer].num_nodes)
    side = round(n**0.5)
    if isinstance(node, bool) or not isinstance(node, (int, np.integer)) or not 0 <= int(node) < n:
        raise UserInputError("node", f"layer {layer + 1} has nodes 0 to {n - 1} ({side} x {side}), got {node!r}")
    return layer, int(node), side


def pixel_name(row: int, col: int) -> str:
    """How the page names a node: by its place on the map, as the map's axes do ("pixel (row 15, column 6)")."""
    return f"pixel (row {int(row)}, column {int(col)})"


def default_run_id(runs: Sequence[Run | Mapping[str, Any]]) -> int | None:
    """The run the page opens on without a run in the link: the newest fixed-graph run (GCN, ChebNet, learned
    edges: the arithmetic story), else the newest of ``runs`` (a steerable net), else None."""

    def newest(rs):
        return max((as_run(r).id for r in rs), default=None)

    graph = [r for r in runs if as_run(r).model in KINDS]
    return newest(graph) if graph else newest(runs)


def node_of(row: int, col: int, side: int) -> int:
    """The node id of grid cell (row, col) on a side x side layout; ``UserInputError`` outside it."""
    for name, v in (("row", row), ("col", col)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not 0 <= int(v) < side:
            raise UserInputError(name, f"must be between 0 and {side - 1}, got {v!r}")
    return int(row) * side + int(col)


def as_image(image: Any) -> torch.Tensor:
    """(1, 1, 28, 28) float32 from one 28 x 28 digit (NumPy or torch, values as given)."""
    x = torch.as_tensor(np.asarray(image, dtype=np.float32))
    if x.numel() != FULL_SIDE * FULL_SIDE:
        raise UserInputError("image", f"must be one 28 x 28 digit, got shape {tuple(x.shape)}")
    return x.reshape(1, 1, FULL_SIDE, FULL_SIDE)


@torch.no_grad()
def layer_io(model, image: Any, layer: int) -> tuple[np.ndarray, np.ndarray]:
    """(inputs (N_l, C_in), outputs (N_l, C_out)) of graph layer ``layer`` for one digit, from the network's own
    forward: the input is the digit (layer 0) or the previous layer's output, max-pooled 2 x 2 when the net pools
    after it; the output is the layer's activation (after its ReLU)."""
    x = as_image(image).to(model.graphs[layer].edge_index.device)
    was_training = model.training
    model.eval()
    try:
        feats = [f[0] for f in model.node_features(x)]  # each (N_l, C_l)
    finally:
        model.train(was_training)
    if layer == 0:
        inp = x.reshape(-1, 1)
    else:
        inp = feats[layer - 1]
        if model.pool_after[layer - 1]:
            s = round(inp.shape[0] ** 0.5)
            maps = inp.t().reshape(1, inp.shape[1], s, s)  # (1, C, s, s)
            inp = F.max_pool2d(maps, 2)[0].reshape(inp.shape[1], -1).t()  # (N / 4, C)
    return inp.double().cpu().numpy(), feats[layer].double().cpu().numpy()


def _row(edge_index: torch.Tensor, weights: torch.Tensor, node: int) -> tuple[np.ndarray, np.ndarray]:
    """(neighbours (M,), weights (M,) or (M, S)) of the edges j -> node, parallel edges summed."""
    src, dst = edge_index[0].numpy(), edge_index[1].numpy()
    w = weights.detach().double().cpu().numpy()
    into = np.flatnonzero(dst == node)
    nbrs, inverse = np.unique(src[into], return_inverse=True)
    out = np.zeros((len(nbrs), *w.shape[1:]))
    np.add.at(out, inverse, w[into])
    return nbrs.astype(np.int64), out


def _param(t: torch.Tensor | None, size: int) -> np.ndarray:
    return np.zeros(size) if t is None else t.detach().double().cpu().numpy().copy()


# ----------------------------------------------------------------------------- the arithmetic


def node_arithmetic(model, image: Any, layer: int, node: int) -> NodeArithmetic:
    """Every number that makes node ``node`` of graph layer ``layer`` (0-based) for ``image`` (one 28 x 28 digit),
    computed as explicit sums over the node's neighbours (see the module docstring). ``UserInputError`` for a
    model that is not a GCN / ChebNet / learned-edge GraphNet, or a layer or node it does not have."""
    layer, node, side = _check(model, layer, node)
    x, out = layer_io(model, image, layer)
    conv, graph = model.convs[layer], model.graphs[layer]
    kind = model.layer
    with torch.no_grad():
        if kind == "cheb":
            return _cheb(conv, graph, x, out[node], layer, node, side)
        if kind == "learned":
            return _learned(conv, graph, x, out[node], layer, node, side)
        return _gcn(conv, graph, x, out[node], layer, node, side)


def _relu(v: np.ndarray) -> np.ndarray:
    return np.maximum(v, 0.0)


def _gcn(conv, graph, x, network, layer, node, side) -> NodeArithmetic:
    edge_index, edge_weight = graph.edges(conv.norm)  # the normalised Â the layer multiplies by
    nbrs, w = _row(edge_index.cpu(), edge_weight.cpu(), node)
    W = _param(conv.lin.weight, 0)  # (C_out, C_in)
    b = _param(conv.bias, W.shape[0])
    inputs = x[nbrs]  # (M, C_in)
    products = w[:, None] * inputs  # (M, C_in)
    aggregate = products.sum(axis=0)  # (C_in,)
    pre = W @ aggregate + b
    contributions = w[:, None] * (inputs @ W.T)  # (M, C_out)
    return NodeArithmetic(
        "gcn",
        layer,
        side,
        node,
        nbrs,
        w,
        inputs,
        x[node],
        W,
        b,
        contributions,
        pre,
        _relu(pre),
        network,
        products,
        aggregate,
        norm=conv.norm,
    )


def chebyshev_terms(edge_index: np.ndarray, weights: np.ndarray, x: np.ndarray, K: int) -> np.ndarray:
    """(K, N, C) T_k(L~) X for every node, by the recursion T_0 = X, T_1 = L~ X, T_k = 2 L~ T_{k-1} - T_{k-2}, with
    L~ X as an explicit sum over the edges (float64)."""
    src, dst = edge_index

    def lap(t: np.ndarray) -> np.ndarray:
        acc = np.zeros_like(t)
        np.add.at(acc, dst, weights[:, None] * t[src])
        return acc

    terms = [x]
    if K > 1:
        terms.append(lap(x))
    for _ in range(2, K):
        terms.append(2.0 * lap(terms[-1]) - terms[-2])
    return np.stack(terms)


def _cheb(conv, graph, x, network, layer, node, side) -> NodeArithmetic:
    edge_index, edge_weight = graph.edges(conv.norm)  # the scaled Laplacian L~ = -D^-1/2 A D^-1/2 (lambda_max 2)
    ei, ew = edge_index.cpu(), edge_weight.cpu()
    nbrs, w = _row(ei, ew, node)
    K = int(conv.K)
    everywhere = chebyshev_terms(ei.numpy(), ew.double().numpy(), x, K)  # (K, N, C_in) at every node
    terms = [x[node]]  # (T_0 X)_i
    products = w[:, None] * x[nbrs]
    if K > 1:
        terms.append(products.sum(axis=0))  # (T_1 X)_i = sum_j L~_ij x_j
    for k in range(2, K):  # (T_k X)_i = 2 sum_j L~_ij (T_{k-1} X)_j - (T_{k-2} X)_i
        terms.append(2.0 * (w[:, None] * everywhere[k - 1][nbrs]).sum(axis=0) - terms[k - 2])
    cheb_terms = np.stack(terms)  # (K, C_in)
    thetas = np.stack([_param(lin.weight, 0) for lin in conv.lins])  # (K, C_out, C_in)
    b = _param(conv.bias, thetas.shape[1])
    parts = np.einsum("koc,kc->ko", thetas, cheb_terms)  # (K, C_out)
    pre = parts.sum(axis=0) + b
    return NodeArithmetic(
        "cheb",
        layer,
        side,
        node,
        nbrs,
        w,
        x[nbrs],
        x[node],
        thetas[0],
        b,
        None,
        pre,
        _relu(pre),
        network,
        products,
        products.sum(axis=0),
        norm=conv.norm,
        cheb_terms=cheb_terms,
        cheb_weights=thetas,
        cheb_parts=parts,
        cheb_neighbour_terms=everywhere[:, nbrs],
    )


EDGE_INPUT_NAMES = {  # what LearnedEdgeConv.edge_features holds, per column
    "diff": ("Δx", "Δy"),
    "abs": ("x_i", "y_i", "x_j", "y_j"),
    "both": ("x_i", "y_i", "x_j", "y_j", "Δx", "Δy"),
    "offset": ("Δcol (px)", "Δrow (px)"),
}


def learned_node_weights(conv, graph, node: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(neighbours (M,), MLP inputs (M, F), raw (M, S), normalised (M, S)) of the edges into ``node`` of a
    LearnedEdgeConv: the edge MLP applied to each edge's features, its activation, then the layer's normalisation
    by hand (``rw``: divided by the node's sum of |a|; ``sym``: by the square roots of both ends' sums)."""
    edge_index = conv.edge_index(graph).cpu()
    feats = conv.edge_features(graph).detach().cpu()  # (E', F)
    src, dst = edge_index[0].numpy(), edge_index[1].numpy()
    mlp = [
        (m.weight.detach().double().cpu().numpy(), m.bias.detach().double().cpu().numpy())
        for m in conv.edge_mlp
        if isinstance(m, torch.nn.Linear)
    ]

    def predict(f: np.ndarray) -> np.ndarray:  # Linear -> tanh -> Linear, then the layer's activation
        (w1, b1), (w2, b2) = mlp
        a = np.tanh(f @ w1.T + b1) @ w2.T + b2
        return {"softplus": np.logaddexp(0.0, a), "tanh": np.tanh(a)}.get(conv.activation, a)

    order = np.argsort(src[dst == node], kind="stable")
    into = np.flatnonzero(dst == node)[order]
    nbrs = src[into].astype(np.int64)
    inputs = feats[into].double().numpy()
    raw = predict(inputs)  # (M, S)
    if conv.norm == "none":
        return nbrs, inputs, raw, raw.copy()
    deg_i = np.abs(raw).sum(axis=0)  # (S,)
    if conv.norm == "rw":
        return nbrs, inputs, raw, raw / np.maximum(deg_i, 1e-12)
    all_raw = predict(feats.double().numpy())  # (E', S): the neighbours' own degrees need every edge
    deg = np.zeros((graph.num_nodes, all_raw.shape[1]))
    np.add.at(deg, dst, np.abs(all_raw))
    d = 1.0 / np.sqrt(np.maximum(deg, 1e-12))
    return nbrs, inputs, raw, d[node][None, :] * raw * d[nbrs]


def _learned(conv, graph, x, network, layer, node, side) -> NodeArithmetic:
    nbrs, mlp_in, raw, w = learned_node_weights(conv, graph, node)  # (M,), (M, F), (M, S), (M, S)
    inputs = x[nbrs]  # (M, C_in)
    c_out = int(conv.out_channels)
    b = _param(conv.bias, c_out)
    W = _param(conv.lin.weight, 0) if conv.lin is not None else None
    products = aggregate = None
    if conv.edge_sets == "shared":
        assert W is not None  # only the "pair" edge sets have no lin
        w, raw = w[:, 0], raw[:, 0]
        products = w[:, None] * inputs
        aggregate = products.sum(axis=0)
        contributions = w[:, None] * (inputs @ W.T)  # (M, C_out)
        pre = W @ aggregate + b
    elif conv.edge_sets == "out":  # x'_o = sum_j A_o[i, j] (W x_j)_o + b_o
        assert W is not None
        contributions = w * (inputs @ W.T)
        pre = contributions.sum(axis=0) + b
    else:  # "pair": x'_o = sum_j sum_c A_oc[i, j] x_jc + b_o
        wp = w.reshape(len(nbrs), c_out, int(conv.in_channels))
        contributions = np.einsum("moc,mc->mo", wp, inputs)
        pre = contributions.sum(axis=0) + b
    return NodeArithmetic(
        "learned",
        layer,
        side,
        node,
        nbrs,
        w,
        inputs,
        x[node],
        W,
        b,
        contributions,
        pre,
        _relu(pre),
        network,
        products,
        aggregate,
        norm=conv.norm,
        raw_edge_weights=raw,
        edge_inputs=mlp_in,
        edge_input_names=EDGE_INPUT_NAMES.get(conv.inputs, ()),
        edge_sets=conv.edge_sets,
    )


# ----------------------------------------------------------------------------- views for a page


def adjacency_row(na: NodeArithmetic, edge_set: int = 0) -> np.ndarray:
    """(side * side,) the node's whole row of Â (cheb: L~), zero off its neighbours (one edge set)."""
    row = np.zeros(na.side * na.side)
    w = na.edge_weights if na.edge_weights.ndim == 1 else na.edge_weights[:, edge_set]
    row[na.neighbours] = w
    return row


def edge_set_of(na: NodeArithmetic, out_channel: int, in_channel: int = 0) -> int:
    """Which of a learned layer's edge sets feeds (out_channel, in_channel): 0 for one shared set."""
    if na.edge_weights.ndim == 1:
        return 0
    return out_channel if na.edge_sets == "out" else out_channel * na.in_channels + in_channel


def neighbour_rows(na: NodeArithmetic, out_channel: int, in_channel: int | None = None) -> list[dict[str, Any]]:
    """One row per neighbour for a table: its row and column on the map, whether it is the node itself (a
    self-loop; not for ChebNet), the edge weight, the input value and the product.

    ``in_channel`` None: the input is the neighbour's vector through W's column for ``out_channel``
    (:math:`(W x_j)_o`, the product is the term it adds to the pre-activation); else that channel's value
    :math:`x_{jc}` and the product :math:`\\hat A_{ij} x_{jc}` (one term of :math:`(\\hat A X)_{ic}`).
    ChebNet: the row of L~ and :math:`x_{jc}` (the product is one term of :math:`(T_1 X)_{ic}`), or through
    :math:`\\Theta_1`'s column (the product is the term neighbour j adds to the k = 1 term)."""
    rows = []
    s = edge_set_of(na, out_channel, in_channel or 0)
    w = na.edge_weights if na.edge_weights.ndim == 1 else na.edge_weights[:, s]
    for m, j in enumerate(na.neighbours):
        if in_channel is None and na.contributions is not None:
            value = (na.inputs[m] @ na.weight[out_channel]) if na.weight is not None else float("nan")
            product = na.contributions[m, out_channel]
        elif in_channel is None and na.cheb_weights is not None and len(na.cheb_weights) > 1:
            value = na.inputs[m] @ na.cheb_weights[1][out_channel]  # (Θ_1 x_j)_o: its part of the k = 1 term
            product = w[m] * value
        else:
            c = in_channel or 0
            value = na.inputs[m, c]
            product = w[m] * value
        row = {
            "row": int(j // na.side),
            "column": int(j % na.side),
            **({} if na.kind == "cheb" else {"self-loop": bool(j == na.node)}),  # L~ has no diagonal
            "weight": float(w[m]),
            "input": float(value),
            "product": float(product),
        }
        if na.raw_edge_weights is not None:
            raw = na.raw_edge_weights if na.raw_edge_weights.ndim == 1 else na.raw_edge_weights[:, s]
            row["predicted"] = float(raw[m])
        rows.append(row)
    return rows


def input_map(
    na: NodeArithmetic, inputs: np.ndarray, out_channel: int, in_channel: int | None = None
) -> tuple[np.ndarray, str]:
    """((N,) the layer's input at every node as ``neighbour_rows`` reads it, its name): channel ``in_channel``, or
    (``None``) each node's vector through W's column for ``out_channel`` (ChebNet: Θ_1's; without W: channel 0)."""
    if in_channel is None:
        if na.kind == "cheb" and na.cheb_weights is not None and len(na.cheb_weights) > 1:
            return inputs @ na.cheb_weights[1][out_channel], f"through Θ₁ for output channel {out_channel}"
        if na.kind != "cheb" and na.weight is not None:
            return inputs @ na.weight[out_channel], f"through W for output channel {out_channel}"
        in_channel = 0
    return inputs[:, in_channel], f"channel {in_channel}"


def channel_rows(na: NodeArithmetic, out_channel: int) -> list[dict[str, Any]]:
    """One row per input channel c: (Â X)_ic, W[o, c] and their product, which sum (plus the bias) to the
    pre-activation of ``out_channel`` (layers with one shared edge set; ChebNet: term T_0 only, see cheb_rows)."""
    if na.aggregate is None or na.weight is None or na.kind == "cheb":
        return []
    return [
        {
            "channel": c,
            "aggregate": float(a),
            "W": float(na.weight[out_channel, c]),
            "product": float(a * na.weight[out_channel, c]),
        }
        for c, a in enumerate(na.aggregate)
    ]


TERM_ADDED = "term added, Θₖ (TₖX)ᵢ"  # cheb_rows' columns
TERM_SHARE = "share, |term| ÷ Σ |terms|"


def cheb_rows(na: NodeArithmetic, out_channel: int, in_channel: int | None = None) -> list[dict[str, Any]]:
    """One row per Chebyshev order k: (T_k X)_i (of ``in_channel``, or its norm over channels), the term
    Θ_k (T_k X)_i it adds to ``out_channel``'s pre-activation (``TERM_ADDED``; these plus the bias sum to the
    pre-activation), and that term's share of the terms' sizes, |term_k| / Σ_k |term_k| (``TERM_SHARE``; they sum
    to 1, 0 each when every term is 0)."""
    if na.cheb_terms is None or na.cheb_parts is None:  # set together, for a ChebNet layer
        return []
    parts = na.cheb_parts[:, out_channel]
    size = float(np.abs(parts).sum())
    out = []
    what = f"(TₖX)ᵢ, channel {in_channel}" if in_channel is not None else "‖(TₖX)ᵢ‖ over the channels"
    for k, term in enumerate(na.cheb_terms):
        value = float(term[in_channel]) if in_channel is not None else float(np.linalg.norm(term))
        out.append(
            {
                "k": k,
                what: value,
                TERM_ADDED: float(parts[k]),
                TERM_SHARE: float(abs(parts[k]) / size) if size > 0 else 0.0,
            }
        )
    return out


def load_node_run(run: Run | Mapping[str, Any]):
    """(model with the stored run's weights, eval mode on the CPU, its RunConfig) for a GCN / ChebNet /
    learned-edge / steerable run, built as ``build_everything`` builds it but without loading any data. Raises
    ``UserInputError`` for another model and ``CheckpointError`` for a missing, unreadable or unfitting checkpoint."""
    from core.analysis.results import checkpoint_state, load_weights, run_config
    from core.graphs import build_graph
    from core.models import MODELS
    from core.rng import isolated_rng
    from core.training.runs import validate

    cfg = validate(run_config(run))
    if cfg.model not in RUN_MODELS:
        raise UserInputError(
            "run",
            f"run {as_run(run).id} is a {cfg.model!r} run; the node arithmetic opens {', '.join(RUN_MODELS)} runs",
        )
    loaded = checkpoint_state(run)
    graph = None if not cfg.uses_graph() else build_graph(cfg.graph, size=FULL_SIDE, **cfg.graph_params)
    with isolated_rng():  # the initial weights are overwritten; no training run's random stream is disturbed
        model = MODELS.get(cfg.model)(cfg.model_config(), graph)
    load_weights(model, run, f"a {cfg.model} model", loaded)  # leaves it in eval mode
    return model, cfg
