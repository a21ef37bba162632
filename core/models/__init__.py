"""Model registry: ``MODELS.get(name)(cfg, graph)`` builds a model. Importing this package registers all.

escnn is registered lazily: importing it takes seconds, so it is loaded on first use only.
May import ``graphs``, ``data`` and the base modules; never ``training`` or anything above.
"""

from core.models import cnn, graph_net, mlp, superpixel_net, tutorial_net  # noqa: F401  (registration)
from core.models.base import ImageModel, ModelConfig
from core.models.registry import MODELS, NEEDS_FIXED_GRAPH

MODELS.register_lazy("escnn", "core.models.escnn_net")

__all__ = ["MODELS", "NEEDS_FIXED_GRAPH", "ImageModel", "ModelConfig"]
