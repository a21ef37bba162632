"""Layers named as people say them: "conv 1", "graph conv 2", "pool 1", "steerable conv 1", not "conv.3" or
"block0.4 (PointwiseAvgPoolAntialiased2D)".

``layer_names(model)`` maps each named submodule's path to its name, numbering each kind in forward (registration)
order. Every page that lists a model's layers (Playground's "Inside the network", Equivariance's per-layer errors,
One node) names them through here, so they agree with each other.
"""

from __future__ import annotations

from torch import nn

# (class-name fragment, what a person calls it); the first match wins, so specific fragments come first.
KINDS: tuple[tuple[str, str], ...] = (
    ("R2Conv", "steerable conv"),
    ("MaskModule", "round mask"),
    ("GroupPooling", "group pool"),
    ("RingPool", "ring pool"),
    ("ResampleOdd", "resample"),
    ("Restriction", "restriction"),
    ("FourierPointwise", "Fourier ReLU"),
    ("NormPool", "norm pool"),
    ("Pool", "pool"),  # MaxPool2d, AvgPool2d, PointwiseAvgPoolAntialiased2D, PointwiseMaxPool2D...
    ("BatchNorm", "batch norm"),  # BatchNorm2d, InnerBatchNorm, IIDBatchNorm2d
    ("LayerNorm", "layer norm"),
    ("Conv2d", "conv"),
    ("Conv", "graph conv"),  # the project's graph layers (ChebConv, GCNConv, ...) and PyG's
    ("ReLU", "ReLU"),
    ("ELU", "ELU"),
    ("Dropout", "dropout"),
    ("Linear", "dense"),
    ("Flatten", "flatten"),
)
UNNUMBERED = {"group pool", "ring pool", "resample", "flatten"}  # one of each per net


def kind_of(module: nn.Module) -> str | None:
    """What a person calls ``module``'s kind ("graph conv", "pool"), or None for a container or helper."""
    name = type(module).__name__
    return next((said for fragment, said in KINDS if fragment in name), None)


def layer_names(model: nn.Module) -> dict[str, str]:
    """``{module path: readable name}`` for every submodule of a known kind, numbered per kind in forward order.

    A layer's own parts (a ChebConv's linear maps, an R2Conv's basis expansion) are not listed: the first module of
    a known kind on a path names everything under it."""
    names: dict[str, str] = {}
    counts: dict[str, int] = {}
    covered: list[str] = []
    for path, module in model.named_modules():
        if not path or any(path.startswith(p + ".") for p in covered):
            continue
        said = kind_of(module)
        if said is None:
            continue
        covered.append(path)
        counts[said] = counts.get(said, 0) + 1
        names[path] = said if said in UNNUMBERED else f"{said} {counts[said]}"
    return names
