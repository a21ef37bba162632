"""A model added as a new one would be: this one file, its spec with a setting of its own (``hops``) and its
registration (``register()``; tests/core/models/test_adding_a_model.py finds it everywhere a model appears)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from core.models import MODELS, ImageModel, ModelSpec, SizeConfig, setting
from core.models.base import Footprint, linear_footprint


@dataclass
class HopConfig(SizeConfig):
    hops: int = setting(
        2, "Hops", lo=1, hi=6, help="How many times each pixel averages its 4 neighbours.", sweep="1, 2, 3"
    )


class HopNet(ImageModel):
    """x (B, 1, H, W) -> ``hops`` 3x3 box blurs -> flatten -> Linear: a graph layer on the grid, ``hops`` times."""

    def __init__(self, cfg: HopConfig, image_size: int = 28):
        super().__init__()
        self.hops = cfg.hops
        self.classifier = nn.Linear(image_size * image_size, cfg.num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        for _ in range(self.hops):
            x = nn.functional.avg_pool2d(x, 3, stride=1, padding=1)
        return x.flatten(1)


def footprint(cfg: HopConfig, graph=None, image_size: int = 28) -> Footprint:
    pixels = image_size * image_size
    return linear_footprint(pixels, cfg.num_classes) + Footprint(
        0, activations=cfg.hops * pixels, flops=9.0 * cfg.hops * pixels
    )


def build_hop(cfg: HopConfig, graph=None, image_size: int = 28) -> HopNet:
    return HopNet(cfg, image_size)


SPEC = ModelSpec(
    "hop",
    "Hop net (added by a test)",
    "blurs each pixel over its neighbours, hops times",
    HopConfig,
    build_hop,
    footprint=footprint,
    pages=frozenset({"playground"}),
    describe=lambda c: f", {c.hops} hops",
)


def register() -> None:
    MODELS.add(SPEC)
