"""Parameter initialisers and a segment softmax, as in PyTorch Geometric, without importing it.

Importing ``torch_geometric`` costs about 150 MB of memory; the fixed-graph layers need only these
few lines, so the hosted demo stays small unless a superpixel model or KarateClub is used. The
functions draw from the global RNG exactly as PyG's do (same calls, same order), so a seed gives the
same weights as PyG's ``glorot`` / ``zeros`` / ``reset``; tests check the equivalence.
"""

from __future__ import annotations

import math
from typing import Any

from torch import Tensor


def glorot(value: Any) -> None:
    """Uniform in ±sqrt(6 / (fan_in + fan_out)) over the last two dims (``torch_geometric.nn.inits.glorot``)."""
    if isinstance(value, Tensor):
        stdv = math.sqrt(6.0 / (value.size(-2) + value.size(-1)))
        value.data.uniform_(-stdv, stdv)
    else:
        for v in value.parameters() if hasattr(value, "parameters") else []:
            glorot(v)
        for v in value.buffers() if hasattr(value, "buffers") else []:
            glorot(v)


def zeros(value: Tensor | None) -> None:
    if value is not None:
        value.data.fill_(0)


def reset(value: Any) -> None:
    """Call ``reset_parameters`` on a module, or recursively on its children (``torch_geometric.nn.inits.reset``)."""
    if hasattr(value, "reset_parameters"):
        value.reset_parameters()
    else:
        for child in value.children() if hasattr(value, "children") else []:
            reset(child)


def segment_softmax(src: Tensor, index: Tensor, num_nodes: int) -> Tensor:
    """Softmax of ``src`` (E, ...) over the entries that share a target ``index`` (E,) -> (E, ...).

    ``out[e] = exp(src[e] - max_g) / sum_{e' in g} exp(src[e'] - max_g)`` for the group g = index[e]
    (``torch_geometric.utils.softmax`` along dim 0).
    """
    shape = (num_nodes, *src.shape[1:])
    idx = index.view(-1, *([1] * (src.dim() - 1))).expand_as(src)  # (E, ...)
    src_max = src.new_full(shape, float("-inf")).scatter_reduce(0, idx, src.detach(), "amax", include_self=True)
    out = (src - src_max.gather(0, idx)).exp()  # (E, ...)
    out_sum = out.new_zeros(shape).scatter_add(0, idx, out) + 1e-16  # (N, ...)
    return out / out_sum.gather(0, idx)
