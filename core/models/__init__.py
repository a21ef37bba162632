"""Model registry: ``MODELS.get(name)(config, graph)`` builds a model. Importing this package registers all.

Each model module declares its spec (``core.models.spec.ModelSpec``: its config dataclass, its capabilities) and
registers it once. escnn itself is imported only when a steerable net is built (seconds).
May import ``graphs``, ``data`` and the base modules; never ``training`` or anything above.
"""

# imported for their registration (F401), in the order pages list them (I001: not sorted)
from core.models import mlp, cnn, graph_net, superpixel_net, tutorial_net, escnn_net  # noqa: F401,I001 - see above
from core.models.base import ImageModel
from core.models.registry import MODELS, NEEDS_FIXED_GRAPH, describe
from core.models.spec import SIZE, ModelSpec, Setting, SizeConfig, setting

__all__ = [
    "MODELS",
    "NEEDS_FIXED_GRAPH",
    "SIZE",
    "ImageModel",
    "ModelSpec",
    "Setting",
    "SizeConfig",
    "describe",
    "setting",
]
