"""Fixed-graph layers: one adjacency shared by every image in the batch.

Each layer takes node features ``x`` of shape (B, N, C) and returns (B, N, C_out); the adjacency
(dense or sparse CSR, (N, N), ``A[i, j]`` = weight of edge j -> i) is given at construction time via
``set_graph`` so propagation is a single matrix product with the features reshaped to (N, B*C).
"""
