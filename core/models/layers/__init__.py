"""Fixed-graph layers: one graph shared by every image in the batch.

A ``SharedGraph`` holds the raw edges and caches each normalised (N, N) adjacency (sparse CSR or dense,
``A[i, j]`` = weight of edge j -> i). Each layer maps node features ``x`` (B, N, C_in) and the graph to
(B, N, C_out); propagation is a single matrix product with the features reshaped to (N, B*C)
(see ``propagate``). ``LAYERS`` (in ``registry``) maps "gcn", "cheb", "sage", "gin", "gat", "learned"
to the classes.
"""

from core.models.layers.cheb_conv import ChebConv
from core.models.layers.gat_conv import GATConv
from core.models.layers.gcn_conv import GCNConv
from core.models.layers.gin_conv import GINConv
from core.models.layers.learned_conv import LearnedEdgeConv
from core.models.layers.propagate import propagate, propagate_linear
from core.models.layers.sage_conv import SAGEConv
from core.models.layers.shared_graph import SharedGraph

__all__ = [
    "ChebConv",
    "GATConv",
    "GCNConv",
    "GINConv",
    "LearnedEdgeConv",
    "SAGEConv",
    "SharedGraph",
    "propagate",
    "propagate_linear",
]
