"""LeNet-5 style CNN baseline: C32-P-C64-P-FC512 (Defferrard et al. 2016's classical CNN)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from core.models.base import Footprint, ImageModel, linear_footprint
from core.models.registry import MODELS
from core.models.spec import ModelSpec, SizeConfig


class CNN(ImageModel):
    """x (B, 1, H, W) -> [Conv5x5 -> ReLU -> MaxPool2] * layers -> FC(fc) -> dropout -> Linear.

    Channels start at ``hidden`` and double after each pooling (32, 64 by default), as in LeNet-5.
    """

    def __init__(
        self,
        hidden: int = 32,
        layers: int = 2,
        fc: int = 512,
        dropout: float = 0.1,
        num_classes: int = 10,
        image_size: int = 28,
    ):
        super().__init__()
        blocks: list[nn.Module] = []
        c_in, size = 1, image_size
        for i in range(layers):
            c_out = hidden * 2**i
            blocks += [nn.Conv2d(c_in, c_out, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2)]
            c_in, size = c_out, size // 2
        self.conv = nn.Sequential(*blocks)
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(c_in * size * size, fc), nn.ReLU())
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(fc, num_classes))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.conv(x))  # (B, fc)

    def maps(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Logits and each convolution's output after its ReLU, (B, C_l, h_l, w_l) (28, 14, 7 pixels a side)."""
        found, h = [], x
        for layer in self.conv:
            h = layer(h)
            if isinstance(layer, nn.ReLU):
                found.append(h)
        return self.classifier(self.fc(h)), found


@dataclass
class CNNConfig(SizeConfig):
    """The CNN's settings: only its size (at most 3 convolutions: 28 -> 14 -> 7 -> 3 pixels)."""


FC = 512  # the fully connected layer before the classifier (Defferrard et al.'s FC512)


def conv_layers(cfg: SizeConfig) -> int:
    return max(1, min(cfg.layers, 3))


def footprint(cfg: SizeConfig, graph=None, image_size: int = 28) -> Footprint:
    """What one step costs (see ``core.models.base.Footprint``): 5x5 convolutions, ReLU, pooling, FC, classifier."""
    total, c_in, size = Footprint(0), 1, image_size
    for i in range(conv_layers(cfg)):
        c_out, pixels = cfg.hidden * 2**i, size * size
        total = total + Footprint(
            25 * c_in * c_out + c_out,
            activations=pixels * (c_in + 2.25 * c_out),
            flops=2.0 * 25 * c_in * c_out * pixels,
        )
        c_in, size = c_out, size // 2
    return total + linear_footprint(c_in * size * size, FC) + linear_footprint(FC, cfg.num_classes)


def build_cnn(cfg: SizeConfig, graph=None, image_size: int = 28) -> CNN:
    return CNN(cfg.hidden, conv_layers(cfg), FC, cfg.dropout, cfg.num_classes, image_size)


MODELS.add(
    ModelSpec(
        "cnn",
        "CNN (LeNet-5 style)",
        "C32-P-C64-P-FC512 on the pixel grid: the convolution the graph nets generalise",
        CNNConfig,
        build_cnn,
        footprint=footprint,
        pages=frozenset({"playground", "equivariance"}),
        family="cnn",
        training={"lr": 1e-3, "schedule": "constant"},
    )
)
