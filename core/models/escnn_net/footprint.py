"""What one training step of the steerable net costs, from its config alone: escnn is not imported and no net is
built (a wide net's initialisation alone can take minutes), so a page can refuse an oversized net at once.

An ``R2Conv`` between regular fields of a group of order |G| has about ``C_in C_out k^2 / |G|`` parameters (the
steerable basis is |G| times smaller than a plain convolution's weights), but every training step expands
them into the full ``(C_out, C_in, k, k)`` filter and keeps it, and its gradient, for the backward pass: that
expanded filter, not the parameters, is what makes a wide D16 net need gigabytes.
"""

from __future__ import annotations

from core.models.base import Footprint, linear_footprint
from core.models.escnn_net.groups import parse_group, parse_schedule
from core.models.escnn_net.sizes import (
    CLASSIFIER_HIDDEN,
    MAX_LAYERS,
    MIN_LAYERS,
    SO2_GRID,
    field_size,
    fields_per_block,
)

ACTIVATION_SHARE = 1.8  # escnn's modules keep ~2x the feature maps a plain CNN keeps (measured workers: C8, D4)
SETUP_S = 1.2  # building the steerable bases of an architecture in a fresh worker (measured: C8, D4 about 1.1 s)
BASIS_SHARE = 0.47  # parameters / (C_in C_out k^2 / |G|), measured on built nets: C8 0.45, D16 0.44, SO2 0.49, C4 0.62


def footprint(cfg, graph=None, image_size: int = 28) -> Footprint:
    """What one step of ``EscnnNet`` costs (``core.models.base.Footprint``); see the module docstring."""
    layers = max(MIN_LAYERS, min(int(cfg.layers), MAX_LAYERS))
    schedule = parse_schedule(cfg.group, layers)
    size = image_size + 1 - image_size % 2
    total, c_in = Footprint(0), 1
    for i, (fields, group) in enumerate(
        zip(fields_per_block(",".join(schedule), cfg.hidden, layers), schedule, strict=True)
    ):
        kind, _ = parse_group(group)
        k, width = (7 if i == 0 else 5), field_size(group)
        c_out, pixels = fields * width, size * size
        expanded = c_in * c_out * k * k
        samples = c_out * SO2_GRID / width if kind == "SO2" else c_out  # the Fourier nonlinearity's group samples
        total = total + Footprint(
            int(BASIS_SHARE * expanded / width) + 2 * fields,
            activations=ACTIVATION_SHARE * pixels * (c_in + 2 * c_out + samples),
            fixed=2.0 * expanded,
            flops=2.0 * expanded * pixels,
        )
        if i < 2:
            size = (size + 1) // 2
            total = total + Footprint(0, activations=size * size * c_out)
        c_in, last_fields = c_out, fields
    features = 4 * last_fields  # ring pooling: 4 rings of each invariant map
    return (
        total
        + Footprint(2 * features, activations=2.0 * features, setup_s=SETUP_S)
        + linear_footprint(features, CLASSIFIER_HIDDEN)
        + linear_footprint(CLASSIFIER_HIDDEN, cfg.num_classes)
    )
