"""What every model shares: its config and the image-model interface the trainer relies on."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


class ImageModel(nn.Module):
    """An image classifier: ``forward`` maps (B, 1, H, W) in [0, 1] to logits (B, num_classes).

    ``features`` returns the penultimate representation (B, D) used for embeddings;
    ``forward(x) == classifier(features(x))``.
    """

    classifier: nn.Module

    def features(self, x: torch.Tensor) -> torch.Tensor:  # (B, 1, H, W) -> (B, D)
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, 1, H, W) -> (B, num_classes)
        return self.classifier(self.features(x))

    def maps(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The logits (B, num_classes) and, in the same pass, each spatial layer's output as images
        (B, C_l, h_l, w_l): what the Playground draws of a layer. None here (a model without spatial layers);
        a model with such layers says which (the CNN's convolutions, a graph net's node features...)."""
        return self(x), []

    def prepare_export(self) -> None:
        """Put the model, in place, in the form an ONNX export traces, with the same numbers: graph products
        gathered (``core.models.layers.gathered``: no sparse products, no scatters), a steerable net's filters kept as
        basis coefficients (a file many times smaller). For inference only (learned edges freeze); a model without
        such parts has nothing to do."""

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad)


@dataclass(frozen=True)
class Footprint:
    """What one training step of a model costs, estimated from its config without building it.

    Each registered model declares a function ``(its config, GraphSpec or None) -> Footprint`` beside its
    class (``ModelSpec(..., footprint=...)``); ``core.training.cost`` turns it into seconds and bytes.
    """

    params: int  # trainable parameters
    activations: float = 0.0  # floats per image the forward pass keeps for the backward pass
    fixed: float = 0.0  # floats per step whatever the batch size (escnn's expanded filters, per-edge weights)
    flops: float = 0.0  # floating-point operations per image, forward, in dense products (matmuls, convolutions)
    gathers: float = 0.0  # elements per image moved by edge-wise gathers and scatters, forward
    setup_s: float = 0.0  # seconds of building before the first batch beyond the usual (escnn's steerable bases)

    def __add__(self, other: Footprint) -> Footprint:
        return Footprint(
            self.params + other.params,
            self.activations + other.activations,
            self.fixed + other.fixed,
            self.flops + other.flops,
            self.gathers + other.gathers,
            self.setup_s + other.setup_s,
        )


def linear_footprint(n_in: int, n_out: int, positions: int = 1, bias: bool = True) -> Footprint:
    """A linear map ``n_in -> n_out`` applied at ``positions`` places per image (nodes, pixels; 1 for a head)."""
    return Footprint(
        n_in * n_out + (n_out if bias else 0),
        activations=positions * (n_in + n_out),
        flops=2.0 * positions * n_in * n_out,
    )
