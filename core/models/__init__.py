"""Model registry: ``MODELS.get(name)(cfg, graph)`` builds a model. Importing this package registers all.

escnn is registered lazily: importing it takes seconds, so it is loaded on first use only.
May import ``graphs``, ``data`` and the base modules; never ``training`` or anything above.
"""

from core.models import mlp, cnn, graph_net, superpixel_net, tutorial_net  # noqa: F401,I001  (registration, in the order pages list them)
from core.models.base import ImageModel, ModelConfig
from core.models.settings import SIZE
from core.models.registry import MODELS, NEEDS_FIXED_GRAPH
from core.models.escnn_net.footprint import footprint as escnn_footprint

MODELS.register_lazy("escnn", "core.models.escnn_net", "Steerable CNN (escnn, rotation-equivariant)",
                     "group-equivariant convolutions: rotating the digit permutes the features", settings=SIZE,
                     footprint=escnn_footprint)

__all__ = ["MODELS", "NEEDS_FIXED_GRAPH", "ImageModel", "ModelConfig"]
