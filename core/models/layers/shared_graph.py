"""The one pixel graph every image of a batch shares, with its normalised adjacencies cached."""

from __future__ import annotations

import warnings

import torch
from torch import Tensor, nn

from core.graphs.base import Graph
from core.graphs.normalize import normalize
from core.graphs.shape import GraphShape
from core.models.base import Footprint
from core.models.layers.gathered import GatheredProduct

DENSE_ABOVE = 0.1  # density (nnz / N^2) from which a dense matmul beats a sparse one


def use_sparse(nnz: int, num_nodes: int, device: torch.device, sparse: bool | None = None) -> bool:
    """Whether an adjacency with ``nnz`` entries should be sparse CSR on ``device``.

    ``sparse`` forces the choice; ``None`` decides by density. Devices other than CPU and CUDA
    (MPS, ...) always get dense matrices: their sparse kernels are missing or slow.
    """
    if device.type not in ("cpu", "cuda"):
        return False
    if sparse is not None:
        return sparse
    return nnz < DENSE_ABOVE * num_nodes * num_nodes


def product_footprint(shape: GraphShape, channels: int, times: int = 1) -> Footprint:
    """What ``times`` products of a graph of ``shape`` (self-loops included) with (N, ``channels``) features cost
    per image: edge gathers on a sparse adjacency, a dense (N, N) matmul where :func:`use_sparse` picks dense."""
    n, nnz = shape.nodes, shape.edges + shape.nodes
    if nnz < DENSE_ABOVE * n * n:
        return Footprint(0, gathers=2.0 * times * nnz * channels)
    return Footprint(0, fixed=float(n * n), flops=2.0 * times * n * n * channels)  # the dense (N, N) matrix


def build_adjacency(edge_index: Tensor, edge_weight: Tensor, num_nodes: int, sparse: bool) -> Tensor:
    """(N, N) matrix with A[i, j] = sum of the weights of edges j -> i, dense or sparse CSR.

    Differentiable in ``edge_weight`` either way (LearnedEdgeConv relies on it).
    """
    src, dst = edge_index  # (E,), (E,)
    if not sparse:
        a = edge_weight.new_zeros(num_nodes, num_nodes)
        return a.index_put((dst, src), edge_weight, accumulate=True)
    with warnings.catch_warnings():  # "sparse CSR support is in beta state"
        warnings.simplefilter("ignore", UserWarning)
        coo = torch.sparse_coo_tensor(
            torch.stack([dst, src]), edge_weight, (num_nodes, num_nodes), check_invariants=False
        )
        return coo.coalesce().to_sparse_csr()


class SharedGraph(nn.Module):
    r"""A fixed graph shared by the whole batch, holding the raw (un-normalised) edges as buffers.

    ``adj(norm)`` returns the (N, N) normalised adjacency :math:`\hat A` (see ``core.graphs.normalize``),
    sparse CSR when the graph is sparse (density < 10%) and dense otherwise, built once per norm and
    cached. The cache is dropped whenever the module is moved or cast (``.to``, ``.cuda``, ``.double``),
    so a model owning a ``SharedGraph`` can be moved freely.

    Args:
        graph: the raw graph (``edge_index[0]`` = source j, ``[1]`` = target i).
        sparse: force sparse (True) or dense (False) adjacencies; None picks by density.

    ``gather(norm)`` adds the gathered form of an adjacency (``core.models.layers.gathered``), which ``product(norm)``
    returns from then on: what an ONNX export traces, since sparse tensors cannot be exported.

    Buffers (not saved in ``state_dict``: the graph is rebuilt from its config):
        edge_index (2, E) int64, edge_weight (E,) float, pos (N, 2) float.
    """

    edge_index: Tensor  # buffers, declared for type checkers (register_buffer sets them)
    edge_weight: Tensor
    pos: Tensor

    def __init__(self, graph: Graph, sparse: bool | None = None):
        super().__init__()
        self.num_nodes = int(graph.num_nodes)
        self.kind = graph.kind
        self.sparse = sparse
        pos = graph.pos if graph.pos is not None else torch.zeros(self.num_nodes, 2)
        self.register_buffer("edge_index", graph.edge_index.long(), persistent=False)  # (2, E)
        self.register_buffer("edge_weight", graph.edge_weight.float(), persistent=False)  # (E,)
        self.register_buffer("pos", pos.float(), persistent=False)  # (N, 2)
        # CPU copy the normalisations are computed from (core.graphs.normalize works on CPU tensors)
        self._raw = Graph(self.edge_index.cpu(), self.edge_weight.cpu(), self.num_nodes, self.pos.cpu())
        self._cache: dict[tuple[str, str], object] = {}
        self.gathered = nn.ModuleDict()  # norm -> GatheredProduct, added by gather() (for an export)

    @property
    def num_edges(self) -> int:
        return int(self.edge_index.shape[1])

    def edges(self, norm: str = "none") -> tuple[Tensor, Tensor]:
        """Edge list of the normalised adjacency: edge_index (2, E'), edge_weight (E',).

        E' = E, or E + N minus existing loops for norms that add self-loops ("sum", "gcn").
        """
        key = ("edges", norm)
        if key not in self._cache:
            with torch.inference_mode(False), torch.no_grad():  # cache usable for training later
                g = normalize(self._raw, norm)
                dev = self.edge_index.device
                self._cache[key] = (g.edge_index.to(dev), g.edge_weight.to(self.edge_weight))
        return self._cache[key]  # type: ignore[return-value]

    def adj(self, norm: str = "none") -> Tensor:
        """(N, N) normalised adjacency, A[i, j] = weight of edge j -> i; sparse CSR or dense."""
        key = ("adj", norm)
        if key not in self._cache:
            edge_index, edge_weight = self.edges(norm)
            with torch.inference_mode(False), torch.no_grad():
                sparse = use_sparse(edge_weight.numel(), self.num_nodes, edge_weight.device, self.sparse)
                adj = build_adjacency(edge_index, edge_weight, self.num_nodes, sparse)
                if adj.layout == torch.sparse_csr:  # A^T for the backward pass, built once (see spmm)
                    flipped = edge_index.flip(0)
                    # an attribute on the tensor that propagate.spmm reads: torch's stubs declare no such attribute
                    transposed = build_adjacency(flipped, edge_weight, self.num_nodes, True)
                    adj.graphconv_transpose = transposed  # type: ignore[attr-defined]
                self._cache[key] = adj
        return self._cache[key]  # type: ignore[return-value]

    def gather(self, norm: str = "none", dense: bool | None = None) -> GatheredProduct:
        """The adjacency of ``norm`` as a :class:`GatheredProduct` (padded neighbour lists, or dense for a dense
        graph; ``dense`` forces the choice), kept in ``gathered`` so that ``product(norm)`` returns it."""
        if norm not in self.gathered:
            edge_index, edge_weight = self.edges(norm)
            self.gathered[norm] = GatheredProduct(edge_index, edge_weight, self.num_nodes, dense).to(self.pos.device)
        return self.gathered[norm]  # type: ignore[return-value]

    def product(self, norm: str = "none") -> Tensor | GatheredProduct:
        """What the layers multiply by: the gathered form of ``norm``'s adjacency once ``gather(norm)`` made it, else
        ``adj(norm)``. ``propagate`` takes either."""
        if norm in self.gathered:
            return self.gather(norm)
        return self.adj(norm)

    def clear_cache(self) -> None:
        self._cache.clear()

    def __getstate__(self) -> dict:  # deepcopy / pickle: sparse CSR tensors cannot be copied; rebuild
        return {**self.__dict__, "_cache": {}}

    def _apply(self, fn, *args, **kwargs):  # .to / .cuda / .double / ...: cached matrices are stale
        self.clear_cache()
        return super()._apply(fn, *args, **kwargs)

    def extra_repr(self) -> str:
        kind = f"{self.kind!r}, " if self.kind else ""
        return f"{kind}num_nodes={self.num_nodes}, num_edges={self.num_edges}"
