"""MODELS maps a name to ``factory(cfg: ModelConfig, graph: Graph | None) -> nn.Module``."""

from core.registry import Registry

MODELS: Registry = Registry("model")
# True for models that take a fixed pixel graph built by a graph builder.
NEEDS_FIXED_GRAPH: set[str] = set()
