"""A fixed graph product in the form an ONNX export traces: padded neighbour lists (gathers, no scatter).

Training and the server multiply by a sparse CSR adjacency (``propagate.spmm``); torch.onnx cannot trace sparse
tensors, and scatter-based aggregations are the usual failure of graph nets in ONNX (pyg #7890, #8415). A
``GatheredProduct`` holds the same (N, N) matrix as each node's incoming edges, padded to the largest in-degree D:

    out[i] = sum_d weight[i, d] * x[index[i, d]]          (a Gather, a Mul and a ReduceSum in ONNX)

Padding entries point at node 0 with weight 0 and ``valid`` False. A dense graph (D above a third of N) is kept as
the dense (N, N) matrix instead, which is then smaller and faster than lists of every node. The numbers equal the
sparse product's up to float32 rounding (the sum runs in another order).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

DENSE_FROM = 1 / 3  # a graph whose largest in-degree is at least this fraction of N is kept dense


def neighbour_lists(edge_index: Tensor, values: Tensor, num_nodes: int) -> tuple[Tensor, Tensor, Tensor]:
    """Each node's incoming edges, padded: ``index`` (N, D) int64 source nodes, ``weight`` (N, D, *S) their
    ``values`` (``values`` is (E,) or (E, S)), ``valid`` (N, D) bool, D the largest in-degree (at least 1).
    Edge j -> i is ``edge_index[:, e] = (j, i)``; edges into one node keep their order in ``edge_index``."""
    src, dst = edge_index[0].long(), edge_index[1].long()
    order = torch.argsort(dst, stable=True)
    src, dst, values = src[order], dst[order], values[order]
    degree = torch.bincount(dst, minlength=num_nodes)  # (N,)
    width = max(1, int(degree.max())) if dst.numel() else 1
    start = torch.cumsum(degree, 0) - degree  # (N,) first edge of each node in the sorted order
    slot = torch.arange(dst.numel()) - start[dst]  # (E,) the edge's place in its node's list
    index = torch.zeros(num_nodes, width, dtype=torch.long)
    valid = torch.zeros(num_nodes, width, dtype=torch.bool)
    weight = values.new_zeros(num_nodes, width, *values.shape[1:])
    index[dst, slot] = src
    valid[dst, slot] = True
    weight[dst, slot] = values
    return index, weight, valid


class GatheredProduct(nn.Module):
    """``A @ x`` for a fixed (N, N) matrix A given by its edges (A[i, j] = summed weight of edges j -> i).

    Args:
        edge_index: (2, E) (source j, target i). edge_weight: (E,). num_nodes: N.
        dense: keep A dense (True), as padded lists (False), or choose by the largest in-degree (None).

    Buffers (not saved in ``state_dict``: rebuilt from the graph): ``index`` (N, D) int64, ``weight`` (N, D) float,
    ``valid`` (N, D) bool for padded lists; ``matrix`` (N, N) when dense.

    Shapes: forward xt (N, F) node-major features -> (N, F).
    """

    index: Tensor  # buffers, declared for type checkers
    weight: Tensor
    valid: Tensor
    matrix: Tensor

    def __init__(self, edge_index: Tensor, edge_weight: Tensor, num_nodes: int, dense: bool | None = None):
        super().__init__()
        self.num_nodes = int(num_nodes)
        edge_weight = edge_weight.detach().float().cpu()
        edge_index = edge_index.detach().cpu()
        index, weight, valid = neighbour_lists(edge_index, edge_weight, self.num_nodes)
        self.dense = bool(index.shape[1] >= DENSE_FROM * self.num_nodes) if dense is None else dense
        if self.dense:
            a = edge_weight.new_zeros(self.num_nodes, self.num_nodes)
            a = a.index_put((edge_index[1], edge_index[0]), edge_weight, accumulate=True)
            self.register_buffer("matrix", a, persistent=False)
        else:
            self.register_buffer("index", index, persistent=False)
            self.register_buffer("weight", weight, persistent=False)
            self.register_buffer("valid", valid, persistent=False)

    @property
    def degree(self) -> int:
        """D: the padded lists' width (N for a dense matrix)."""
        return self.num_nodes if self.dense else int(self.index.shape[1])

    def forward(self, xt: Tensor) -> Tensor:
        if self.dense:
            return self.matrix @ xt  # (N, N) x (N, F)
        return torch.einsum("nd,ndf->nf", self.weight, xt[self.index])  # (N, D) x (N, D, F) -> (N, F)

    def extra_repr(self) -> str:
        return f"num_nodes={self.num_nodes}, " + ("dense" if self.dense else f"degree={self.degree}")


class EdgeLists(nn.Module):
    """Each node's incoming edges padded to D (``neighbour_lists``), with a row of values per edge: what a layer
    computes its edge weights from in an export (learned edges: the edge MLP's inputs), rather than storing the
    weights themselves, which can be many times larger (one per edge and channel pair). onnxruntime computes them
    once, when it loads the file: they depend on nothing but constants.

    Buffers: ``index`` (N, D) int64 source nodes, ``values`` (N, D, F) float, ``valid`` (N, D) bool.
    """

    index: Tensor  # buffers, declared for type checkers
    values: Tensor
    valid: Tensor

    def __init__(self, edge_index: Tensor, values: Tensor, num_nodes: int):
        super().__init__()
        index, padded, valid = neighbour_lists(edge_index.detach().cpu(), values.detach().float().cpu(), num_nodes)
        self.register_buffer("index", index, persistent=False)
        self.register_buffer("values", padded, persistent=False)
        self.register_buffer("valid", valid, persistent=False)

    def extra_repr(self) -> str:
        n, d = self.index.shape
        return f"num_nodes={n}, degree={d}, values={self.values.shape[-1]}"
