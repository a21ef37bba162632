"""Pixels-only baseline: no graph at all (about 91% on MNIST for a linear model)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch
from torch import nn

from core.models.base import Footprint, ImageModel, linear_footprint
from core.models.registry import MODELS
from core.models.spec import ModelSpec, SizeConfig


class MLP(ImageModel):
    """x (B, 1, H, W) -> flatten (B, H*W) -> [Linear -> ReLU] * layers -> dropout -> Linear."""

    def __init__(
        self, in_features: int = 784, hidden: int = 128, layers: int = 2, dropout: float = 0.1, num_classes: int = 10
    ):
        super().__init__()
        dims = [in_features] + [hidden] * layers
        blocks: list[nn.Module] = []
        for a, b in itertools.pairwise(dims):
            blocks += [nn.Linear(a, b), nn.ReLU()]
        self.body = nn.Sequential(nn.Flatten(), *blocks)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(dims[-1], num_classes))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)  # (B, hidden)


@dataclass
class MLPConfig(SizeConfig):
    """The MLP's settings: only its size."""


def width(cfg: SizeConfig) -> int:
    """The hidden width: four times the first layer's channel count of the graph nets (at least 64)."""
    return max(cfg.hidden, 16) * 4


def footprint(cfg: SizeConfig, graph=None, image_size: int = 28) -> Footprint:
    """What one step costs (see ``core.models.base.Footprint``): the linear layers of ``build_mlp``."""
    dims = [image_size * image_size] + [width(cfg)] * max(cfg.layers, 1) + [cfg.num_classes]
    total = Footprint(0)
    for a, b in itertools.pairwise(dims):
        total = total + linear_footprint(a, b)
    return total


def build_mlp(cfg: SizeConfig, graph=None, image_size: int = 28) -> MLP:
    return MLP(image_size * image_size, width(cfg), max(cfg.layers, 1), cfg.dropout, cfg.num_classes)


MODELS.add(
    ModelSpec(
        "mlp",
        "MLP (pixels only, no graph)",
        "a multilayer perceptron on the 784 pixels: the baseline without a graph",
        MLPConfig,
        build_mlp,
        footprint=footprint,
        pages=frozenset({"playground", "equivariance"}),
        family="pixels",
        training={"lr": 1e-3, "schedule": "constant"},
    )
)
