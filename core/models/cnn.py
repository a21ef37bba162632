"""LeNet-5 style CNN baseline: C32-P-C64-P-FC512 (Defferrard et al. 2016's classical CNN)."""

from __future__ import annotations

import torch
from torch import nn

from core.models.base import ImageModel, ModelConfig
from core.models.settings import SIZE
from core.models.registry import MODELS


class CNN(ImageModel):
    """x (B, 1, H, W) -> [Conv5x5 -> ReLU -> MaxPool2] * layers -> FC(fc) -> dropout -> Linear.

    Channels start at ``hidden`` and double after each pooling (32, 64 by default), as in LeNet-5.
    """

    def __init__(self, hidden: int = 32, layers: int = 2, fc: int = 512, dropout: float = 0.1,
                 num_classes: int = 10, image_size: int = 28):
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


@MODELS.register("cnn", "CNN (LeNet-5 style)", "C32-P-C64-P-FC512 on the pixel grid: the convolution the graph nets generalise", settings=SIZE)
def build_cnn(cfg: ModelConfig, graph=None, image_size: int = 28) -> CNN:
    return CNN(cfg.hidden, max(1, min(cfg.layers, 3)), 512, cfg.dropout, cfg.num_classes, image_size)
