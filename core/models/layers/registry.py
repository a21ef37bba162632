"""LAYERS maps a name to a shared-graph layer class: ``LAYERS.get(name)(in_channels, out_channels, **kw)``.

Every class takes ``forward(x (B, N, C_in), graph: SharedGraph) -> (B, N, C_out)`` and ignores keyword
arguments meant for other layers (``K``, ``heads``, ...), so a model builder can pass one set of options.
"""

from core.models.layers.cheb_conv import ChebConv
from core.models.layers.gat_conv import GATConv
from core.models.layers.gcn_conv import GCNConv
from core.models.layers.gin_conv import GINConv
from core.models.layers.learned_conv import LearnedEdgeConv
from core.models.layers.sage_conv import SAGEConv
from core.registry import Registry

LAYERS: Registry = Registry("layer")
for _name, _cls in {
    "gcn": GCNConv,
    "cheb": ChebConv,
    "sage": SAGEConv,
    "gin": GINConv,
    "gat": GATConv,
    "learned": LearnedEdgeConv,
}.items():
    LAYERS.register(_name)(_cls)
