"""The cached-transpose CSR backward gives the same gradients as the dense product."""

import torch

from core.graphs import build_graph
from core.models.layers.propagate import propagate
from core.models.layers.shared_graph import SharedGraph


def test_csr_backward_with_cached_transpose_matches_dense_on_asymmetric_adjacency():
    graph = build_graph("knn", size=6, k=3)
    sparse, dense = SharedGraph(graph, sparse=True), SharedGraph(graph, sparse=False)
    a_sparse, a_dense = sparse.adj("rw"), dense.adj("rw")  # D^-1 A: not symmetric
    assert hasattr(a_sparse, "graphconv_transpose")
    assert not torch.allclose(a_dense, a_dense.T)
    x1 = torch.randn(3, graph.num_nodes, 4, requires_grad=True)
    x2 = x1.detach().clone().requires_grad_(True)
    w = torch.randn(3, graph.num_nodes, 4)
    (propagate(a_sparse, x1) * w).sum().backward()
    (propagate(a_dense, x2) * w).sum().backward()
    assert torch.allclose(x1.grad, x2.grad, atol=1e-6)
    assert torch.allclose(propagate(a_sparse, x1), propagate(a_dense, x2), atol=1e-6)
